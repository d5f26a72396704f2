//! The report: a self-contained `index.html` (no external requests, every text from the
//! data HTML-escaped), `summary.md` and `ratings.csv`, from the store, its classification,
//! the `detect` tables and the ratings. Charts ([`charts`]) are inlined as SVG, with the
//! shipped CJK font embedded as a `data:` URI so Chinese labels render offline.

pub mod charts;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use polars::prelude::*;

use crate::classify::Category;
use crate::classify::table::join_classification;
use crate::score::Rating;
use crate::store::{Store, write_atomic};

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Headline numbers and examples read from the store.
#[derive(Debug, Default)]
pub struct Overview {
    /// Complaints stored.
    pub complaints: usize,
    /// Distinct providers.
    pub providers: usize,
    /// First and last day received.
    pub first: Option<String>,
    /// Last day received.
    pub last: Option<String>,
    /// Complaints per category (multi-label).
    pub categories: BTreeMap<String, usize>,
    /// One example text per category (the first met), 400 characters.
    pub examples: BTreeMap<String, (String, String)>,
    /// Complaints per source.
    pub sources: BTreeMap<String, usize>,
}

/// Reads the overview: counts, dates, categories and an example per category.
pub fn overview(store: &Store) -> anyhow::Result<Overview> {
    let mut o = Overview::default();
    let mut providers = std::collections::HashSet::new();
    for part in store.complaint_files()? {
        let p = part.display().to_string();
        let source = crate::store::source_of(&part);
        let lf = LazyFrame::scan_parquet(PlRefPath::new(p.as_str()), ScanArgsParquet::default())?
            .select([
                col("complaint_id"),
                col("source_id"),
                col("provider"),
                col("received_at").cast(DataType::String),
                col("title"),
                col("text"),
            ]);
        let joined = join_classification(store, &part, lf.clone(), &["primary_category"])?;
        let classified = joined.is_some();
        let df = joined.unwrap_or(lf).collect()?;
        *o.sources.entry(source).or_default() += df.height();
        o.complaints += df.height();
        let prov = df.column("provider")?.str()?;
        let dates = df.column("received_at")?.str()?;
        let sid = df.column("source_id")?.str()?;
        let texts = df.column("text")?.str()?;
        let prim = if classified {
            Some(df.column("primary_category")?.str()?.clone())
        } else {
            None
        };
        for i in 0..df.height() {
            if let Some(p) = prov.get(i) {
                providers.insert(p.to_string());
            }
            if let Some(d) = dates.get(i) {
                if o.first.as_deref().is_none_or(|f| d < f) {
                    o.first = Some(d.to_string());
                }
                if o.last.as_deref().is_none_or(|l| d > l) {
                    o.last = Some(d.to_string());
                }
            }
            if let Some(cat) = prim.as_ref().and_then(|p| p.get(i)) {
                *o.categories.entry(cat.to_string()).or_default() += 1;
                if let (false, Some(t)) = (o.examples.contains_key(cat), texts.get(i)) {
                    let short: String = t.chars().take(400).collect();
                    o.examples.insert(
                        cat.to_string(),
                        (sid.get(i).unwrap_or("").to_string(), short),
                    );
                }
            }
        }
    }
    o.providers = providers.len();
    Ok(o)
}

