//! Ingest as a user runs it: real CFPB and 黑猫投诉 files from ../shared/data, the
//! reconciliation line, idempotence, quarantine, encodings, bad files, crash and resume.

mod util;

use std::process::Stdio;
use std::time::Duration;

use util::{Dir, read_csv, reconciliation, repo, shared};

fn cfpb_csv() -> String {
    shared("cfpb/complaints_sample_3000.csv")
        .display()
        .to_string()
}

#[test]
fn cfpb_csv_then_again_then_json_form_stores_each_complaint_once() {
    let d = Dir::new();
    let out = d.ok(&["ingest", "cfpb", &cfpb_csv()]);
    assert!(
        out.contains("read 3000 = stored 3000 + duplicates 0 + quarantined 0"),
        "{out}"
    );
    let again = d.ok(&["ingest", "cfpb", &cfpb_csv()]);
    assert_eq!(reconciliation(&again), (3000, 0, 3000, 0));
    let json = d.ok(&[
        "ingest",
        "cfpb",
        &shared("cfpb/complaints_sample_3000_api.jsonl.gz")
            .display()
            .to_string(),
    ]);
    assert_eq!(
        reconciliation(&json),
        (3000, 0, 3000, 0),
        "same complaint ids in the JSON API form"
    );
}

#[test]
fn json_api_form_alone_stores_all_with_labels_and_dates() {
    let d = Dir::new();
    let out = d.ok(&[
        "ingest",
        "cfpb",
        &shared("cfpb/complaints_sample_3000_api.jsonl.gz")
            .display()
            .to_string(),
    ]);
    assert_eq!(reconciliation(&out), (3000, 3000, 0, 0));
    let csv = d.ok(&["export", "--format", "csv", "--source", "cfpb"]);
    let (h, rows) = util::read_csv(&csv);
    let at = |name: &str| h.iter().position(|c| c == name).expect(name);
    let r = rows
        .iter()
        .find(|r| r[at("source_id")] == "4041896")
        .expect("complaint 4041896");
    assert_eq!(r[at("received_at")], "2021-01-01");
    assert_eq!(r[at("issue")], "Trouble using the card");
    assert_eq!(r[at("company_response")], "Closed with monetary relief");
    assert_eq!(r[at("timely")], "Yes");
    assert_eq!(r[at("lang")], "en");
}

#[test]
fn cfpb_json_download_named_json_ingests_resumes_and_normalises() {
    // CFPB's own "Download JSON" is one array in complaints.json. Until 2026-12-03 its raw
    // copy took the name of its manifest and every `.json` input failed.
    let gz = std::fs::File::open(shared("cfpb/complaints_sample_3000_api.jsonl.gz")).expect("gz");
    let mut lines = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(gz), &mut lines)
        .expect("gunzip");
    let records: Vec<&str> = lines.lines().take(200).collect();
    let d = Dir::new();
    let f = d.write(
        "complaints.json",
        format!("[\n{}\n]\n", records.join(",\n")),
    );
    let path = f.display().to_string();
    assert_eq!(
        reconciliation(&d.ok(&["ingest", "cfpb", &path])),
        (200, 200, 0, 0)
    );
    assert_eq!(
        reconciliation(&d.ok(&["ingest", "cfpb", &path])),
        (200, 0, 200, 0)
    );
    assert_eq!(reconciliation(&d.ok(&["normalise"])), (200, 200, 0, 0));
    let csv = d.ok(&["export", "--format", "csv"]);
    assert_eq!(util::read_csv(&csv).1.len(), 200);
}

