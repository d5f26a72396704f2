//! `walletwatch score` on the real CFPB sample and the bundled Chinese sample.

mod util;

use util::{Dir, read_csv, repo, shared};

fn rated_store() -> Dir {
    let dir = Dir::new();
    let cfpb = shared("cfpb/complaints_sample_3000.csv");
    dir.ok(&["-q", "ingest", "cfpb", cfpb.to_str().expect("utf-8")]);
    let zh = repo("data/sample/zh_complaints.ndjson");
    let map = repo("data/sample/zh_complaints.toml");
    dir.ingest_export(&zh, &map);
    dir.ok(&["-q", "classify"]);
    dir
}

#[test]
fn providers_are_found_by_any_alias_and_unknown_names_get_suggestions() {
    let dir = rated_store();
    for name in ["Cash App", "Block, Inc.", "cash_app"] {
        let out = dir.ok(&["score", name]);
        assert!(
            out.lines()
                .nth(1)
                .is_some_and(|l| l.starts_with("cash_app ")),
            "{name}: {out}"
        );
        assert_eq!(out.lines().count(), 2, "{out}");
    }
    let zh = dir.ok(&["score", "支付宝"]);
    assert!(zh.contains("alipay"), "{zh}");
    let err = dir.fails(&["score", "Cash Ap"], 1);
    assert!(
        err.contains("did you mean") && err.contains("cash_app"),
        "{err}"
    );

    let (header, rows) = read_csv(&dir.ok(&["score", "--format", "csv"]));
    let col = |n: &str| header.iter().position(|h| h == n).expect(n);
    assert!(rows.len() > 20);
    let grade = col("grade");
    assert!(
        rows.iter()
            .all(|r| ["A", "B", "C", "D", "F", "NR"].contains(&r[grade].as_str()))
    );
    // Every score has n and an interval around it; small providers are NR.
    let (score, low, high, n) = (col("score"), col("low"), col("high"), col("n"));
    for r in &rows {
        let (s, l, h): (f64, f64, f64) = (
            r[score].parse().unwrap(),
            r[low].parse().unwrap(),
            r[high].parse().unwrap(),
        );
        assert!(l <= s && s <= h, "{r:?}");
        if r[n].parse::<usize>().unwrap() < 10 {
            assert_eq!(r[grade], "NR", "{r:?}");
        }
    }
    let cash = rows
        .iter()
        .find(|r| r[col("provider")] == "cash_app")
        .expect("cash_app rated");
    assert!(
        !cash[col("rate_per_million_users")].is_empty(),
        "Cash App's user base is known: {cash:?}"
    );
    assert!(
        cash[col("drivers")].contains("answered on time"),
        "{cash:?}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&dir.ok(&["score", "--format", "json"])).expect("json");
    assert_eq!(json.as_array().map(Vec::len), Some(rows.len()));
    // Same store, same ranking.
    assert_eq!(
        dir.ok(&["score", "--format", "csv"]),
        dir.ok(&["score", "--format", "csv"])
    );
}
