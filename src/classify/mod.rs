//! Classification: every complaint gets the categories of DESIGN.md, multi-label, with a
//! score per label, the evidence, and the classifier's name and version.
//!
//! Classifiers share one interface ([`Classifier`]); the store keeps one classification
//! table beside the complaint table ([`table`]); [`eval`] scores a classifier against
//! labelled data. The rules classifier ([`rules`]) needs nothing installed; the model
//! classifier (`bert`, a cargo feature) needs libtorch.

#[cfg(feature = "bert")]
pub mod bert;
pub mod eval;
pub mod head;
pub mod input;
pub mod labels;
mod phrases;
pub mod predictions;
pub mod rules;
pub mod table;
#[cfg(feature = "bert")]
pub mod train;

use std::fmt;

use serde::Serialize;

/// A category of DESIGN.md. `Other` is the answer when nothing fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 交易失败: a payment, transfer, top-up, withdrawal or refund failed or is stuck.
    FailedTransaction,
    /// 资金安全: money left or was blocked without the user's consent.
    FundSecurity,
    /// 账户被盗: someone else got into the account.
    AccountTakeover,
    /// 个人信息泄露: personal data exposed or misused.
    DataLeak,
    /// 诈骗: the user was deceived into paying.
    Fraud,
    /// 客服与处理: service unreachable, complaints ignored, restrictions, fees, rules.
    Service,
    /// Nothing fits.
    Other,
}

impl Category {
    /// The six real categories, in DESIGN.md's order (`Other` excluded).
    pub const LABELS: [Category; 6] = [
        Category::FailedTransaction,
        Category::FundSecurity,
        Category::AccountTakeover,
        Category::DataLeak,
        Category::Fraud,
        Category::Service,
    ];

    /// Every category, the six real ones then `Other`.
    pub const ALL: [Category; 7] = [
        Category::FailedTransaction,
        Category::FundSecurity,
        Category::AccountTakeover,
        Category::DataLeak,
        Category::Fraud,
        Category::Service,
        Category::Other,
    ];

    /// The id used in files and output (`fund_security`).
    pub fn id(self) -> &'static str {
        match self {
            Category::FailedTransaction => "failed_transaction",
            Category::FundSecurity => "fund_security",
            Category::AccountTakeover => "account_takeover",
            Category::DataLeak => "data_leak",
            Category::Fraud => "fraud",
            Category::Service => "service",
            Category::Other => "other",
        }
    }

    /// The Chinese name (资金安全).
    pub fn zh(self) -> &'static str {
        match self {
            Category::FailedTransaction => "交易失败",
            Category::FundSecurity => "资金安全",
            Category::AccountTakeover => "账户被盗",
            Category::DataLeak => "个人信息泄露",
            Category::Fraud => "诈骗",
            Category::Service => "客服与处理",
            Category::Other => "其他",
        }
    }

    /// Index into [`Category::LABELS`] (`None` for `Other`).
    pub fn index(self) -> Option<usize> {
        Category::LABELS.iter().position(|c| *c == self)
    }

    /// Parses an id or a Chinese name.
    pub fn parse(s: &str) -> Option<Category> {
        let s = s.trim();
        Category::ALL
            .into_iter()
            .find(|c| c.id().eq_ignore_ascii_case(s) || c.zh() == s)
    }

    /// The category of a CFPB `Issue`, by DESIGN.md's table; `None` for issues that are not
    /// mapped ("Other transaction problem" and anything unknown).
    pub fn from_cfpb_issue(issue: &str) -> Option<Category> {
        match issue.trim() {
            "Fraud or scam" => Some(Category::Fraud),
            "Unauthorized transactions or other transaction problem"
            | "Trouble accessing funds in your mobile or digital wallet" => {
                Some(Category::FundSecurity)
            }
            "Money was not available when promised"
            | "Wrong amount charged or received"
            | "Problem adding money" => Some(Category::FailedTransaction),
            "Problem with customer service"
            | "Other service problem"
            | "Managing, opening, or closing your mobile wallet account"
            | "Unexpected or other fees"
            | "Confusing or missing disclosures"
            | "Confusing or misleading advertising or marketing" => Some(Category::Service),
            _ => None,
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Why a label was given: the phrases that matched, or the model and its score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// The category this evidence is for.
    pub category: Category,
    /// Which classifier decided (`rules`, `bert`; under `auto` the one that was trusted).
    pub by: &'static str,
    /// Matched phrases (rules) or a description of the model's decision.
    pub detail: Vec<String>,
}

/// One complaint's classification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    /// Assigned labels, highest score first; `[other]` when nothing fits.
    pub categories: Vec<Category>,
    /// The highest-scoring assigned label, or `other`.
    pub primary_category: Category,
    /// Score per real category, in [0, 1], in [`Category::LABELS`] order.
    pub scores: [f32; 6],
    /// Evidence for each assigned label (and for labels suppressed by a negation).
    pub evidence: Vec<Evidence>,
    /// Classifier name and version (`rules@1.0+3f9a…`).
    pub classifier: String,
}