#[test]
fn product_scope_keeps_wallet_complaints_counts_the_rest_and_survives_normalise() {
    // CFPB's database holds every financial product (its bulk download is mostly credit
    // reports, cards and bank accounts); `--product` keeps the ones a wallet analyst wants.
    let sample = shared("cfpb/complaints_sample_3000.csv");
    let in_scope = |product: &str, sub: &str| {
        [product, sub].iter().any(|v| {
            let v = v.to_lowercase();
            v.contains("money transfer") || v.contains("wallet")
        })
    };
    // What the file itself says is in scope, read here without walletwatch.
    let mut r = csv::Reader::from_path(&sample).expect("sample");
    let h = r.headers().expect("header").clone();
    let at = |name: &str| h.iter().position(|c| c == name).expect(name);
    let (p, sp) = (at("Product"), at("Sub-product"));
    let mut want = 0u64;
    // The products left out, and every product, counted from the file.
    let mut left_out = std::collections::BTreeMap::<String, u64>::new();
    let mut products = std::collections::BTreeMap::<String, u64>::new();
    for row in r.records().map(|row| row.expect("row")) {
        *products.entry(row[p].to_string()).or_default() += 1;
        if in_scope(&row[p], &row[sp]) {
            want += 1;
        } else {
            *left_out.entry(row[p].to_string()).or_default() += 1;
        }
    }
    assert!(want > 500 && want < 2500, "{want}");
    assert!(left_out.len() > 1, "{left_out:?}");

    let path = sample.display().to_string();
    // A misspelt scope keeps nothing, and says which products the file holds instead.
    let typo = Dir::new();
    let out = typo
        .cmd(&["ingest", "cfpb", &path, "--product", "mony transfer"])
        .output()
        .expect("run walletwatch");
    assert!(out.status.success());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(reconciliation(&stdout), (3000, 0, 0, 0), "{stdout}");
    assert!(
        stderr.contains(
            "no row was kept: no product or sub-product of this file contains \"mony transfer\""
        ),
        "{stderr}"
    );
    let (top, n) = products.iter().max_by_key(|(_, n)| **n).expect("a product");
    assert!(stderr.contains(&format!("{top} ({n})")), "{stderr}");

    let d = Dir::new();
    let scoped = ["--product", "Money transfer", "--product", "wallet"];
    let out = d.ok(&[&["ingest", "cfpb", &path][..], &scoped[..]].concat());
    assert_eq!(reconciliation(&out), (3000, want, 0, 0));
    assert!(
        out.contains(&format!("+ out of scope {}", 3000 - want)),
        "{out}"
    );
    // What was left out can be read back, product by product, from the file's manifest.
    let manifest = std::fs::read_dir(d.store().join("raw"))
        .expect("raw")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a manifest");
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).expect("manifest")).expect("json");
    let recorded: std::collections::BTreeMap<String, u64> =
        serde_json::from_value(m["out_of_scope_products"].clone()).expect("products");
    assert_eq!(recorded, left_out);
    let stored = d.exported(&["product", "sub_product"]);
    assert_eq!(stored.len() as u64, want);
    assert!(stored.iter().all(|r| in_scope(&r[0], &r[1])), "{stored:?}");
    // The same complaints in the JSON API form, same scope: all duplicates.
    let api = shared("cfpb/complaints_sample_3000_api.jsonl.gz")
        .display()
        .to_string();
    let out = d.ok(&[&["ingest", "cfpb", &api][..], &scoped[..]].concat());
    assert_eq!(reconciliation(&out), (3000, 0, want, 0));
    // The scope is kept with each file: normalise rebuilds the same store.
    d.ok(&["-q", "normalise"]);
    assert_eq!(d.exported(&["product", "sub_product"]), stored);
    // Without --product the CSV's other complaints are stored too, and from then on
    // normalise keeps every row of that file.
    assert_eq!(
        reconciliation(&d.ok(&["ingest", "cfpb", &path])),
        (3000, 3000 - want, want, 0)
    );
    d.ok(&["-q", "normalise"]);
    assert_eq!(d.exported(&["complaint_id"]).len(), 3000);
    let err = d.fails(&["ingest", "cfpb", &path, "--product", " "], 2);
    assert!(err.contains("empty product pattern"), "{err}");
    // An export whose mapping names no product would put every row out of scope: refused
    // before anything is read.
    let zh = util::repo("data/sample/zh_complaints.ndjson");
    let map = util::repo("data/sample/zh_complaints.toml");
    let manifests = || {
        std::fs::read_dir(d.store().join("raw"))
            .expect("raw")
            .count()
    };
    let before = manifests();
    let err = d.fails(
        &[
            "ingest",
            "export",
            zh.to_str().expect("utf-8"),
            "--mapping",
            map.to_str().expect("utf-8"),
            "--product",
            "wallet",
        ],
        1,
    );
    assert!(
        err.contains("zh_complaints.ndjson")
            && err.contains("names no `product` or `sub_product` field"),
        "{err}"
    );
    assert_eq!(manifests(), before);
}

#[test]
fn cfpb_bulk_downloads_zipped_are_read_without_unzipping() {
    // CFPB publishes its whole database as complaints.csv.zip and complaints.json.zip.
    let d = Dir::new();
    d.python(
        "import sys, zipfile, gzip, json\n\
         with zipfile.ZipFile('complaints.csv.zip', 'w', zipfile.ZIP_DEFLATED) as z:\n\
         \x20   z.write(sys.argv[1], 'complaints.csv')\n\
         rows = [json.loads(l) for l in gzip.open(sys.argv[2], 'rt')]\n\
         with zipfile.ZipFile('complaints.json.zip', 'w', zipfile.ZIP_DEFLATED) as z:\n\
         \x20   z.writestr('complaints.json', json.dumps(rows))\n\
         with zipfile.ZipFile('two.zip', 'w') as z:\n\
         \x20   z.writestr('a.csv', 'x'); z.writestr('b.csv', 'y')\n",
        &[
            &cfpb_csv(),
            &shared("cfpb/complaints_sample_3000_api.jsonl.gz")
                .display()
                .to_string(),
        ],
    );
    let at = |name: &str| d.path().join(name).display().to_string();
    let out = d.ok(&["ingest", "cfpb", &at("complaints.csv.zip")]);
    assert_eq!(reconciliation(&out), (3000, 3000, 0, 0), "{out}");
    let out = d.ok(&["ingest", "cfpb", &at("complaints.json.zip")]);
    assert_eq!(
        reconciliation(&out),
        (3000, 0, 3000, 0),
        "the same complaints: {out}"
    );
    // The raw layer keeps the archive; normalise reads it from there.
    let out = d.ok(&["normalise"]);
    assert!(
        out.contains("complaints.csv.zip: read 3000 = stored 3000 + duplicates 0")
            && out.contains("complaints.json.zip: read 3000 = stored 0 + duplicates 3000"),
        "{out}"
    );
    let err = d.fails(&["ingest", "cfpb", &at("two.zip")], 1);
    assert!(
        err.contains("two.zip: a ZIP archive of 2 files (a.csv, b.csv): unzip it and ingest each"),
        "{err}"
    );
}

