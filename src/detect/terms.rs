//! Emerging terms: words and two-word phrases whose share of a category's complaints jumps
//! in the recent period against the period before. Chinese is segmented with jieba-rs,
//! English split on non-letters; stop words are data (`models/detect/stopwords_*.txt`).
//!
//! Per category and term, with y documents containing the term out of n in each period,
//! the score is the log odds ratio of the two shares with a ½ continuity correction,
//! divided by its standard error (a z score): terms with z ≥ 3, at least 5 recent
//! documents and a share at least 1.5 times the earlier one are reported.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use jieba_rs::Jieba;

/// Settings of the emerging-term search.
#[derive(Debug, Clone, Copy)]
pub struct TermOptions {
    /// Weeks in the recent period (ending at the newest complaint).
    pub recent_weeks: i64,
    /// Weeks in the earlier period, just before the recent one.
    pub history_weeks: i64,
    /// Fewest recent documents with the term.
    pub min_docs: u32,
    /// Smallest z score.
    pub min_z: f64,
    /// Terms kept per category.
    pub top: usize,
}

impl Default for TermOptions {
    fn default() -> Self {
        Self {
            recent_weeks: 4,
            history_weeks: 26,
            min_docs: 5,
            min_z: 3.0,
            top: 15,
        }
    }
}

/// Tokeniser with stop words.
pub struct Tokeniser {
    jieba: std::sync::OnceLock<Jieba>,
    stop_en: HashSet<String>,
    stop_zh: HashSet<String>,
}

fn read_words(path: &Path) -> std::io::Result<HashSet<String>> {
    Ok(std::fs::read_to_string(path)?
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| l.split_whitespace())
        .map(str::to_lowercase)
        .collect())
}

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3400}'..='\u{4dbf}').contains(&c)
}

