//! Export as a journalist uses it: filters, masking, Excel-safe CSV, Parquet, NDJSON.

mod util;

use util::{Dir, read_csv, reconciliation, shared};

/// A small CFPB-form CSV with the cases exports must get right.
fn fixture(d: &Dir) -> std::path::PathBuf {
    let header = "Date received,Product,Sub-product,Issue,Sub-issue,Consumer complaint narrative,Company public response,Company,State,ZIP code,Tags,Submitted via,Date sent to company,Company response to consumer,Timely response?,Complaint ID";
    let rows = [
        "2024-03-01,\"Money transfer, virtual currency, or money service\",Mobile or digital wallet,Fraud or scam,,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\") they took {$450.00} from my Cash App\",,\"Block, Inc.\",CA,90001,,Web,2024-03-02,Closed with explanation,Yes,9000001",
        "2024-03-05,\"Money transfer, virtual currency, or money service\",Mobile or digital wallet,Fraud or scam,,\"A scammer called me from (415) 555-0132 and asked me to email bob.smith@example.com, I lost $1,200 on Cash App\",,\"Block, Inc.\",CA,90001,,Web,2024-03-06,Closed with monetary relief,No,9000002",
        "2024-04-01,\"Money transfer, virtual currency, or money service\",Mobile or digital wallet,Other transaction problem,,Zelle payment never arrived,,\"Early Warning Services, LLC\",NY,10001,,Web,2024-04-01,In progress,Yes,9000003",
        "2023-12-30,\"Money transfer, virtual currency, or money service\",Mobile or digital wallet,Other transaction problem,,-5 dollars missing from Venmo; Venmo support never answered,,\"Paypal Holdings, Inc\",NY,10001,,Web,2024-01-01,Closed,Yes,9000004",
    ];
    d.write("fixture.csv", format!("{header}\n{}\n", rows.join("\n")))
}

#[test]
fn provider_filter_masks_text_and_neutralises_formulas() {
    let d = Dir::new();
    let f = fixture(&d);
    assert_eq!(
        reconciliation(&d.ok(&["ingest", "cfpb", &f.display().to_string()])),
        (4, 4, 0, 0)
    );
    for name in ["cash_app", "Cash App", "Block, Inc."] {
        let csv = d.ok(&["export", "--format", "csv", "--provider", name]);
        let (h, rows) = read_csv(&csv);
        let at = |c: &str| h.iter().position(|x| x == c).expect(c);
        assert_eq!(rows.len(), 2, "{name}: {csv}");
        assert!(rows.iter().all(|r| r[at("provider")] == "cash_app"));
        let first = rows
            .iter()
            .find(|r| r[at("source_id")] == "9000001")
            .expect("row");
        assert!(
            first[at("text")].starts_with("'=HYPERLINK("),
            "formula neutralised: {}",
            first[at("text")]
        );
        let second = rows
            .iter()
            .find(|r| r[at("source_id")] == "9000002")
            .expect("row");
        let text = &second[at("text")];
        assert!(
            text.contains("[phone]") && text.contains("[email]"),
            "{text}"
        );
        assert!(
            !text.contains("555-0132") && !text.contains("bob.smith"),
            "{text}"
        );
        assert_eq!(second[at("amount")], "1200.0");
        assert_eq!(second[at("currency")], "USD");
        assert!(
            second[at("pii_hashes")].contains("phone:")
                && second[at("pii_hashes")].contains("email:")
        );
        assert_eq!(second[at("timely")], "No");
    }
    // Brand named in the text: Venmo complaints filed against PayPal's company.
    let venmo = d.ok(&["export", "--format", "csv", "--provider", "venmo"]);
    let (h, rows) = read_csv(&venmo);
    assert_eq!(rows.len(), 1);
    let text = &rows[0][h.iter().position(|x| x == "text").expect("text")];
    assert!(
        text.starts_with("'-5 dollars"),
        "a leading minus is neutralised too: {text}"
    );
    // A provider the table does not know is found by the id it is stored under or by its
    // name as filed (a real CFPB money-transfer company)…
    let (header, rest) = std::fs::read_to_string(&f)
        .expect("fixture")
        .split_once('\n')
        .map(|(h, r)| (h.to_string(), r.to_string()))
        .expect("header");
    let sigue = rest
        .lines()
        .nth(2)
        .expect("row")
        .replace("\"Early Warning Services, LLC\"", "Sigue Corp")
        .replace("Zelle payment", "A transfer")
        .replace("9000003", "9000005");
    let g = d.write("sigue.csv", format!("{header}\n{sigue}\n"));
    d.ok(&["ingest", "cfpb", &g.display().to_string()]);
    for name in ["sigue_corp", "Sigue Corp", "SIGUE CORP"] {
        let csv = d.ok(&["export", "--provider", name]);
        let (h, rows) = read_csv(&csv);
        assert_eq!(rows.len(), 1, "{name}");
        assert_eq!(
            rows[0][h.iter().position(|x| x == "provider").expect("provider")],
            "sigue_corp"
        );
    }
    // …and a typo is an error with the closest names, not an empty file.
    let err = d.fails(&["export", "--provider", "cashap", "-o", "x.csv"], 1);
    assert!(
        err.contains("unknown provider \"cashap\"") && err.contains("cash_app"),
        "{err}"
    );
    assert!(!d.path().join("x.csv").exists());
}