#[test]
fn a_json_array_element_that_is_no_object_is_one_quarantined_row() {
    let d = Dir::new();
    let f = d.write(
        "mixed.json",
        "[{\"id\": \"a\", \"text\": \"PayPal froze my account\"},\n 42, null,\n \"text\", [1, 2],\n {\"id\": \"b\", \"text\": \"Venmo payment failed\"}]\n",
    );
    let map = d.write(
        "m.toml",
        "source = \"arr\"\nformat = \"json\"\n[fields]\nid = \"id\"\ntext = \"text\"\n",
    );
    let out = d.ingest_export(&f, &map);
    assert_eq!(reconciliation(&out), (6, 2, 0, 4), "{out}");
    let q = quarantined(&d);
    let got: Vec<(u64, &str)> = q.iter().map(|(l, r)| (*l, r.as_str())).collect();
    assert_eq!(
        got,
        [
            (2, "not a JSON object"),
            (2, "not a JSON object"),
            (3, "not a JSON object"),
            (3, "not a JSON object")
        ]
    );
}

/// Rewrites the current 16-column sample into the historical 18-column form (and the
/// newest form with `Event tag`), with CFPB's column order and US dates.
fn historical_form(with_event_tag: bool) -> String {
    let mut r = csv::Reader::from_path(shared("cfpb/complaints_sample_3000.csv")).expect("sample");
    let h: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = h[..11].to_vec();
    header.push("Consumer consent provided?".into());
    header.extend(h[11..15].iter().cloned());
    header.push("Consumer disputed?".into());
    header.push(h[15].clone());
    if with_event_tag {
        header.push("Event tag".into());
    }
    w.write_record(&header).expect("write");
    for rec in r.records() {
        let rec = rec.expect("record");
        let f: Vec<&str> = rec.iter().collect();
        let us_date = |iso: &str| {
            let (y, rest) = iso.split_at(4);
            format!("{}/{}/{}", &rest[1..3], &rest[4..6], &y[2..])
        };
        let mut row: Vec<String> = f[..11].iter().map(|s| s.to_string()).collect();
        row[0] = us_date(f[0]);
        row.push("Consent provided".into());
        row.extend(f[11..15].iter().map(|s| s.to_string()));
        row.push("N/A".into());
        row.push(f[15].to_string());
        if with_event_tag {
            row.push(String::new());
        }
        w.write_record(&row).expect("write");
    }
    String::from_utf8(w.into_inner().expect("flush")).expect("utf-8")
}

#[test]
fn historical_18_column_and_event_tag_forms_match_the_current_form() {
    for tag in [false, true] {
        let d = Dir::new();
        let f = d.write("old.csv", historical_form(tag));
        let out = d.ok(&["ingest", "cfpb", &f.display().to_string()]);
        assert_eq!(reconciliation(&out), (3000, 3000, 0, 0), "event tag: {tag}");
        // Same ids as the current form: nothing new.
        let again = d.ok(&["ingest", "cfpb", &cfpb_csv()]);
        assert_eq!(reconciliation(&again), (3000, 0, 3000, 0));
    }
}

/// The first `n` data rows of the real sample, as CSV text lines (one record a line: the
/// chosen rows have single-line narratives).
fn sample_rows(n: usize) -> (String, Vec<csv::StringRecord>) {
    let mut r = csv::Reader::from_path(shared("cfpb/complaints_sample_3000.csv")).expect("sample");
    let header = r
        .headers()
        .expect("header")
        .iter()
        .collect::<Vec<_>>()
        .join(",");
    let rows = r
        .records()
        .map(|x| x.expect("record"))
        .filter(|x| !x[5].contains('\n') && !x[5].is_empty())
        .take(n)
        .collect();
    (header, rows)
}

fn to_line(rec: &csv::StringRecord) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(rec).expect("write");
    String::from_utf8(w.into_inner().expect("flush")).expect("utf-8")
}

#[test]
fn broken_rows_are_quarantined_alone_with_line_and_reason() {
    let (header, mut rows) = sample_rows(50);
    // Row at line 11: an impossible date. Row at line 21: no narrative (not broken).
    let mut bad_date = rows[9].clone();
    let f: Vec<String> = bad_date.iter().map(str::to_string).collect();
    let mut f2 = f.clone();
    f2[0] = "2021-02-30".into();
    bad_date = csv::StringRecord::from(f2);
    rows[9] = bad_date;
    let mut no_text: Vec<String> = rows[19].iter().map(str::to_string).collect();
    no_text[5] = String::new();
    rows[19] = csv::StringRecord::from(no_text);
    let mut text = format!("{header}\n");
    for (i, r) in rows.iter().enumerate() {
        let mut line = to_line(r);
        if i == 29 {
            // Line 31: an unclosed quote opens in the narrative and never closes on its line.
            let cut = line.find(",\"").map(|p| p + 1).unwrap_or_else(|| {
                let at = line.match_indices(',').nth(4).expect("has fields").0;
                line.insert(at + 1, '"');
                at + 1
            });
            let closing = line[cut + 1..]
                .find("\",")
                .map(|p| p + cut + 1)
                .expect("quoted narrative closes");
            line.remove(closing);
        }
        text.push_str(&line);
    }
    let d = Dir::new();
    let f = d.write("broken.csv", &text);
    let out = d.ok(&["ingest", "cfpb", &f.display().to_string()]);
    assert_eq!(reconciliation(&out), (50, 48, 0, 2), "{out}");
    let q = quarantined(&d);
    assert_eq!(q.len(), 2);
    assert_eq!(q[0].0, 11);
    assert!(q[0].1.contains("impossible date \"2021-02-30\""), "{q:?}");
    assert_eq!(q[1].0, 31);
    assert!(
        q[1].1.contains("fields where the header has 16") || q[1].1.contains("must be a number"),
        "{q:?}"
    );
    // The complaint without a narrative is stored.
    let csv = d.ok(&["export", "--format", "csv"]);
    let (_, exported) = util::read_csv(&csv);
    assert!(
        exported
            .iter()
            .any(|r| r[2] == rows[19][15] && r[7].is_empty()),
        "narrative-less complaint stored"
    );
}

