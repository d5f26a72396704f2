//! The model classifier (`--features bert`): embeddings checked against an independent
//! reference, the trained head, `auto`'s choice per language, and `train`'s guard.
//! Needs the weights installed by scripts/setup-model.sh (CI runs it first).
#![cfg(feature = "bert")]

mod util;

use util::{Dir, repo, shared};
use walletwatch::classify::bert::{Embedder, model_config};

fn cosine(a: &[f32], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * y).sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn embeddings_match_an_independent_reference() {
    assert!(
        std::env::var_os("WALLETWATCH_MINILM").is_some(),
        "WALLETWATCH_MINILM is not set: run `eval \"$(scripts/setup-model.sh)\"` first"
    );
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo("tests/fixtures/minilm_reference.json")).unwrap(),
    )
    .unwrap();
    let (config, base) = model_config(&repo("models")).unwrap();
    let embedder = Embedder::load(&config, &base).unwrap();
    let sentences = reference["sentences"].as_array().unwrap();
    let texts: Vec<&str> = sentences
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    let got = embedder.embed(&texts).unwrap();
    for (s, e) in sentences.iter().zip(&got) {
        let want: Vec<f64> = s["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(e.len(), 384);
        let c = cosine(e, &want);
        assert!(c >= 0.99, "cosine {c} for {:?}", s["text"]);
    }
    // And different complaints are not the same vector.
    let cross = cosine(
        &got[0],
        &got[1].iter().map(|x| f64::from(*x)).collect::<Vec<_>>(),
    );
    assert!(
        cross < 0.9,
        "two different complaints embed too alike: {cross}"
    );
}

#[test]
fn auto_uses_the_model_for_english_and_the_rules_for_chinese() {
    let d = Dir::new();
    let input = d.write(
        "in.ndjson",
        concat!(
            "{\"id\":\"en\",\"text\":\"A man pretending to be Cash App support called me and I was scammed into sending $900 to a fake safe account.\"}\n",
            "{\"id\":\"zh\",\"text\":\"有人冒充客服打电话，让我点钓鱼链接，把钱转到安全账户，被骗了9000元。\"}\n",
        ),
    );
    let out = d.ok(&[
        "classify",
        "--classifier",
        "auto",
        "--input",
        input.to_str().unwrap(),
    ]);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert!(
            l["classifier"]
                .as_str()
                .unwrap()
                .starts_with("auto(bert:all-MiniLM-L6-v2"),
            "{l}"
        );
        assert_eq!(l["primary_category"], "fraud", "{l}");
    }
    let ev = |l: &serde_json::Value| l["evidence"].to_string();
    assert!(
        ev(&lines[0]).contains("\"by\":\"bert\""),
        "{}",
        ev(&lines[0])
    );
    assert!(
        ev(&lines[1]).contains("auto: rules decided (language zh"),
        "{}",
        ev(&lines[1])
    );
    assert!(ev(&lines[1]).contains("钓鱼链接"), "{}", ev(&lines[1]));
}

#[test]
fn bert_classifies_the_store_and_evaluates_on_the_test_split() {
    let d = Dir::new();
    d.ok(&[
        "ingest",
        "cfpb",
        repo("data/sample/cfpb_sample.csv").to_str().unwrap(),
    ]);
    let out = d.ok(&["classify", "--classifier", "bert"]);
    assert!(
        out.starts_with("classified 300 + already classified 0 = 300"),
        "{out}"
    );
    // Switching classifier replaces the table's results; switching back re-classifies.
    let out = d.ok(&["classify"]);
    assert!(
        out.starts_with("classified 300 + already classified 0"),
        "{out}"
    );
    let report = d.ok(&[
        "eval",
        "--classifier",
        "bert",
        "--input",
        shared("cfpb/wallet_test.csv").to_str().unwrap(),
    ]);
    assert!(report.contains("120 documents"), "{report}");
    assert!(report.contains("| fraud 诈骗 |"), "{report}");
}

#[test]
fn train_refuses_the_test_split() {
    let d = Dir::new();
    let err = d.fails(
        &[
            "train",
            "--input",
            shared("cfpb/wallet_test.csv").to_str().unwrap(),
        ],
        1,
    );
    assert!(err.contains("held-out test split"), "{err}");
}

#[test]
fn the_shipped_head_stacks_the_current_rules_scores_after_the_embedding() {
    use walletwatch::classify::Classifier;
    let head = walletwatch::classify::head::Head::load(&repo("models/head/minilm-head.json"))
        .expect("the shipped head loads");
    let rules = walletwatch::classify::rules::Rules::load(&repo("models/rules")).unwrap();
    // Edit the rules, then run `walletwatch train` again (README): the head learnt how far
    // to trust these rules' scores, so it must have been trained with this version.
    assert_eq!(head.rules_features.as_deref(), Some(rules.name()));
    assert_eq!(
        head.dim,
        384 + 6,
        "MiniLM's 384 dimensions, then the six rules scores"
    );
    // A stacked head weighs the rules: a phishing complaint's fraud probability moves with
    // the rules' fraud score when the embedding is held fixed.
    let (config, base) = model_config(&repo("models")).unwrap();
    let embedder = Embedder::load(&config, &base).unwrap();
    let text = "A fake Cash App support agent sent me a link and took $900 from my account.";
    let e = embedder.embed(&[text]).unwrap().remove(0);
    let with = |fraud: f32| {
        let mut x = e.clone();
        x.extend([0.0, 0.0, 0.0, 0.0, fraud, 0.0]);
        head.predict(&x)[4]
    };
    assert!(
        with(0.99) > with(0.0),
        "fraud p {} (rules 0.99) vs {} (rules 0)",
        with(0.99),
        with(0.0)
    );
}
