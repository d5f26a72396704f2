//! Scores a classifier against labelled data: per-category precision, recall, F1 and
//! support, macro- and micro-F1, and a confusion table (gold primary × predicted primary).
//!
//! When every document has exactly one gold label (CFPB's `Issue`), the prediction scored
//! is the classifier's primary category (single-label); otherwise the predicted label set
//! is scored against the gold set (multi-label). Macro-F1 averages the categories that
//! occur in the gold labels.

use std::fmt::Write as _;

use serde::Serialize;

use super::labels::LabelledDoc;
use super::{Category, Classification};

/// Scores of one category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CategoryScore {
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
    /// Gold documents with this label.
    pub support: usize,
    /// Documents predicted with this label.
    pub predicted: usize,
}

/// A full evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Classifier name and version.
    pub classifier: String,
    /// `single-label (primary category)` or `multi-label`.
    pub mode: &'static str,
    /// Documents scored.
    pub documents: usize,
    /// Per category, in DESIGN.md's order (only categories in gold or predictions).
    pub categories: Vec<(Category, CategoryScore)>,
    /// Mean F1 over categories with gold support.
    pub macro_f1: f64,
    /// F1 of pooled counts.
    pub micro_f1: f64,
    /// Share of documents whose primary category is a gold label.
    pub primary_accuracy: f64,
    /// `confusion[gold][predicted]` over `Category::LABELS` + other, gold primary label
    /// against predicted primary category.
    pub confusion: Vec<Vec<usize>>,
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn slot(c: Category) -> usize {
    Category::ALL
        .iter()
        .position(|x| *x == c)
        .expect("Category::ALL lists every category")
}

/// Scores predictions (one per document, same order).
pub fn evaluate(docs: &[LabelledDoc], preds: &[Classification], classifier: &str) -> Report {
    assert_eq!(docs.len(), preds.len(), "one prediction per document");
    let single = docs.iter().all(|d| d.labels.len() == 1);
    let mut tp = [0usize; 7];
    let mut fp = [0usize; 7];
    let mut fn_ = [0usize; 7];
    let mut support = [0usize; 7];
    let mut predicted = [0usize; 7];
    let mut confusion = vec![vec![0usize; 7]; 7];
    let mut primary_hits = 0;
    for (d, p) in docs.iter().zip(preds) {
        let pred: Vec<Category> = if single {
            vec![p.primary_category]
        } else {
            p.categories.clone()
        };
        for c in Category::ALL {
            let g = d.labels.contains(&c);
            let q = pred.contains(&c);
            let i = slot(c);
            support[i] += usize::from(g);
            predicted[i] += usize::from(q);
            match (g, q) {
                (true, true) => tp[i] += 1,
                (false, true) => fp[i] += 1,
                (true, false) => fn_[i] += 1,
                (false, false) => {}
            }
        }
        confusion[slot(d.labels[0])][slot(p.primary_category)] += 1;
        if d.labels.contains(&p.primary_category) {
            primary_hits += 1;
        }
    }
    let mut categories = Vec::new();
    let mut f1s = Vec::new();
    let (mut stp, mut sfp, mut sfn) = (0, 0, 0);
    for c in Category::ALL {
        let i = slot(c);
        if support[i] == 0 && predicted[i] == 0 {
            continue;
        }
        let precision = ratio(tp[i], tp[i] + fp[i]);
        let recall = ratio(tp[i], tp[i] + fn_[i]);
        let s = CategoryScore {
            precision,
            recall,
            f1: f1(precision, recall),
            support: support[i],
            predicted: predicted[i],
        };
        if support[i] > 0 {
            f1s.push(s.f1);
        }
        if c != Category::Other {
            stp += tp[i];
            sfp += fp[i];
            sfn += fn_[i];
        }
        categories.push((c, s));
    }
    Report {
        classifier: classifier.to_string(),
        mode: if single {
            "single-label (primary category)"
        } else {
            "multi-label"
        },
        documents: docs.len(),
        categories,
        macro_f1: if f1s.is_empty() {
            0.0
        } else {
            f1s.iter().sum::<f64>() / f1s.len() as f64
        },
        micro_f1: f1(ratio(stp, stp + sfp), ratio(stp, stp + sfn)),
        primary_accuracy: ratio(primary_hits, docs.len()),
        confusion,
    }
}

