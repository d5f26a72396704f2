//! Labelled data for `eval` and `train`: the CFPB CSV form (its `Issue` mapped to a
//! category by DESIGN.md's table; unmapped issues are left out and counted) or NDJSON
//! with `id`, `text`, optional `title`, and a `labels` array of category ids.

use std::path::Path;

use super::Category;
use super::input::parse_line;

/// A labelled document.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledDoc {
    /// The record's id (CFPB Complaint ID, or the NDJSON `id`).
    pub id: String,
    /// Optional title.
    pub title: Option<String>,
    /// Text.
    pub text: String,
    /// Gold labels (never empty; `other` when none applies).
    pub labels: Vec<Category>,
}

impl LabelledDoc {
    /// The document to classify.
    pub fn doc(&self) -> super::Doc<'_> {
        super::Doc {
            title: self.title.as_deref(),
            text: &self.text,
        }
    }
}

/// A labelled set read from a file.
#[derive(Debug, Clone, Default)]
pub struct LabelledSet {
    /// Usable documents.
    pub docs: Vec<LabelledDoc>,
    /// Rows left out because their label is not mapped (CFPB "Other transaction problem").
    pub unmapped: usize,
    /// Rows left out because they have no text.
    pub empty: usize,
}

/// Reads a labelled file; the form is recognised from its first bytes.
pub fn read_labelled(path: &Path) -> anyhow::Result<LabelledSet> {
    let name = path.display();
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        read_ndjson(&bytes).map_err(|e| anyhow::anyhow!("{name}: {e}"))
    } else {
        read_cfpb_csv(&bytes).map_err(|e| anyhow::anyhow!("{name}: {e}"))
    }
}

fn read_ndjson(bytes: &[u8]) -> anyhow::Result<LabelledSet> {
    let text = std::str::from_utf8(bytes).map_err(|e| anyhow::anyhow!("not UTF-8: {e}"))?;
    let mut set = LabelledSet::default();
    for (i, line) in text.lines().enumerate() {
        let n = i as u64 + 1;
        let Some(doc) = parse_line(n, line) else {
            continue;
        };
        let doc = doc?;
        let v: serde_json::Value = serde_json::from_str(line).expect("parsed above");
        let labels = v
            .get("labels")
            .and_then(|l| l.as_array())
            .ok_or_else(|| anyhow::anyhow!("line {n}: no `labels` array"))?;
        let mut cats = Vec::new();
        for l in labels {
            let s = l.as_str().unwrap_or_default();
            let c = Category::parse(s).ok_or_else(|| {
                anyhow::anyhow!(
                    "line {n}: unknown label {l}; use {} or other",
                    Category::LABELS.map(|c| c.id()).join(", ")
                )
            })?;
            if !cats.contains(&c) {
                cats.push(c);
            }
        }
        if cats.is_empty() {
            cats.push(Category::Other);
        }
        let id = match &doc.id {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if doc.text.trim().is_empty() && doc.title.is_none() {
            set.empty += 1;
            continue;
        }
        set.docs.push(LabelledDoc {
            id,
            title: doc.title,
            text: doc.text,
            labels: cats,
        });
    }
    Ok(set)
}

fn read_cfpb_csv(bytes: &[u8]) -> anyhow::Result<LabelledSet> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut r = csv::ReaderBuilder::new().flexible(false).from_reader(bytes);
    let headers = r.headers()?.clone();
    let find = |names: &[&str]| headers.iter().position(|h| names.contains(&h.trim()));
    let issue = find(&["Issue", "issue"])
        .ok_or_else(|| anyhow::anyhow!("no `Issue` column: not a CFPB CSV nor labelled NDJSON"))?;
    let text = find(&["Consumer complaint narrative", "complaint_what_happened"])
        .ok_or_else(|| anyhow::anyhow!("no `Consumer complaint narrative` column"))?;
    let id = find(&["Complaint ID", "complaint_id"]);
    let mut set = LabelledSet::default();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| anyhow::anyhow!("row {}: {e}", i + 2))?;
        let Some(cat) = Category::from_cfpb_issue(rec.get(issue).unwrap_or("")) else {
            set.unmapped += 1;
            continue;
        };
        let t = rec.get(text).unwrap_or("").trim();
        if t.is_empty() {
            set.empty += 1;
            continue;
        }
        set.docs.push(LabelledDoc {
            id: id
                .and_then(|c| rec.get(c))
                .map_or_else(|| (i + 2).to_string(), str::to_string),
            title: None,
            text: t.to_string(),
            labels: vec![cat],
        });
    }
    Ok(set)
}