/// `s` as a JSON string, as serde_json writes it.
fn write_json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        serde_json::to_writer(&mut *out, s).expect("a string always serialises");
    } else {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// `s` rounded to thousandths, written as serde_json writes that `f64` (`0.0`, `0.55`,
/// `0.123`, `1.0`): for 0..=1, the common case, the digits are written directly (serde's
/// shortest round-trip form of k/1000 is those digits, trailing zeros dropped); anything
/// else goes through serde_json.
fn write_thousandths(out: &mut Vec<u8>, s: f32) {
    let r = (f64::from(s) * 1000.0).round();
    if (0.0..=1000.0).contains(&r) && !(r == 0.0 && r.is_sign_negative()) {
        match r as u32 {
            0 => out.extend_from_slice(b"0.0"),
            1000 => out.extend_from_slice(b"1.0"),
            k => {
                let digits = [
                    b'0' + (k / 100) as u8,
                    b'0' + (k / 10 % 10) as u8,
                    b'0' + (k % 10) as u8,
                ];
                let zeros = digits.iter().rev().take_while(|&&d| d == b'0').count();
                out.extend_from_slice(b"0.");
                out.extend_from_slice(&digits[..3 - zeros]);
            }
        }
        return;
    }
    serde_json::to_writer(&mut *out, &(r / 1000.0)).expect("a finite number always serialises");
}

impl Classification {
    /// Builds the labels from scores and a threshold: every category at or above the
    /// threshold, highest first; `other` when none is.
    pub fn from_scores(
        scores: [f32; 6],
        threshold: f32,
        evidence: Vec<Evidence>,
        classifier: String,
    ) -> Self {
        let mut assigned: Vec<(Category, f32)> = Category::LABELS
            .into_iter()
            .zip(scores)
            .filter(|(_, s)| *s >= threshold)
            .collect();
        assigned.sort_by(|a, b| b.1.total_cmp(&a.1));
        let categories: Vec<Category> = if assigned.is_empty() {
            vec![Category::Other]
        } else {
            assigned.iter().map(|(c, _)| *c).collect()
        };
        Self {
            primary_category: categories[0],
            categories,
            scores,
            evidence,
            classifier,
        }
    }

    /// The scores as a JSON object keyed by category id, rounded to 3 decimals.
    pub fn scores_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for (c, s) in Category::LABELS.iter().zip(self.scores) {
            let r = (f64::from(s) * 1000.0).round() / 1000.0;
            m.insert(c.id().to_string(), serde_json::json!(r));
        }
        serde_json::Value::Object(m)
    }

    /// [`Classification::scores_json`] as text, written directly (the store writes one per
    /// complaint): the same bytes as serialising the JSON object, keys in id order.
    pub fn scores_json_text(&self) -> String {
        let mut pairs: Vec<(&str, f32)> = Category::LABELS
            .iter()
            .map(|c| c.id())
            .zip(self.scores)
            .collect();
        pairs.sort_unstable_by_key(|(id, _)| *id);
        let mut out = Vec::with_capacity(160);
        out.push(b'{');
        for (i, (id, s)) in pairs.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(id.as_bytes());
            out.extend_from_slice(b"\":");
            write_thousandths(&mut out, s);
        }
        out.push(b'}');
        String::from_utf8(out).expect("ids and numbers are ASCII")
    }

    /// The evidence as JSON text, written directly (the store writes one per complaint):
    /// the bytes `serde_json::to_string(&self.evidence)` gives. Phrases without a quote,
    /// backslash or control character are copied as they are; others go through serde.
    pub fn evidence_json_text(&self) -> String {
        let mut out = Vec::with_capacity(64 + 24 * self.evidence.len());
        out.push(b'[');
        for (i, e) in self.evidence.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"category\":\"");
            out.extend_from_slice(e.category.id().as_bytes());
            out.extend_from_slice(b"\",\"by\":");
            write_json_str(&mut out, e.by);
            out.extend_from_slice(b",\"detail\":[");
            for (j, d) in e.detail.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                write_json_str(&mut out, d);
            }
            out.extend_from_slice(b"]}");
        }
        out.push(b']');
        String::from_utf8(out).expect("built from strings")
    }

    /// The NDJSON line of `classify --input`: `id`, `categories`, `primary_category`,
    /// `scores`, `evidence`, `classifier`.
    pub fn to_json(&self, id: &serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "id": id,
            "categories": self.categories,
            "primary_category": self.primary_category,
            "scores": self.scores_json(),
            "evidence": self.evidence,
            "classifier": self.classifier,
        })
    }
}