/// Quarantine entries of the store's one quarantine file, as (line, reason).
fn quarantined(d: &Dir) -> Vec<(u64, String)> {
    let q = std::fs::read_dir(d.store().join("quarantine"))
        .expect("quarantine dir")
        .next()
        .expect("one file")
        .expect("entry")
        .path();
    std::fs::read_to_string(q)
        .expect("read")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            (
                v["line"].as_u64().expect("line"),
                v["reason"].as_str().expect("reason").to_string(),
            )
        })
        .collect()
}

#[test]
fn a_windows_export_with_crlf_line_ends_names_every_row_by_its_own_line() {
    // Real complaints, written as Excel and Python's csv module write them: `\r\n` after
    // every row, narratives spanning several lines. One row lost fields, one narrative is
    // 3 MB on a single line (past the reader's 2 MB bound for a record).
    let mut r = csv::Reader::from_path(shared("cfpb/complaints_sample_3000.csv")).expect("sample");
    let header = r.headers().expect("header").clone();
    let mut rows: Vec<csv::StringRecord> =
        r.records().take(40).map(|x| x.expect("record")).collect();
    assert!(
        rows.iter().filter(|x| x[5].contains('\n')).count() >= 5,
        "multi-line narratives"
    );
    let short: Vec<&str> = rows[9].iter().take(5).collect();
    rows[9] = csv::StringRecord::from(short);
    let mut huge: Vec<String> = rows[25].iter().map(str::to_string).collect();
    huge[5] = "I was charged twice. ".repeat(150_000);
    rows[25] = csv::StringRecord::from(huge);
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(&header).expect("write");
    let mut first_line = Vec::new();
    for row in &rows {
        w.flush().expect("flush");
        let written = w.get_ref();
        first_line.push(1 + written.iter().filter(|&&b| b == b'\n').count() as u64);
        w.write_record(row).expect("write");
    }
    let text = w.into_inner().expect("flush");
    assert!(text.windows(2).any(|x| x == b"\r\n"));
    let d = Dir::new();
    let f = d.write("windows.csv", &text);
    let out = d.ok(&["ingest", "cfpb", &f.display().to_string()]);
    assert_eq!(
        reconciliation(&out),
        (40, 38, 0, 2),
        "one count per row: {out}"
    );
    let q = quarantined(&d);
    assert_eq!(q.len(), 2, "{q:?}");
    assert_eq!(q[0].0, first_line[9], "{q:?}");
    assert!(q[0].1.contains("5 fields where the header has 16"), "{q:?}");
    assert_eq!(q[1].0, first_line[25], "{q:?}");
    assert!(q[1].1.contains("longer than 2 MB"), "{q:?}");
    // Every stored complaint carries the line its row starts on.
    let out = d.python(
        "import sys, duckdb\n\
         q = f\"SELECT source_id, line FROM read_parquet('{sys.argv[1]}/complaints/**/*.parquet')\"\n\
         for id, line in duckdb.connect().execute(q).fetchall(): print(id, line)",
        &[&d.store().display().to_string()],
    );
    let stored: std::collections::HashMap<&str, u64> = out
        .lines()
        .map(|l| {
            let (id, line) = l.split_once(' ').expect("id line");
            (id, line.parse().expect("number"))
        })
        .collect();
    assert_eq!(stored.len(), 38);
    for (i, row) in rows
        .iter()
        .enumerate()
        .filter(|(i, _)| ![9, 25].contains(i))
    {
        assert_eq!(
            stored.get(&row[15]),
            Some(&first_line[i]),
            "row {i}, complaint {}",
            &row[15]
        );
    }
}

#[test]
fn heimao_ndjson_and_mojibake_csv_come_out_readable_and_deduplicated() {
    let d = Dir::new();
    let nd = d.ok(&[
        "ingest",
        "export",
        &shared("heimao/heimao_2020_99.ndjson").display().to_string(),
        "--mapping",
        &repo("data/mappings/heimao_ndjson.toml")
            .display()
            .to_string(),
    ]);
    // One of the 99 saved records is an exact repeat of another.
    assert_eq!(reconciliation(&nd), (99, 98, 1, 0));
    let moj = d.ok(&[
        "ingest",
        "export",
        &shared("heimao/heimao_2020_mojibake.csv")
            .display()
            .to_string(),
        "--mapping",
        &repo("data/mappings/heimao_csv.toml").display().to_string(),
    ]);
    let (read, stored, dups, quarantined) = reconciliation(&moj);
    assert_eq!(quarantined, 3, "the three repeated header rows: {moj}");
    assert_eq!(read, stored + dups + quarantined);
    assert!(dups >= 280, "repaired rows match the NDJSON records: {moj}");
    let out = d.ok(&["export", "--format", "ndjson", "--source", "heimao"]);
    assert!(
        out.contains("拼多多天天领红包虚假"),
        "repaired titles are readable"
    );
    assert!(!out.contains("æ"), "no mojibake left");
    assert!(out.contains("\"provider\":\"pinduoduo\""));
}

