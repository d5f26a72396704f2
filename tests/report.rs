//! `walletwatch report` and the demo's report: self-contained, escaped, with ratings.

mod util;

use util::{Dir, repo};

#[test]
fn report_is_self_contained_escapes_scraped_text_and_shows_ratings() {
    let dir = Dir::new();
    let mut lines = vec![serde_json::json!({
        "id": "x1", "date": "2024-03-01", "provider": "支付宝",
        "title": "<b>被骗</b>", "text": "对方自称客服，让我打开链接 <script>alert(1)</script> 然后转走了余额宝里的2000元，这是诈骗。"
    })
    .to_string()];
    for i in 0..14 {
        lines.push(
            serde_json::json!({
                "id": format!("p{i}"), "date": format!("2024-03-{:02}", i + 2), "provider": "PayPal",
                "text": format!("My PayPal transfer number {i} failed and the money never arrived; support did not answer for {i} days.")
            })
            .to_string(),
        );
    }
    let data = dir.write("posts.ndjson", lines.join("\n") + "\n");
    let map = dir.write("posts.toml", util::POSTS_MAPPING);
    dir.ingest_export(&data, &map);
    dir.ok(&["-q", "classify"]);
    dir.ok(&["-q", "detect"]);
    let out = dir.ok(&["report", "-o", "rep"]);
    assert!(out.contains("index.html"), "{out}");
    let html = std::fs::read_to_string(dir.path().join("rep/index.html")).expect("index.html");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "script not escaped"
    );
    assert!(!html.contains("<script"), "a script element in the report");
    assert!(
        !html.contains("<b>被骗"),
        "markup from the data in the report"
    );
    for external in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(external), "external reference {external}");
    }
    assert!(
        html.contains("id=\"ratings\"") && html.contains("PayPal"),
        "ratings table missing"
    );
    let ratings = std::fs::read_to_string(dir.path().join("rep/ratings.csv")).expect("ratings.csv");
    assert!(
        ratings.starts_with("provider,name,grade,score"),
        "{ratings}"
    );
    assert!(
        std::fs::read_to_string(dir.path().join("rep/summary.md"))
            .expect("summary")
            .contains("## Ratings")
    );
}

#[test]
fn demo_writes_the_whole_report_offline() {
    let dir = Dir::new();
    let out = dir.ok_without_store(&["demo", "--out", "demo"]);
    assert!(out.contains("report:"), "{out}");
    // The demo clears its own store on every run, so it will not take one named with
    // --store (which might be a real one): bad usage, and nothing is touched.
    let err = dir.fails(&["demo", "--out", "demo2"], 2);
    assert!(
        err.contains("`demo` keeps its own store") && err.contains("--out"),
        "{err}"
    );
    assert!(!dir.path().join("demo2").exists() && !dir.store().exists());
    let html =
        std::fs::read_to_string(dir.path().join("demo/index.html")).expect("demo index.html");
    assert!(html.contains("id=\"campaigns\"") && html.contains("id=\"ratings\""));
    assert!(
        html.contains("支付宝") || html.contains("Alipay"),
        "Chinese provider missing from the demo report"
    );
    assert!(dir.path().join("demo/detect/campaigns.csv").exists());
    for name in [
        "categories_monthly",
        "providers_monthly",
        "fraud_share",
        "spikes",
        "ratings",
    ] {
        let png = dir.path().join(format!("demo/charts/{name}.png"));
        let decoder = png::Decoder::new(std::fs::File::open(&png).expect("png written"));
        let mut reader = decoder.read_info().expect("a PNG");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("frame");
        assert_eq!((info.width, info.height), (960, 540), "{name}");
        let px = info.color_type.samples();
        let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
        let inked = pixels.iter().filter(|p| p[..3] != [255, 255, 255]).count();
        let colours: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
        assert!(
            inked * 50 > pixels.len(),
            "{name}: almost blank ({inked} inked pixels)"
        );
        assert!(colours.len() > 8, "{name}: {} colours", colours.len());
        let svg = std::fs::read_to_string(dir.path().join(format!("demo/charts/{name}.svg")))
            .expect("svg written");
        assert!(svg.contains("<text"), "{name}: no text in the SVG");
        assert!(
            html.contains(&format!("id=\"chart-{name}\"")),
            "{name} not in the report"
        );
    }
    let providers =
        std::fs::read_to_string(dir.path().join("demo/charts/providers_monthly.svg")).expect("svg");
    assert!(
        providers.contains("支付宝"),
        "no Chinese provider name in the provider chart"
    );
    assert!(
        html.contains("@font-face") && html.contains("font/ttf;base64,"),
        "CJK font not embedded"
    );
    assert!(
        repo("reports/example/index.html").exists(),
        "the committed example report is missing"
    );
}