/// Which classifier to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClassifierKind {
    /// Lexicons and patterns from `models/rules/` (the default; needs nothing installed).
    Rules,
    /// Sentence embeddings from a transformer plus the trained head (`bert` build only).
    Bert,
    /// The model where it is trustworthy for the language, rules otherwise (and a
    /// fallback model where the rules give no category and it is sure).
    Auto,
}

/// Builds a classifier from the models folder; `model` names a model config of
/// `models/bert/` (default: `models/bert/models.toml`'s choice).
pub fn build_classifier(
    kind: ClassifierKind,
    models: &std::path::Path,
    model: Option<&str>,
) -> anyhow::Result<Box<dyn Classifier>> {
    #[cfg(not(feature = "bert"))]
    let _ = model;
    match kind {
        ClassifierKind::Rules => Ok(Box::new(rules::Rules::load(&models.join("rules"))?)),
        #[cfg(feature = "bert")]
        ClassifierKind::Bert => {
            let (config, base) = bert::model_config(models, model)?;
            Ok(Box::new(bert::Bert::load(&config, &base, models)?))
        }
        #[cfg(feature = "bert")]
        ClassifierKind::Auto => Ok(Box::new(bert::load_auto(models, model)?)),
        #[cfg(not(feature = "bert"))]
        ClassifierKind::Bert | ClassifierKind::Auto => Err(no_bert()),
    }
}

/// The error of model commands in a build without the `bert` feature.
pub fn no_bert() -> anyhow::Error {
    anyhow::anyhow!(
        "this walletwatch was built without the `bert` feature; build it with \
         `eval \"$(scripts/setup-model.sh)\" && cargo build --release --features bert` \
         (see README, \"Model classifier\"), or use --classifier rules"
    )
}

/// A text to classify.
#[derive(Debug, Clone, Copy)]
pub struct Doc<'a> {
    /// Title, if any (weighs more than the body in the rules).
    pub title: Option<&'a str>,
    /// Body text.
    pub text: &'a str,
}