impl Tokeniser {
    /// Loads the stop-word lists from the models folder.
    pub fn load(models: &Path) -> anyhow::Result<Self> {
        let en = models.join("detect/stopwords_en.txt");
        let zh = models.join("detect/stopwords_zh.txt");
        let read = |p: &Path| read_words(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()));
        Ok(Self {
            jieba: std::sync::OnceLock::new(),
            stop_en: read(&en)?,
            stop_zh: read(&zh)?,
        })
    }

    /// The distinct terms of a text: Chinese words of two or more characters, English
    /// words of three or more letters and pairs of adjacent English content words.
    pub fn terms(&self, text: &str, chinese: bool) -> Vec<String> {
        let mut out = Vec::new();
        if chinese {
            let jieba = self.jieba.get_or_init(Jieba::new);
            for t in jieba.cut(text, false) {
                let w = t.word;
                if w.chars().count() >= 2 && w.chars().all(is_cjk) && !self.stop_zh.contains(w) {
                    out.push(w.to_string());
                }
            }
        }
        let mut prev: Option<String> = None;
        for w in text.split(|c: char| !c.is_ascii_alphabetic() && c != '\'') {
            let w = w.trim_matches('\'').to_ascii_lowercase();
            if w.len() < 3 || self.stop_en.contains(&w) || w.bytes().all(|b| b == b'x') {
                prev = None;
                continue;
            }
            if let Some(p) = prev.take() {
                out.push(format!("{p} {w}"));
            }
            out.push(w.clone());
            prev = Some(w);
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// A term whose share jumped.
#[derive(Debug, Clone, PartialEq)]
pub struct EmergingTerm {
    /// Category id.
    pub category: String,
    /// The term.
    pub term: String,
    /// Recent documents with the term.
    pub recent_docs: u32,
    /// Recent documents of the category.
    pub recent_total: u32,
    /// Earlier documents with the term.
    pub previous_docs: u32,
    /// Earlier documents of the category.
    pub previous_total: u32,
    /// Log odds ratio / its standard error.
    pub z: f64,
}

impl EmergingTerm {
    /// Share of recent documents with the term.
    pub fn recent_share(&self) -> f64 {
        f64::from(self.recent_docs) / f64::from(self.recent_total.max(1))
    }
    /// Share of earlier documents with the term.
    pub fn previous_share(&self) -> f64 {
        f64::from(self.previous_docs) / f64::from(self.previous_total.max(1))
    }
}

/// Document counts of one category: per term (recent, previous), and the totals.
#[derive(Debug, Default, Clone)]
pub struct TermCounts {
    /// term → (recent docs, previous docs).
    pub terms: HashMap<String, (u32, u32)>,
    /// Recent documents.
    pub recent: u32,
    /// Earlier documents.
    pub previous: u32,
}

impl TermCounts {
    /// Adds a document's distinct terms.
    pub fn add(&mut self, terms: &[String], recent: bool) {
        if recent {
            self.recent += 1;
        } else {
            self.previous += 1;
        }
        for t in terms {
            // Most terms were seen before: look up without copying the key.
            let e = match self.terms.get_mut(t.as_str()) {
                Some(e) => e,
                None => self.terms.entry(t.clone()).or_default(),
            };
            if recent {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
        }
    }

    /// Merges another count into this one.
    pub fn merge(&mut self, other: TermCounts) {
        self.recent += other.recent;
        self.previous += other.previous;
        for (t, (r, p)) in other.terms {
            let e = self.terms.entry(t).or_default();
            e.0 += r;
            e.1 += p;
        }
    }

    /// The emerging terms of this category, best first.
    pub fn emerging(&self, category: &str, opts: &TermOptions) -> Vec<EmergingTerm> {
        if self.recent < opts.min_docs || self.previous < 20 {
            return Vec::new();
        }
        let (nr, np) = (f64::from(self.recent), f64::from(self.previous));
        let mut out: Vec<EmergingTerm> = self
            .terms
            .iter()
            .filter(|(_, (r, _))| *r >= opts.min_docs)
            .filter_map(|(term, &(r, p))| {
                let (yr, yp) = (f64::from(r), f64::from(p));
                let a = 0.5;
                let delta = ((yr + a) / (nr - yr + a)).ln() - ((yp + a) / (np - yp + a)).ln();
                let se =
                    (1.0 / (yr + a) + 1.0 / (nr - yr + a) + 1.0 / (yp + a) + 1.0 / (np - yp + a))
                        .sqrt();
                let z = delta / se;
                let ratio = (yr / nr) / ((yp + a) / np);
                (z >= opts.min_z && ratio >= 1.5).then(|| EmergingTerm {
                    category: category.to_string(),
                    term: term.clone(),
                    recent_docs: r,
                    recent_total: self.recent,
                    previous_docs: p,
                    previous_total: self.previous,
                    z,
                })
            })
            .collect();
        out.sort_by(|a, b| b.z.total_cmp(&a.z).then_with(|| a.term.cmp(&b.term)));
        // A phrase and its own words often rise together: keep the phrase, drop a word
        // whose every recent use is inside a kept phrase.
        let mut kept: Vec<EmergingTerm> = Vec::new();
        for t in out {
            let covered = kept.iter().any(|k| {
                k.term.contains(' ')
                    && k.term.split(' ').any(|w| w == t.term)
                    && k.recent_docs == t.recent_docs
            });
            if !covered {
                kept.push(t);
            }
            if kept.len() == opts.top {
                break;
            }
        }
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_is_segmented_and_stop_words_dropped() {
        let t = Tokeniser::load(&crate::cli::models_dir()).expect("stop words");
        let terms = t.terms(
            "对方自称支付宝客服，让我下载屏幕共享软件。我们已经投诉",
            true,
        );
        assert!(terms.contains(&"客服".to_string()), "{terms:?}");
        assert!(!terms.contains(&"我们".to_string()));
        let en = t.terms(
            "The fake toll-free number XXXX asked for my gift cards",
            false,
        );
        assert!(
            en.contains(&"gift cards".to_string()) && en.contains(&"fake".to_string()),
            "{en:?}"
        );
        assert!(!en.iter().any(|w| w == "the" || w == "xxxx"));
    }

    #[test]
    fn a_term_that_jumps_is_emerging_and_a_steady_one_is_not() {
        let mut c = TermCounts::default();
        for i in 0..400 {
            let mut terms = vec!["refund".to_string()];
            if i % 100 == 0 {
                terms.push("gift cards".to_string());
            }
            c.add(&terms, false);
        }
        for i in 0..40 {
            let mut terms = vec!["refund".to_string()];
            if i % 3 == 0 {
                terms.push("gift cards".to_string());
            }
            c.add(&terms, true);
        }
        let e = c.emerging("fraud", &TermOptions::default());
        assert_eq!(
            e.iter().map(|t| t.term.as_str()).collect::<Vec<_>>(),
            vec!["gift cards"]
        );
    }
}