#[test]
fn run_does_every_stage_from_the_example_config_and_resumes() {
    let dir = Dir::new();
    let example =
        std::fs::read_to_string(repo("walletwatch.example.toml")).expect("example config");
    let data = repo("data");
    let cfg = example
        .replace("store = \"data/store\"", "store = \"store\"")
        .replace("compression = \"none\"", "compression = \"zstd\"")
        .replace("\"data/", &format!("\"{}/", data.display()));
    let path = dir.write("batch.toml", cfg);
    let first = dir.ok_without_store(&["-q", "run", "--config", path.to_str().unwrap()]);
    assert!(
        first.contains("read 300 = stored 300 + duplicates 0 + quarantined 0"),
        "{first}"
    );
    assert!(
        first.contains("detect:") && first.contains("report:"),
        "{first}"
    );
    assert_eq!(dir.part_codecs(), "ZSTD", "the config's compression");
    assert!(dir.path().join("reports/batch/index.html").exists());
    assert!(
        dir.path()
            .join("reports/batch/detect/campaigns.csv")
            .exists()
    );
    let again = dir.ok_without_store(&["-q", "run", "--config", path.to_str().unwrap()]);
    assert!(
        again.contains("read 300 = stored 0 + duplicates 300 + quarantined 0"),
        "{again}"
    );
    assert!(
        again.contains("classified 0 + already classified 320"),
        "{again}"
    );

    let bad = dir.write(
        "bad.toml",
        "[[source]]\nkind = \"forum\"\npath = \"x\"\n[report]\nout = \"r\"\n",
    );
    let err = dir.fails_without_store(&["run", "--config", bad.to_str().unwrap()], 1);
    assert!(err.contains("bad.toml") && err.contains("forum"), "{err}");
    let codec = dir.write(
        "codec.toml",
        "compression = \"brotli\"\n[report]\nout = \"r\"\n",
    );
    let err = dir.fails_without_store(&["run", "--config", codec.to_str().unwrap()], 1);
    assert!(
        err.contains("codec.toml") && err.contains("\"brotli\" is not one of none, lz4, zstd"),
        "{err}"
    );
    // A mistake in the last source is found before the first is ingested: nothing runs,
    // no store is made. Without [report], the report goes to reports/latest.
    let sample = data.join("sample/cfpb_sample.csv");
    let late = |second: &str| {
        format!(
            "store = \"late\"\n[[source]]\nkind = \"cfpb\"\npath = \"{}\"\n[[source]]\n{second}",
            sample.display()
        )
    };
    for (second, want) in [
        (
            "kind = \"export\"\npath = \"x.csv\"\n",
            "source 2: kind \"export\" needs `mapping`",
        ),
        (
            "kind = \"cfpb\"\npath = \"gone.csv\"\n",
            "gone.csv: no such file",
        ),
        (
            "kind = \"export\"\npath = \"x.csv\"\nmapping = \"none.toml\"\n",
            "none.toml: cannot open",
        ),
        (
            &format!(
                "kind = \"cfpb\"\npath = \"{}\"\nproducts = [\" \"]\n",
                sample.display()
            ),
            "source 2: products: an empty product pattern would keep every row",
        ),
        (
            &format!(
                "kind = \"export\"\npath = \"{}\"\nmapping = \"{}\"\nproducts = [\"wallet\"]\n",
                data.join("sample/zh_complaints.ndjson").display(),
                data.join("sample/zh_complaints.toml").display()
            ),
            "source 2: products: the product scope has nothing to match",
        ),
    ] {
        let late_cfg = dir.write("late.toml", late(second));
        let err = dir.fails_without_store(&["run", "--config", late_cfg.to_str().unwrap()], 1);
        assert!(err.contains("late.toml") && err.contains(want), "{err}");
        assert!(!dir.path().join("late").exists(), "{err}");
    }
    // So are rating settings that cannot mean anything.
    let rating = std::fs::read_to_string(data.join("rating.toml")).expect("rating.toml");
    dir.write("rating.toml", rating.replace("fraud = 3.0", "fraud = -3.0"));
    let bad_rating = dir.write(
        "late.toml",
        format!(
            "store = \"late\"\n[[source]]\nkind = \"cfpb\"\npath = \"{}\"\n[score]\nconfig = \"rating.toml\"\n",
            sample.display()
        ),
    );
    let err = dir.fails_without_store(&["run", "--config", bad_rating.to_str().unwrap()], 1);
    assert!(
        err.contains("[severity] fraud must be a positive weight"),
        "{err}"
    );
    assert!(!dir.path().join("late").exists(), "{err}");
    let no_report = dir.write(
        "one.toml",
        format!(
            "store = \"late\"\n[[source]]\nkind = \"cfpb\"\npath = \"{}\"\nproducts = [\"money transfer\"]\n",
            sample.display()
        ),
    );
    // `products` is `ingest --product`: the sample's 100 card and bank complaints are
    // counted, not stored.
    let out = dir.ok_without_store(&["run", "--config", no_report.to_str().unwrap()]);
    assert!(
        out.contains("read 300 = stored 200 + duplicates 0 + quarantined 0 + out of scope 100"),
        "{out}"
    );
    assert!(dir.path().join("reports/latest/index.html").exists());
    assert!(dir.path().join("late/raw").is_dir(), "the config's store");
    // --store on the command line wins over the config's store.
    let other = dir.path().join("other");
    let out = dir.ok_without_store(&[
        "--store",
        other.to_str().unwrap(),
        "run",
        "--config",
        no_report.to_str().unwrap(),
    ]);
    assert!(
        out.contains(&format!("store: {}", other.display()))
            && out.contains("read 300 = stored 200 + duplicates 0"),
        "{out}"
    );
    assert!(other.join("raw").is_dir());
}