#[test]
fn gbk_file_is_detected_or_forced_and_reads_as_chinese() {
    // A GBK export made from real 黑猫投诉 text.
    let src = std::fs::read_to_string(shared("heimao/heimao_2020_99.ndjson")).expect("read");
    let mut csv = String::from("编号,标题,内容,对象\n");
    for (i, line) in src.lines().take(30).enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let q = |k: &str| v[k].as_str().expect("string").replace('"', "\"\"");
        csv.push_str(&format!(
            "HM{i},\"{}\",\"{}\",\"{}\"\n",
            q("投诉标题"),
            q("投诉详情"),
            q("投诉对象")
        ));
    }
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&csv);
    assert!(!unmappable);
    let d = Dir::new();
    let f = d.write("gbk.csv", &gbk);
    let map = d.write("map.toml", "source = \"gbk_test\"\n[fields]\nid = \"编号\"\ntitle = \"标题\"\ntext = \"内容\"\nprovider = \"对象\"\n");
    let out = d.ok(&[
        "ingest",
        "export",
        &f.display().to_string(),
        "--mapping",
        &map.display().to_string(),
    ]);
    assert_eq!(reconciliation(&out), (30, 30, 0, 0));
    let exported = d.ok(&["export", "--format", "ndjson"]);
    assert!(
        exported.contains("拼多多天天领红包虚假"),
        "{}",
        &exported[..300.min(exported.len())]
    );
    // Forcing the encoding works too (and a wrong one is not silently accepted as text).
    let d2 = Dir::new();
    let f2 = d2.write("gbk.csv", &gbk);
    let out = d2.ok(&[
        "ingest",
        "export",
        &f2.display().to_string(),
        "--mapping",
        &map.display().to_string(),
        "--encoding",
        "gb18030",
    ]);
    assert_eq!(reconciliation(&out), (30, 30, 0, 0));
    let bad = d2.fails(
        &[
            "ingest",
            "export",
            &f2.display().to_string(),
            "--mapping",
            &map.display().to_string(),
            "--encoding",
            "klingon",
        ],
        1,
    );
    assert!(bad.contains("unknown encoding"), "{bad}");
}