/// A CSV table of the `detect` results, as header + rows; empty when `detect` has not run.
pub fn detect_table(store: &Store, name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let path = crate::detect::detect_dir(store).join(format!("{name}.csv"));
    let Ok(mut r) = csv::Reader::from_path(&path) else {
        return (Vec::new(), Vec::new());
    };
    let header = r
        .headers()
        .map(|h| h.iter().map(str::to_string).collect())
        .unwrap_or_default();
    let rows = r
        .records()
        .flatten()
        .map(|rec| rec.iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

fn html_table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    out.push_str("<table><thead><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>\n");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{}</td>", escape(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

fn pick(header: &[String], rows: &[Vec<String>], cols: &[&str], limit: usize) -> Vec<Vec<String>> {
    let idx: Vec<Option<usize>> = cols
        .iter()
        .map(|c| header.iter().position(|h| h == c))
        .collect();
    rows.iter()
        .take(limit)
        .map(|r| {
            idx.iter()
                .map(|i| i.and_then(|i| r.get(i).cloned()).unwrap_or_default())
                .collect()
        })
        .collect()
}

const STYLE: &str = "body{font-family:system-ui,'Noto Sans CJK SC','WenQuanYi Micro Hei','walletwatch-cjk',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;text-align:left}\
th{background:#f3f3f3}\
.kpi{display:inline-block;margin:0 2em 1em 0}.kpi b{display:block;font-size:1.8em}";

/// The SVG of a chart, ready to inline: the XML declaration dropped.
fn inline_svg(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

/// Writes `index.html`, `summary.md` and `ratings.csv` into `out`; returns the index path.
/// `charts` are inlined; `font` (the shipped CJK font) is embedded for them.
pub fn write_report(
    store: &Store,
    ratings: &[Rating],
    ratings_csv: &str,
    charts: &[charts::Written],
    font: Option<&[u8]>,
    out: &Path,
) -> anyhow::Result<std::path::PathBuf> {
    std::fs::create_dir_all(out).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    let o = overview(store)?;
    let (ch, campaigns) = detect_table(store, "campaigns");
    let (sh, spikes) = detect_table(store, "spikes");
    let (th, terms) = detect_table(store, "emerging_terms");
    let fraud = o.categories.get("fraud").copied().unwrap_or(0);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>walletwatch report</title>\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:\">\
         <style>{}{STYLE}</style></head><body>\n<h1>walletwatch report</h1>\n<h2 id=\"overview\">Overview</h2>\n\
         <div class=\"kpi\"><b>{}</b>complaints</div><div class=\"kpi\"><b>{}</b>providers</div>\
         <div class=\"kpi\"><b>{} – {}</b>received</div><div class=\"kpi\"><b>{:.0}%</b>fraud (诈骗)</div><div class=\"kpi\"><b>{}</b>campaigns</div>\n",
        font.map(|f| format!("@font-face{{font-family:'walletwatch-cjk';src:url(data:font/ttf;base64,{})}}svg text{{font-family:'walletwatch-cjk',sans-serif}}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, f))).unwrap_or_default(),
        o.complaints,
        o.providers,
        escape(o.first.as_deref().unwrap_or("?")),
        escape(o.last.as_deref().unwrap_or("?")),
        100.0 * fraud as f64 / o.complaints.max(1) as f64,
        campaigns.len()
    );
    let chart = |h: &mut String, name: &str| {
        if let Some(c) = charts.iter().find(|c| c.name == name) {
            let _ = writeln!(
                h,
                "<figure id=\"chart-{name}\">{}</figure>",
                inline_svg(&c.svg)
            );
        }
    };
    h.push_str("<h2 id=\"trends\">Trends</h2>\n");
    chart(&mut h, "categories_monthly");
    chart(&mut h, "providers_monthly");
    chart(&mut h, "fraud_share");
    h.push_str("<h2 id=\"categories\">Categories</h2>\n<p>Primary category of each complaint (rules or model, see the classifier column of the exports).</p>\n");
    let mut cat_rows = Vec::new();
    for c in Category::ALL {
        let n = o.categories.get(c.id()).copied().unwrap_or(0);
        let (id, ex) = o.examples.get(c.id()).cloned().unwrap_or_default();
        cat_rows.push(vec![
            format!("{} {}", c.id(), c.zh()),
            n.to_string(),
            if ex.is_empty() {
                String::new()
            } else {
                format!("{id}: {ex}")
            },
        ]);
    }
    html_table(
        &mut h,
        &["category", "complaints", "example complaint"],
        &cat_rows,
    );
    h.push_str("<h2 id=\"ratings\">Providers and ratings</h2>\n<p>Score 0–100 (higher is better), 90% interval and n; NR = not rated (fewer than the minimum complaints). Method: docs/rating-method.md.</p>\n");
    let rating_rows: Vec<Vec<String>> = ratings
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.grade.clone(),
                format!("{:.1}", r.score),
                format!("{:.1}–{:.1}", r.low, r.high),
                r.n.to_string(),
                r.drivers.join("; "),
            ]
        })
        .collect();
    html_table(
        &mut h,
        &["provider", "grade", "score", "90% interval", "n", "drivers"],
        &rating_rows,
    );
    chart(&mut h, "ratings");
    h.push_str("<h2 id=\"campaigns\">Fraud campaigns</h2>\n");
    if ch.is_empty() {
        h.push_str("<p>Not available: run <code>walletwatch detect</code>.</p>\n");
    } else {
        let cols = [
            "campaign_id",
            "size",
            "first_seen",
            "last_seen",
            "providers",
            "linked_by",
            "top_indicators",
            "sample_1",
        ];
        html_table(&mut h, &cols, &pick(&ch, &campaigns, &cols, 15));
        h.push_str("<h2 id=\"spikes\">Spikes</h2>\n");
        chart(&mut h, "spikes");
        let cols = [
            "provider",
            "category",
            "week_start",
            "observed",
            "expected",
            "p_value",
        ];
        html_table(&mut h, &cols, &pick(&sh, &spikes, &cols, 30));
        h.push_str("<h2 id=\"terms\">Emerging terms</h2>\n");
        let cols = [
            "category",
            "term",
            "recent_docs",
            "recent_share",
            "previous_share",
            "z",
        ];
        html_table(&mut h, &cols, &pick(&th, &terms, &cols, 40));
    }
    h.push_str("<h2 id=\"method\">Method and data sources</h2>\n<ul>");
    for (s, n) in &o.sources {
        let _ = write!(
            h,
            "<li>source <code>{}</code>: {n} complaints</li>",
            escape(s)
        );
    }
    h.push_str("</ul>\n<p>Categories: docs/rules-format.md; fraud patterns: docs/detect.md; ratings: docs/rating-method.md. Personal data is masked in every text; all texts are shown as data, escaped.</p>\n</body></html>\n");
    let index = out.join("index.html");
    write_atomic(&index, h.as_bytes())?;
    write_atomic(&out.join("ratings.csv"), ratings_csv.as_bytes())?;
    let mut md = format!(
        "# walletwatch report\n\n{} complaints, {} providers, received {} – {}; {} campaigns, {} spikes.\n\n## Ratings\n\n| provider | grade | score | 90% interval | n |\n|---|---|---:|---|---:|\n",
        o.complaints,
        o.providers,
        o.first.as_deref().unwrap_or("?"),
        o.last.as_deref().unwrap_or("?"),
        campaigns.len(),
        spikes.len()
    );
    for r in ratings.iter().take(30) {
        let _ = writeln!(
            md,
            "| {} | {} | {:.1} | {:.1}–{:.1} | {} |",
            r.name.replace('|', "\\|"),
            r.grade,
            r.score,
            r.low,
            r.high,
            r.n
        );
    }
    md.push_str("\n## Categories\n\n| category | complaints |\n|---|---:|\n");
    for c in Category::ALL {
        let _ = writeln!(
            md,
            "| {} {} | {} |",
            c.id(),
            c.zh(),
            o.categories.get(c.id()).copied().unwrap_or(0)
        );
    }
    write_atomic(&out.join("summary.md"), md.as_bytes())?;
    Ok(index)
}
