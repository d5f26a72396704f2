//! Labelled data for `eval` and `train`: the CFPB CSV form (its `Issue` mapped to a
//! category by DESIGN.md's table; unmapped issues are left out and counted) or NDJSON
//! with `id`, `text`, optional `title`, and a `labels` array of category ids.

use std::path::Path;

use super::Category;
use super::input::{Lines, doc_from_value, id_key, parse_json};

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

/// Labels for CFPB complaints about other products than the money-transfer one, by their
/// (Issue, Sub-issue) pair: extra training data (`data/labels/cfpb_other_products.toml`,
/// `train --issue-map`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueMap {
    /// Products whose rows this map labels (their rows are labelled by it alone).
    pub products: Vec<String>,
    /// The labelled pairs.
    #[serde(rename = "label")]
    pub labels: Vec<IssueLabel>,
}

/// One category for an Issue and some of its Sub-issues.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueLabel {
    /// Category id.
    pub category: String,
    /// CFPB Issue.
    pub issue: String,
    /// CFPB Sub-issues of that Issue (`""` for none).
    pub sub_issues: Vec<String>,
}

impl IssueMap {
    /// Reads and checks a map file (errors name the file and what is wrong).
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let name = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let map: IssueMap = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        for l in &map.labels {
            match Category::parse(&l.category) {
                Some(c) if c != Category::Other => {}
                _ => anyhow::bail!(
                    "{name}: unknown category {:?} for issue {:?}; use {}",
                    l.category,
                    l.issue,
                    Category::LABELS.map(|c| c.id()).join(", ")
                ),
            }
        }
        Ok(map)
    }

    /// `None` when the product is not this map's; else the category of the pair, if listed.
    fn label(&self, product: &str, issue: &str, sub_issue: &str) -> Option<Option<Category>> {
        if !self.products.iter().any(|p| p == product) {
            return None;
        }
        Some(
            self.labels
                .iter()
                .find(|l| l.issue == issue && l.sub_issues.iter().any(|s| s == sub_issue))
                .and_then(|l| Category::parse(&l.category)),
        )
    }
}

/// Reads a labelled file; the form is recognised from its first bytes.
pub fn read_labelled(path: &Path) -> anyhow::Result<LabelledSet> {
    read_labelled_with(path, None)
}

/// Reads a labelled file, CFPB rows of the products of `map` labelled by it. Forms: NDJSON
/// with `labels`, CFPB's CSV, or CFPB's JSON API records one a line (`complaint_id`,
/// `issue`, `complaint_what_happened`, bare or under `_source`); any of them gzipped.
pub fn read_labelled_with(path: &Path, map: Option<&IssueMap>) -> anyhow::Result<LabelledSet> {
    let name = path.display();
    let bytes = read_maybe_gzipped(path)?;
    if is_ndjson(&bytes) {
        read_ndjson(&bytes, map).map_err(|e| anyhow::anyhow!("{name}: {e}"))
    } else {
        read_cfpb_csv(&bytes, map).map_err(|e| anyhow::anyhow!("{name}: {e}"))
    }
}

/// A file's bytes, gunzipped when they start with gzip's magic number (`.jsonl.gz` as
/// CFPB publishes it).
fn read_maybe_gzipped(path: &Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let name = path.display();
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes.as_slice())
        .read_to_end(&mut out)
        .map_err(|e| anyhow::anyhow!("{name}: not a readable gzip file: {e}"))?;
    Ok(out)
}

/// A CFPB JSON API record (`complaint_id` and `issue`, bare or under `_source`).
fn cfpb_api_record(v: &serde_json::Value) -> Option<&serde_json::Map<String, serde_json::Value>> {
    let obj = v.as_object()?;
    let obj = obj
        .get("_source")
        .and_then(|s| s.as_object())
        .unwrap_or(obj);
    (obj.contains_key("complaint_id") && obj.contains_key("issue") && !obj.contains_key("labels"))
        .then_some(obj)
}

/// One CFPB complaint (CSV row or API record) added to `set`: its Issue mapped (by `map`
/// for its products, else by DESIGN.md's table), or counted as unmapped or empty.
fn push_cfpb(
    set: &mut LabelledSet,
    map: Option<&IssueMap>,
    id: String,
    text: &str,
    product: &str,
    issue: &str,
    sub_issue: &str,
) {
    let label = match map.and_then(|m| m.label(product, issue, sub_issue)) {
        Some(by_map) => by_map,
        None => Category::from_cfpb_issue(issue),
    };
    let Some(cat) = label else {
        set.unmapped += 1;
        return;
    };
    let t = text.trim();
    if t.is_empty() {
        set.empty += 1;
        return;
    }
    set.docs.push(LabelledDoc {
        id,
        title: None,
        text: t.to_string(),
        labels: vec![cat],
    });
}