#[test]
fn bad_files_get_one_clear_line_naming_the_file() {
    let d = Dir::new();
    let err = d.fails(&["ingest", "cfpb", "nope.csv"], 1);
    assert!(err.starts_with("error: nope.csv: cannot open"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    // The cause is said once (it was printed twice: "Is a directory (os error 21): Is a
    // directory (os error 21)").
    let folder = d.path().join("exports");
    std::fs::create_dir(&folder).expect("mkdir");
    let err = d.fails(&["ingest", "cfpb", &folder.display().to_string()], 1);
    assert!(
        err.contains("exports: cannot open: Is a directory"),
        "{err}"
    );
    assert_eq!(err.matches("os error").count(), 1, "{err}");
    let empty = d.write("empty.csv", "");
    let err = d.fails(&["ingest", "cfpb", &empty.display().to_string()], 1);
    assert!(err.contains("empty.csv: the file is empty"), "{err}");
    let wrong = d.write("wrong.csv", "a,b,c\n1,2,3\n");
    let err = d.fails(&["ingest", "cfpb", &wrong.display().to_string()], 1);
    assert!(
        err.contains("wrong.csv: not a CFPB complaint export: missing column(s) Complaint ID"),
        "{err}"
    );
    // A gzip cut short.
    let gz = std::fs::read(shared("cfpb/complaints_sample_3000_api.jsonl.gz")).expect("read");
    let cut = d.write("cut.jsonl.gz", &gz[..gz.len() / 2]);
    let err = d.fails(&["ingest", "cfpb", &cut.display().to_string()], 1);
    assert!(
        err.contains("cut.jsonl.gz") && err.contains("truncated"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"));
    // A mapping with an unknown field names it.
    let map = d.write(
        "m.toml",
        "source = \"x\"\n[fields]\ntext = \"a\"\nbody = \"b\"\n",
    );
    let err = d.fails(
        &[
            "ingest",
            "export",
            &wrong.display().to_string(),
            "--mapping",
            &map.display().to_string(),
        ],
        1,
    );
    assert!(
        err.contains("m.toml") && err.contains("unknown field \"body\""),
        "{err}"
    );
    // Bad usage exits 2.
    d.fails(&["ingest", "cfpb"], 2);
}

#[test]
fn duckdb_reads_the_store_as_it_is() {
    let d = Dir::new();
    d.ok(&["ingest", "cfpb", &cfpb_csv()]);
    let out = d.python(
        "import sys, duckdb\n\
         q = f\"SELECT count(*), count(DISTINCT complaint_id), count(*) FILTER (WHERE source = 'cfpb' AND year = 2024) FROM read_parquet('{sys.argv[1]}/complaints/**/*.parquet', hive_partitioning=true)\"\n\
         print(*duckdb.connect().execute(q).fetchone())",
        &[&d.store().display().to_string()],
    );
    let n: Vec<u64> = out
        .split_whitespace()
        .map(|x| x.parse().expect("number"))
        .collect();
    assert_eq!(n[0], 3000);
    assert_eq!(n[1], 3000);
    let in_2024 = std::fs::read_to_string(shared("cfpb/complaints_sample_3000.csv")).expect("read");
    let mut r = csv::Reader::from_reader(in_2024.as_bytes());
    let expected = r
        .records()
        .filter(|x| x.as_ref().expect("record")[0].starts_with("2024"))
        .count() as u64;
    assert_eq!(n[2], expected);
}

#[test]
fn killed_ingest_leaves_a_readable_store_and_the_next_run_completes_it() {
    let d = Dir::new();
    let corpus = d.path().join("corpus.csv");
    let generated = std::process::Command::new("python3")
        .arg(util::shared("../bench/gen_corpus.py"))
        .arg("60000")
        .arg(&corpus)
        .status()
        .expect("run gen_corpus.py");
    assert!(generated.success());
    let corpus = corpus.display().to_string();
    let mut child = d
        .cmd(&["-q", "ingest", "cfpb", &corpus, "--batch-rows", "1000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ingest");
    // Kill it as soon as the first batches are in the store.
    let parts = d.store().join("complaints");
    let count_parts = || walk(&parts).len();
    while count_parts() < 3 {
        if child.try_wait().expect("poll").is_some() {
            panic!("ingest finished before it could be killed; make the corpus bigger");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("kill -9");
    child.wait().expect("reap");
    let count = |d: &Dir| {
        d.python(
            "import sys, duckdb\nprint(*duckdb.connect().execute(f\"SELECT count(*), count(DISTINCT complaint_id) FROM read_parquet('{sys.argv[1]}/complaints/**/*.parquet', hive_partitioning=true)\").fetchone())",
            &[&d.store().display().to_string()],
        )
    };
    let partial: Vec<u64> = count(&d)
        .split_whitespace()
        .map(|x| x.parse().expect("n"))
        .collect();
    assert!(
        partial[0] > 0 && partial[0] < 60000,
        "store readable with part of the rows: {partial:?}"
    );
    assert_eq!(partial[0], partial[1]);
    let out = d.ok(&["ingest", "cfpb", &corpus]);
    let (read, stored, dups, q) = reconciliation(&out);
    assert_eq!((read, q), (60000, 0));
    assert_eq!(stored + dups, 60000);
    assert_eq!(
        dups, partial[0],
        "the rows stored before the kill are recognised"
    );
    let total: Vec<u64> = count(&d)
        .split_whitespace()
        .map(|x| x.parse().expect("n"))
        .collect();
    assert_eq!(
        total,
        vec![60000, 60000],
        "same totals as an uninterrupted run"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn normalise_rebuilds_the_table_from_the_raw_layer_alone() {
    let d = Dir::new();
    let src = d.write(
        "c.csv",
        std::fs::read(shared("cfpb/complaints_sample_3000.csv")).expect("read"),
    );
    d.ok(&["ingest", "cfpb", &src.display().to_string()]);
    let before = d.ok(&["export", "--format", "csv"]);
    std::fs::remove_file(&src).expect("remove the source file");
    let out = d.ok(&["normalise"]);
    assert_eq!(reconciliation(&out), (3000, 3000, 0, 0), "{out}");
    let after = d.ok(&["export", "--format", "csv"]);
    assert_eq!(before, after, "same table rebuilt");
    assert_eq!(d.part_codecs(), "UNCOMPRESSED");
    // Rebuilt with another codec: the same table, in the codec asked for.
    d.ok(&["normalise", "--compression", "zstd"]);
    assert_eq!(d.part_codecs(), "ZSTD");
    assert_eq!(
        before,
        d.ok(&["export", "--format", "csv"]),
        "same table in zstd"
    );
    // A changed alias table applies on rebuild.
    let table = std::fs::read_to_string(repo("data/providers.toml"))
        .expect("read")
        .replace("\"Block, Inc.\", ", "");
    let t = d.write("providers.toml", table);
    d.ok(&["--providers", &t.display().to_string(), "normalise"]);
    let csv = d.ok(&["export", "--format", "csv", "--provider", "block_inc"]);
    assert!(util::read_csv(&csv).1.len() > 200);
}

/// Total bytes of the complaint parts under a store.
fn parts_bytes(store: &std::path::Path) -> u64 {
    walk(&store.join("complaints"))
        .iter()
        .map(|p| std::fs::metadata(p).expect("part").len())
        .sum()
}

#[test]
fn every_part_compression_stores_the_same_complaints_and_a_store_mixes_them() {
    let mut exports = Vec::new();
    let mut sizes = Vec::new();
    for (codec, parquet_name) in [
        ("none", "UNCOMPRESSED"),
        ("lz4", "LZ4_RAW"),
        ("zstd", "ZSTD"),
    ] {
        let d = Dir::new();
        let out = d.ok(&["ingest", "cfpb", "--compression", codec, &cfpb_csv()]);
        assert_eq!(reconciliation(&out), (3000, 3000, 0, 0), "{codec}: {out}");
        assert_eq!(d.part_codecs(), parquet_name, "{codec}");
        sizes.push(parts_bytes(&d.store()));
        // Each store has its own key for the hashes of personal data: compare the rest.
        let (header, mut rows) =
            util::read_csv(&d.ok(&["export", "--format", "csv", "--source", "cfpb"]));
        let keyed = header
            .iter()
            .position(|c| c == "pii_hashes")
            .expect("pii_hashes");
        rows.iter_mut().for_each(|r| r[keyed].clear());
        assert_eq!(rows.len(), 3000, "{codec}");
        exports.push(rows);
    }
    assert_eq!(exports[0], exports[1], "lz4 store reads back differently");
    assert_eq!(exports[0], exports[2], "zstd store reads back differently");
    assert!(
        sizes[1] < sizes[0] && sizes[2] < sizes[1],
        "none {} > lz4 {} > zstd {} bytes expected",
        sizes[0],
        sizes[1],
        sizes[2]
    );
    // One store, three codecs: each file ingested with its own, all read together.
    let d = Dir::new();
    for (file, codec) in [("wallet_dev.csv", "lz4"), ("wallet_test.csv", "zstd")] {
        let path = shared(&format!("cfpb/{file}")).display().to_string();
        d.ok(&["ingest", "cfpb", "--compression", codec, &path]);
    }
    let out = d.ok(&["ingest", "cfpb", &cfpb_csv()]);
    assert_eq!(reconciliation(&out), (3000, 2265, 735, 0), "{out}");
    assert_eq!(d.part_codecs(), "LZ4_RAW UNCOMPRESSED ZSTD");
    let (_, rows) = util::read_csv(&d.ok(&["export", "--format", "csv", "--source", "cfpb"]));
    assert_eq!(rows.len(), 3000);
}

#[test]
fn a_taiwan_export_reads_its_bare_yuan_as_new_taiwan_dollars() {
    // A Taiwan site's export in the 黑猫投诉 record shape: its 元 is the New Taiwan dollar
    // (default_currency = "TWD"), while 人民幣 in a text stays yuan.
    let d = Dir::new();
    let rows = [
        r#"{"投诉编号": "tw-1", "投诉对象": "街口支付", "投诉标题": "帳戶被盜刷", "投诉详情": "帳戶被盜刷了好幾筆，客服不處理", "涉诉金额": "5,000元", "发布时间": "2024-05-10 09:30"}"#,
        r#"{"投诉编号": "tw-2", "投诉对象": "街口支付", "投诉标题": "退款未到帳", "投诉详情": "訂單取消後1,200元一直沒有退回", "发布时间": "2024-05-11 10:00"}"#,
        r#"{"投诉编号": "tw-3", "投诉对象": "支付寶", "投诉标题": "跨境付款", "投诉详情": "在淘寶買東西被多扣了300人民幣", "发布时间": "2024-05-12 11:00"}"#,
    ];
    let file = d.write("tw.ndjson", rows.join("\n") + "\n");
    let mapping = std::fs::read_to_string(repo("data/mappings/heimao_ndjson.toml"))
        .expect("mapping")
        .replace("default_currency = \"CNY\"", "default_currency = \"TWD\"")
        .replace("source = \"heimao\"", "source = \"tw_posts\"");
    let map = d.write("tw.toml", &mapping);
    d.ingest_export(&file, &map);
    let (header, exported) = read_csv(&d.ok(&["-q", "export", "--format", "csv"]));
    let col = |n: &str| header.iter().position(|h| h == n).expect(n);
    let got: Vec<(String, String, String)> = exported
        .iter()
        .map(|r| {
            (
                r[col("source_id")].clone(),
                r[col("amount")].clone(),
                r[col("currency")].clone(),
            )
        })
        .collect();
    for want in [
        ("tw-1", "5000.0", "TWD"),
        ("tw-2", "1200.0", "TWD"),
        ("tw-3", "300.0", "CNY"),
    ] {
        assert!(
            got.iter()
                .any(|g| (g.0.as_str(), g.1.as_str(), g.2.as_str()) == want),
            "{want:?} not in {got:?}"
        );
    }
    // A currency the table does not know is refused, naming the ones it does.
    let bad = d.write("eur.toml", mapping.replace("\"TWD\"", "\"EUR\""));
    let err = d.ingest_export_fails(&file, &bad);
    assert!(
        err.contains("eur.toml") && err.contains("CNY, USD, HKD, TWD"),
        "{err}"
    );
}

#[test]
fn an_excel_export_from_a_chinese_payment_firm_reads_its_amounts_dates_and_names() {
    // What a payment firm's complaint desk saves from Excel: GBK, `\r\n`, Excel's own date
    // forms, amounts with ￥, RMB before the number, 元 or 万 after it.
    let d = Dir::new();
    let rows = [
        "编号,内容,日期,对象,金额",
        "zf-1,我的支付宝账户被盗，钱被转走了，我的电话13812345678,2024/3/1 14:05,支付宝（中国）网络技术有限公司,\"￥1,200.00\"",
        "zf-2,微信转账一直未到账,2024/3/2,财付通,RMB 300",
        "zf-3,云闪付扣款失败但钱扣了,2024年03月05日,中国银联,500元",
        "zf-4,点了钓鱼链接被骗,2024-03-06,支付宝,1.5万",
        "zf-5,冒充客服骗走,45352,支付宝,\"RMB 2,000\"",
    ];
    let text = rows.join("\r\n") + "\r\n";
    let (gbk, _, lossy) = encoding_rs::GBK.encode(&text);
    assert!(!lossy);
    let file = d.write("desk.csv", &gbk);
    let mapping = "source = \"desk\"\nformat = \"csv\"\nencoding = \"gbk\"\ndefault_currency = \"CNY\"\n\n[fields]\nid = \"编号\"\ntext = \"内容\"\ndate = \"日期\"\nprovider = \"对象\"\namount = \"金额\"\n";
    let map = d.write("desk.toml", mapping);
    let out = d.ingest_export(&file, &map);
    assert_eq!(reconciliation(&out), (5, 4, 0, 1), "{out}");
    // An Excel date serial is no date walletwatch can be sure of: quarantined on its line.
    let q = quarantined(&d);
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].0, 6);
    assert!(q[0].1.contains("unrecognised date \"45352\""), "{q:?}");
    let got = d.exported(&[
        "source_id",
        "provider",
        "received_at",
        "amount",
        "currency",
        "text",
    ]);
    assert_eq!(
        got,
        [
            [
                "zf-1",
                "alipay",
                "2024-03-01",
                "1200.0",
                "CNY",
                "我的支付宝账户被盗，钱被转走了，我的电话[phone]"
            ],
            [
                "zf-2",
                "wechat_pay",
                "2024-03-02",
                "300.0",
                "CNY",
                "微信转账一直未到账"
            ],
            [
                "zf-3",
                "unionpay",
                "2024-03-05",
                "500.0",
                "CNY",
                "云闪付扣款失败但钱扣了"
            ],
            [
                "zf-4",
                "alipay",
                "2024-03-06",
                "15000.0",
                "CNY",
                "点了钓鱼链接被骗"
            ],
        ]
    );
}

#[test]
fn tab_semicolon_and_pipe_separated_exports_read_like_csv() {
    // A TSV and a semicolon CSV (what Excel saves in a decimal-comma locale) are recognised
    // from their header line; any other separator is named in the mapping.
    let d = Dir::new();
    let mapping = "source = \"desk\"\n[fields]\nid = \"id\"\ntext = \"text\"\ndate = \"date\"\nprovider = \"who\"\n";
    let map = d.write("desk.toml", mapping);
    let files = [
        (
            "a.tsv",
            "id\ttext\tdate\twho\nt-1\tMy Venmo payment failed, no refund\t2024-03-01\tVenmo\n",
        ),
        (
            "b.csv",
            "id;text;date;who\r\ns-1;\"Cash App froze my account; no reply\";2024-03-02;Cash App\r\n",
        ),
    ];
    for (name, body) in files {
        let f = d.write(name, body);
        assert_eq!(
            reconciliation(&d.ingest_export(&f, &map)),
            (1, 1, 0, 0),
            "{name}"
        );
    }
    let piped = d.write(
        "c.txt",
        "id|text|date|who\np-1|Zelle scam, lost $500|2024-03-03|Zelle\n",
    );
    let map = d.write("pipe.toml", format!("delimiter = \"|\"\n{mapping}"));
    assert_eq!(reconciliation(&d.ingest_export(&piped, &map)), (1, 1, 0, 0));
    let got = d.exported(&["source_id", "provider", "text"]);
    assert_eq!(
        got,
        [
            ["p-1", "zelle", "Zelle scam, lost $500"],
            ["s-1", "cash_app", "Cash App froze my account; no reply"],
            ["t-1", "venmo", "My Venmo payment failed, no refund"],
        ]
    );
    let bad = d.write("bad.toml", format!("delimiter = \"ab\"\n{mapping}"));
    let err = d.ingest_export_fails(&piped, &bad);
    assert!(
        err.contains("bad.toml") && err.contains("delimiter \"ab\""),
        "{err}"
    );
}

#[test]
fn a_hong_kong_export_with_day_first_dates_reads_them_where_the_mapping_says_so() {
    let d = Dir::new();
    let f = d.write(
        "hk.csv",
        "id,text,date,who\nhk-1,俾人呃咗HK$3000,25/12/2023,PayMe\nhk-2,轉數唔成功,03/01/2024 09:15,八達通\n",
    );
    let mapping = "source = \"hk_desk\"\ndefault_currency = \"HKD\"\n[fields]\nid = \"id\"\ntext = \"text\"\ndate = \"date\"\nprovider = \"who\"\n";
    // Read month first, 25/12 is no date: quarantined with a hint, and 03/01 is 1 March.
    let us = d.write("us.toml", mapping);
    assert_eq!(reconciliation(&d.ingest_export(&f, &us)), (2, 1, 0, 1));
    let q = quarantined(&d);
    assert!(
        q[0].1.contains("impossible date \"25/12/2023\"") && q[0].1.contains("day_first = true"),
        "{q:?}"
    );
    let hk = Dir::new();
    let map = hk.write(
        "hk.toml",
        format!("{mapping}\n[dates]\nday_first = true\nutc_offset = \"+08:00\"\n"),
    );
    assert_eq!(reconciliation(&hk.ingest_export(&f, &map)), (2, 2, 0, 0));
    let got = hk.exported(&["source_id", "provider", "received_at"]);
    // 09:15 in Hong Kong on 3 January is 01:15 UTC the same day.
    assert_eq!(
        got,
        [
            ["hk-1", "payme", "2023-12-25"],
            ["hk-2", "octopus", "2024-01-03"]
        ]
    );
}
