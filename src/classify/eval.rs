//! Scores a classifier against labelled data: per-category precision, recall, F1 and
//! support, macro- and micro-F1, and a confusion table (gold primary × predicted primary).
//!
//! When every document has exactly one gold label (CFPB's `Issue`), the prediction scored
//! is the classifier's primary category (single-label); otherwise the predicted label set
//! is scored against the gold set (multi-label). Macro-F1 averages the categories that
//! occur in the gold labels.
//!
//! With a few hundred labelled complaints a score moves by several points when a handful
//! of documents change, so [`bootstrap`] gives percentile intervals: documents resampled
//! with replacement, every score recomputed, with a fixed seed (the same input gives the
//! same interval).

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
    /// Bootstrap intervals of the three summary scores, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intervals: Option<Intervals>,
}

/// Percentile bootstrap intervals (see [`bootstrap`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Intervals {
    /// Resamples drawn.
    pub resamples: usize,
    /// Coverage (0.95).
    pub level: f64,
    /// Macro-F1, low and high.
    pub macro_f1: (f64, f64),
    /// Micro-F1, low and high.
    pub micro_f1: (f64, f64),
    /// Primary accuracy, low and high.
    pub primary_accuracy: (f64, f64),
}

/// One document's counts: per category (in [`Category::ALL`] order) whether it is a true
/// positive, a false positive or a false negative, and whether its primary category is a
/// gold label. Sums of these are every score of a [`Report`].
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    tp: [u32; 7],
    fp: [u32; 7],
    fn_: [u32; 7],
    hits: u32,
    docs: u32,
}

impl Counts {
    fn of(d: &LabelledDoc, p: &Classification, single: bool) -> Counts {
        let mut c = Counts {
            docs: 1,
            hits: u32::from(d.labels.contains(&p.primary_category)),
            ..Counts::default()
        };
        for cat in Category::ALL {
            let g = d.labels.contains(&cat);
            let q = if single {
                p.primary_category == cat
            } else {
                p.categories.contains(&cat)
            };
            let i = slot(cat);
            c.tp[i] += u32::from(g && q);
            c.fp[i] += u32::from(!g && q);
            c.fn_[i] += u32::from(g && !q);
        }
        c
    }

    fn add(&mut self, o: &Counts) {
        for i in 0..7 {
            self.tp[i] += o.tp[i];
            self.fp[i] += o.fp[i];
            self.fn_[i] += o.fn_[i];
        }
        self.hits += o.hits;
        self.docs += o.docs;
    }

    fn score(&self, i: usize) -> CategoryScore {
        let (tp, fp, fn_) = (
            self.tp[i] as usize,
            self.fp[i] as usize,
            self.fn_[i] as usize,
        );
        let precision = ratio(tp, tp + fp);
        let recall = ratio(tp, tp + fn_);
        CategoryScore {
            precision,
            recall,
            f1: f1(precision, recall),
            support: tp + fn_,
            predicted: tp + fp,
        }
    }

    /// Macro-F1 (over categories with gold support), micro-F1 (pooled over the six real
    /// categories), primary accuracy.
    fn summary(&self) -> (f64, f64, f64) {
        let mut f1s = Vec::new();
        let (mut stp, mut sfp, mut sfn) = (0, 0, 0);
        for c in Category::ALL {
            let i = slot(c);
            let s = self.score(i);
            if s.support > 0 {
                f1s.push(s.f1);
            }
            if c != Category::Other {
                stp += self.tp[i] as usize;
                sfp += self.fp[i] as usize;
                sfn += self.fn_[i] as usize;
            }
        }
        let macro_f1 = if f1s.is_empty() {
            0.0
        } else {
            f1s.iter().sum::<f64>() / f1s.len() as f64
        };
        (
            macro_f1,
            f1(ratio(stp, stp + sfp), ratio(stp, stp + sfn)),
            ratio(self.hits as usize, self.docs as usize),
        )
    }
}

/// Whether the gold data is single-label (every document one label: score the primary
/// category) rather than multi-label.
fn single_label(docs: &[LabelledDoc]) -> bool {
    docs.iter().all(|d| d.labels.len() == 1)
}