/// The complaint ids of a CFPB CSV (`Complaint ID`) or NDJSON (`id`) file, whatever their
/// labels: a held-out split whose documents training must never see.
pub fn ids_of(path: &Path) -> anyhow::Result<std::collections::HashSet<String>> {
    let name = path.display();
    let bytes = read_maybe_gzipped(path)?;
    let mut ids = std::collections::HashSet::new();
    if is_ndjson(&bytes) {
        for line in String::from_utf8_lossy(&bytes).lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let id = match cfpb_api_record(&v) {
                Some(rec) => rec.get("complaint_id"),
                None => v.get("id"),
            };
            if let Some(id) = id {
                ids.insert(id_key(id));
            }
        }
        return Ok(ids);
    }
    let mut r = csv::ReaderBuilder::new().from_reader(without_bom(&bytes));
    let col = r
        .headers()?
        .iter()
        .position(|h| matches!(h.trim(), "Complaint ID" | "complaint_id"))
        .ok_or_else(|| anyhow::anyhow!("{name}: no `Complaint ID` column"))?;
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        ids.insert(csv_key(rec.get(col), i + 2));
    }
    Ok(ids)
}

fn read_ndjson(bytes: &[u8], map: Option<&IssueMap>) -> anyhow::Result<LabelledSet> {
    let mut set = LabelledSet::default();
    let mut first_line = std::collections::HashMap::new();
    // Answers and labels are matched by id: two documents under one id would share one
    // answer in `eval --predictions`.
    let mut once = |id: &str, n: u64| match first_line.insert(id.to_string(), n) {
        Some(first) => Err(anyhow::anyhow!(
            "line {n}: id {id:?} is labelled twice (first on line {first})"
        )),
        None => Ok(()),
    };
    for line in Lines::new(bytes) {
        let (n, line) = line??;
        if line.trim().is_empty() {
            continue;
        }
        let v = parse_json(n, line.trim())?;
        if let Some(rec) = cfpb_api_record(&v) {
            let field = |k: &str| rec.get(k).and_then(|x| x.as_str()).unwrap_or("");
            let id = rec.get("complaint_id").map(id_key).unwrap_or_default();
            once(&id, n)?;
            push_cfpb(
                &mut set,
                map,
                id,
                field("complaint_what_happened"),
                field("product"),
                field("issue"),
                field("sub_issue"),
            );
            continue;
        }
        let (doc, v) = doc_from_value(n, v)?;
        let labels = v.get("labels").and_then(|l| l.as_array()).ok_or_else(|| {
            anyhow::anyhow!(
                "line {n}: no `labels` array (nor a CFPB record's `complaint_id` and `issue`)"
            )
        })?;
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
        let id = id_key(&doc.id);
        once(&id, n)?;
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

/// The key of a CFPB CSV row, in labelled files and held-out splits alike: its Complaint
/// ID, else its row number (`row`, 1-based with the header).
fn csv_key(id: Option<&str>, row: usize) -> String {
    id.filter(|s| !s.trim().is_empty())
        .map_or_else(|| row.to_string(), str::to_string)
}

/// Whether a labelled file is NDJSON (its first non-blank byte opens an object); else CSV.
fn is_ndjson(bytes: &[u8]) -> bool {
    without_bom(bytes).iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// CSV bytes without a UTF-8 byte-order mark.
fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

fn read_cfpb_csv(bytes: &[u8], map: Option<&IssueMap>) -> anyhow::Result<LabelledSet> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(without_bom(bytes));
    let headers = r.headers()?.clone();
    let find = |names: &[&str]| headers.iter().position(|h| names.contains(&h.trim()));
    let issue = find(&["Issue", "issue"])
        .ok_or_else(|| anyhow::anyhow!("no `Issue` column: not a CFPB CSV nor labelled NDJSON"))?;
    let text = find(&["Consumer complaint narrative", "complaint_what_happened"])
        .ok_or_else(|| anyhow::anyhow!("no `Consumer complaint narrative` column"))?;
    let id = find(&["Complaint ID", "complaint_id"]);
    let product = find(&["Product", "product"]);
    let sub_issue = find(&["Sub-issue", "sub_issue"]);
    let mut set = LabelledSet::default();
    let mut first_row = std::collections::HashMap::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| anyhow::anyhow!("row {}: {e}", i + 2))?;
        let doc_id = csv_key(id.and_then(|c| rec.get(c)), i + 2);
        if let Some(first) = first_row.insert(doc_id.clone(), i + 2) {
            anyhow::bail!(
                "row {}: Complaint ID {doc_id:?} appears twice (first on row {first})",
                i + 2
            );
        }
        let get = |c: Option<usize>| c.and_then(|c| rec.get(c)).unwrap_or("").trim();
        push_cfpb(
            &mut set,
            map,
            doc_id,
            get(Some(text)),
            get(product),
            get(Some(issue)),
            get(sub_issue),
        );
    }
    Ok(set)
}