impl Report {
    /// The report as Markdown tables (what `eval` prints and the README quotes).
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "classifier: {} · {} documents · {}\n",
            self.classifier, self.documents, self.mode
        );
        s.push_str("| category | precision | recall | F1 | support | predicted |\n|---|---:|---:|---:|---:|---:|\n");
        for (c, v) in &self.categories {
            let _ = writeln!(
                s,
                "| {} {} | {:.3} | {:.3} | {:.3} | {} | {} |",
                c.id(),
                c.zh(),
                v.precision,
                v.recall,
                v.f1,
                v.support,
                v.predicted
            );
        }
        let _ = writeln!(
            s,
            "\nmacro-F1 {:.3} · micro-F1 {:.3} · primary accuracy {:.3}\n",
            self.macro_f1, self.micro_f1, self.primary_accuracy
        );
        let used: Vec<usize> = (0..7)
            .filter(|&i| {
                self.confusion[i].iter().sum::<usize>() > 0
                    || self.confusion.iter().any(|row| row[i] > 0)
            })
            .collect();
        s.push_str("confusion (rows: gold, columns: predicted primary)\n\n| gold \\ predicted |");
        for &j in &used {
            let _ = write!(s, " {} |", Category::ALL[j].id());
        }
        s.push_str("\n|---|");
        for _ in &used {
            s.push_str("---:|");
        }
        s.push('\n');
        for &i in &used {
            let _ = write!(s, "| {} |", Category::ALL[i].id());
            for &j in &used {
                let _ = write!(s, " {} |", self.confusion[i][j]);
            }
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(labels: &[Category]) -> LabelledDoc {
        LabelledDoc {
            id: "x".into(),
            title: None,
            text: "t".into(),
            labels: labels.to_vec(),
        }
    }

    fn pred(cats: &[Category]) -> Classification {
        let mut scores = [0.0; 6];
        for (k, c) in cats.iter().enumerate() {
            if let Some(i) = c.index() {
                scores[i] = 0.9 - k as f32 * 0.1;
            }
        }
        Classification::from_scores(scores, 0.5, vec![], "t".into())
    }

    #[test]
    fn single_label_scores_by_hand() {
        use Category::*;
        let docs = vec![
            doc(&[Fraud]),
            doc(&[Fraud]),
            doc(&[Service]),
            doc(&[FundSecurity]),
        ];
        let preds = vec![
            pred(&[Fraud]),
            pred(&[Service]),
            pred(&[Service, Fraud]),
            pred(&[]),
        ];
        let r = evaluate(&docs, &preds, "t");
        let get = |c| r.categories.iter().find(|(x, _)| *x == c).unwrap().1;
        assert_eq!(get(Fraud).precision, 1.0);
        assert_eq!(get(Fraud).recall, 0.5);
        assert_eq!(get(Service).precision, 0.5);
        assert_eq!(get(Service).recall, 1.0);
        assert_eq!(get(FundSecurity).f1, 0.0);
        // macro over gold categories: fraud 0.667, service 0.667, fund_security 0.
        assert!((r.macro_f1 - (2.0 / 3.0 * 2.0) / 3.0).abs() < 1e-9);
        assert_eq!(r.confusion[slot(Fraud)][slot(Service)], 1);
        assert_eq!(r.confusion[slot(FundSecurity)][slot(Other)], 1);
        assert!(
            r.to_markdown()
                .contains("| fraud 诈骗 | 1.000 | 0.500 | 0.667 | 2 | 1 |")
        );
    }
}