/// Percentile bootstrap intervals of macro-F1, micro-F1 and primary accuracy at `level`:
/// `resamples` times, as many documents as there are drawn with replacement and the scores
/// recomputed. The draws come from a fixed-seed generator, so an input always gives the
/// same intervals.
pub fn bootstrap(
    docs: &[LabelledDoc],
    preds: &[Classification],
    resamples: usize,
    level: f64,
) -> Intervals {
    assert_eq!(docs.len(), preds.len(), "one prediction per document");
    let single = single_label(docs);
    let counts: Vec<Counts> = docs
        .iter()
        .zip(preds)
        .map(|(d, p)| Counts::of(d, p, single))
        .collect();
    let mut rng = SplitMix64(0x5745_4c4c_4554_5741); // "WALLETWA"
    let n = counts.len() as u64;
    let mut draws: [Vec<f64>; 3] = Default::default();
    for _ in 0..resamples {
        let mut total = Counts::default();
        for _ in 0..n {
            total.add(&counts[(rng.next() % n) as usize]);
        }
        let (m, u, a) = total.summary();
        draws[0].push(m);
        draws[1].push(u);
        draws[2].push(a);
    }
    let [m, u, a] = draws.map(|mut v| percentiles(&mut v, level));
    Intervals {
        resamples,
        level,
        macro_f1: m,
        micro_f1: u,
        primary_accuracy: a,
    }
}

/// The `(1 - level) / 2` and `(1 + level) / 2` percentiles (nearest rank) of `v`.
fn percentiles(v: &mut [f64], level: f64) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    (at((1.0 - level) / 2.0), at((1.0 + level) / 2.0))
}

/// SplitMix64: a small, well-mixed generator, enough for drawing resamples (a Weyl
/// sequence through MinHash's finaliser, [`crate::detect::minhash::mix`]).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        crate::detect::minhash::mix(self.0)
    }
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
    let single = single_label(docs);
    let mut total = Counts::default();
    let mut confusion = vec![vec![0usize; 7]; 7];
    for (d, p) in docs.iter().zip(preds) {
        total.add(&Counts::of(d, p, single));
        confusion[slot(d.labels[0])][slot(p.primary_category)] += 1;
    }
    let categories = Category::ALL
        .into_iter()
        .map(|c| (c, total.score(slot(c))))
        .filter(|(_, s)| s.support > 0 || s.predicted > 0)
        .collect();
    let (macro_f1, micro_f1, primary_accuracy) = total.summary();
    Report {
        classifier: classifier.to_string(),
        mode: if single {
            "single-label (primary category)"
        } else {
            "multi-label"
        },
        documents: docs.len(),
        categories,
        macro_f1,
        micro_f1,
        primary_accuracy,
        confusion,
        intervals: None,
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
            "\nmacro-F1 {:.3} · micro-F1 {:.3} · primary accuracy {:.3}",
            self.macro_f1, self.micro_f1, self.primary_accuracy
        );
        if let Some(iv) = &self.intervals {
            let _ = writeln!(
                s,
                "{:.0}% bootstrap intervals ({} resamples of the {} documents): macro-F1 {:.3}–{:.3} · micro-F1 {:.3}–{:.3} · primary accuracy {:.3}–{:.3}",
                iv.level * 100.0,
                iv.resamples,
                self.documents,
                iv.macro_f1.0,
                iv.macro_f1.1,
                iv.micro_f1.0,
                iv.micro_f1.1,
                iv.primary_accuracy.0,
                iv.primary_accuracy.1
            );
        }
        s.push('\n');
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

    #[test]
    fn bootstrap_intervals_hold_the_score_and_narrow_with_more_documents() {
        use Category::*;
        // 3 of 4 right, repeated: the point scores are the same at both sizes.
        let docs_of = |k: usize| -> (Vec<LabelledDoc>, Vec<Classification>) {
            let mut d = Vec::new();
            let mut p = Vec::new();
            for _ in 0..k {
                d.extend([
                    doc(&[Fraud]),
                    doc(&[Fraud]),
                    doc(&[Service]),
                    doc(&[Service]),
                ]);
                p.extend([
                    pred(&[Fraud]),
                    pred(&[Service]),
                    pred(&[Service]),
                    pred(&[Service]),
                ]);
            }
            (d, p)
        };
        let (d, p) = docs_of(10);
        let r = evaluate(&d, &p, "t");
        let small = bootstrap(&d, &p, 500, 0.95);
        assert_eq!(small, bootstrap(&d, &p, 500, 0.95), "fixed seed");
        for (lo, hi, point) in [
            (small.macro_f1.0, small.macro_f1.1, r.macro_f1),
            (
                small.primary_accuracy.0,
                small.primary_accuracy.1,
                r.primary_accuracy,
            ),
        ] {
            assert!(lo < point && point < hi, "{lo} {point} {hi}");
        }
        let (d, p) = docs_of(100);
        let large = bootstrap(&d, &p, 500, 0.95);
        let width = |iv: (f64, f64)| iv.1 - iv.0;
        assert!(
            width(large.macro_f1) < width(small.macro_f1) / 2.0,
            "{small:?} {large:?}"
        );
        // Every prediction right: nothing to resample away.
        let all = bootstrap(&d[..2], &[p[0].clone(), p[0].clone()], 100, 0.95);
        assert_eq!(all.primary_accuracy, (1.0, 1.0));
    }
}