/// Anything that classifies complaints.
pub trait Classifier: Send + Sync {
    /// Name and version, stored with every result.
    fn name(&self) -> &str;
    /// Classifies a batch (models batch for speed; rules simply map).
    fn classify_batch(&self, docs: &[Doc<'_>]) -> anyhow::Result<Vec<Classification>>;
    /// Store part files to keep in hand at once while classifying the store: several
    /// let parts' Parquet reading and writing overlap others' classification, which pays
    /// for a classifier as fast as the reading (the rules: with ingest's 30,000-row
    /// batches split by year, parts hold ~6,000 complaints, and four in hand classify 1M
    /// complaints in 2.41-2.60 s against 2.62-3.02 s with two, 80 MB more); a model that
    /// is the bottleneck gains nothing from it and would hold more parts in memory.
    fn parts_in_hand(&self) -> usize {
        4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cfpb_issue_mapping_follows_design() {
        assert_eq!(
            Category::from_cfpb_issue("Fraud or scam"),
            Some(Category::Fraud)
        );
        assert_eq!(
            Category::from_cfpb_issue("Problem adding money"),
            Some(Category::FailedTransaction)
        );
        assert_eq!(Category::from_cfpb_issue("Other transaction problem"), None);
        assert_eq!(Category::parse("资金安全"), Some(Category::FundSecurity));
        assert_eq!(Category::parse("Fraud"), Some(Category::Fraud));
    }

    #[test]
    fn scores_text_is_the_json_object_serialised() {
        let c = Classification::from_scores(
            [0.0, 0.55123, 1.0, 0.3333, 0.9995, 0.1],
            0.5,
            Vec::new(),
            "t".into(),
        );
        assert_eq!(c.scores_json_text(), c.scores_json().to_string());
    }

    #[test]
    fn thousandths_are_written_as_serde_writes_them() {
        // Every thousandth from 0 to 1, values between them, and what the fast path
        // leaves to serde (negative, above 1, negative zero).
        let mut values: Vec<f32> = (0..=1000).map(|k| k as f32 / 1000.0).collect();
        values.extend((0..=4000).map(|k| k as f32 / 4000.0 + 0.000_123));
        values.extend([-0.0, -0.0004, -0.25, 1.0004, 1.5, 3.25, 0.0005, 0.9995]);
        for s in values {
            let mut ours = Vec::new();
            write_thousandths(&mut ours, s);
            let r = (f64::from(s) * 1000.0).round() / 1000.0;
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&r).unwrap(),
                "{s}"
            );
        }
    }

    #[test]
    fn evidence_text_is_the_evidence_serialised() {
        let detail = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for evidence in [
            vec![],
            vec![Evidence {
                category: Category::FailedTransaction,
                by: "rules",
                detail: vec![],
            }],
            vec![
                Evidence {
                    category: Category::Fraud,
                    by: "rules",
                    detail: detail(&["scammer", "冒充客服", "negated:not a scam", "it's"]),
                },
                Evidence {
                    category: Category::AccountTakeover,
                    by: "bert",
                    detail: detail(&[
                        "say \"hi\"",
                        "back\\slash",
                        "tab\tnew\nline\r",
                        "\u{1}\u{1f}\u{7f}",
                        "emoji 🙂",
                        "pattern:defanged-url",
                    ]),
                },
            ],
        ] {
            let c = Classification {
                categories: vec![Category::Other],
                primary_category: Category::Other,
                scores: [0.0; 6],
                evidence,
                classifier: "t".into(),
            };
            assert_eq!(
                c.evidence_json_text(),
                serde_json::to_string(&c.evidence).unwrap()
            );
        }
    }

    #[test]
    fn nothing_above_threshold_is_other() {
        let c = Classification::from_scores([0.1; 6], 0.5, vec![], "t".into());
        assert_eq!(c.categories, vec![Category::Other]);
        let c =
            Classification::from_scores([0.6, 0.0, 0.0, 0.0, 0.9, 0.0], 0.5, vec![], "t".into());
        assert_eq!(
            c.categories,
            vec![Category::Fraud, Category::FailedTransaction]
        );
        assert_eq!(c.primary_category, Category::Fraud);
    }
}