#[test]
fn excel_bom_dates_sources_and_languages_filter() {
    let d = Dir::new();
    d.ok(&["ingest", "cfpb", &fixture(&d).display().to_string()]);
    d.ingest_export(
        &shared("heimao/heimao_2020_99.ndjson"),
        &util::repo("data/mappings/heimao_ndjson.toml"),
    );
    let out = d.path().join("out.csv");
    d.ok(&[
        "export",
        "--format",
        "csv",
        "--excel",
        "--lang",
        "zh",
        "-o",
        &out.display().to_string(),
    ]);
    let bytes = std::fs::read(&out).expect("read");
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "BOM for Excel");
    let text = String::from_utf8(bytes).expect("utf-8");
    let (_, rows) = read_csv(&text);
    assert_eq!(rows.len(), 98);
    assert!(text.contains("支付宝"));
    let csv = d.ok(&["export", "--since", "2024-03-01", "--until", "2024-03-31"]);
    assert_eq!(read_csv(&csv).1.len(), 2);
    let csv = d.ok(&["export", "--source", "heimao"]);
    assert_eq!(read_csv(&csv).1.len(), 98);
    let err = d.fails(&["export", "--source", "heimoa"], 1);
    assert!(
        err.contains("no stored complaint has source \"heimoa\"; the store holds: cfpb, heimao"),
        "{err}"
    );
    let err = d.fails(&["export", "--lang", "cn"], 2);
    assert!(err.contains("[possible values: zh, en, other]"), "{err}");
    // Dates the wrong way round are an error, not an empty file.
    let err = d.fails(
        &["export", "--since", "2024-03-31", "--until", "2024-03-01"],
        1,
    );
    assert!(
        err.contains("--since 2024-03-31 is after --until 2024-03-01"),
        "{err}"
    );
}

#[test]
fn parquet_and_ndjson_round_trip() {
    let d = Dir::new();
    d.ok(&["ingest", "cfpb", &fixture(&d).display().to_string()]);
    let pq = d.path().join("out.parquet");
    d.ok(&[
        "export",
        "--format",
        "parquet",
        "--provider",
        "zelle",
        "-o",
        &pq.display().to_string(),
    ]);
    let n = d.python("import sys, duckdb; print(duckdb.connect().execute(f\"SELECT count(*), min(provider) FROM '{sys.argv[1]}'\").fetchone())", &[&pq.display().to_string()]);
    assert_eq!(n.trim(), "(1, 'zelle')");
    let nd = d.ok(&["export", "--format", "ndjson"]);
    let rows: Vec<serde_json::Value> = nd
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(rows.len(), 4);
    assert!(
        rows.iter()
            .any(|r| r["pii_hashes"].as_array().is_some_and(|a| a.len() == 2))
    );
    let err = d.fails(&["export", "--format", "parquet"], 1);
    assert!(err.contains("-o FILE"), "{err}");
}
