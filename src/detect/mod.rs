//! Fraud patterns (DESIGN.md): scam indicators, campaigns (shared indicators and
//! near-duplicate texts, linked with union-find), weekly spikes per provider × category,
//! and emerging terms. Reads the complaint and classification tables of the store; writes
//! `<store>/detect/*.parquet` (for the report) and CSV files for people. The method is in
//! docs/detect.md.

pub mod indicators;
pub mod minhash;
pub mod output;
pub mod spikes;
pub mod terms;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;

use crate::classify::Category;
use crate::classify::table::join_classification;
use crate::normalise::pii_hash;
use crate::normalise::providers::Providers;
use crate::store::{Store, StoreError, source_of};
use indicators::{Extractor, Indicator, Kind, ScamLists, in_domain_set};
use minhash::{Signature, UnionFind};
use output::{Col, Table};
use spikes::{SpikeOptions, week_of};
use terms::{TermCounts, TermOptions, Tokeniser};

/// Settings of a `detect` run.
#[derive(Debug, Clone)]
pub struct DetectOptions {
    /// The indicator lexicon (`models/detect/indicators.toml`).
    pub lexicon: PathBuf,
    /// The models folder (stop words).
    pub models: PathBuf,
    /// Extra stop-list files (domains and numbers that never link), one a line.
    pub stoplists: Vec<PathBuf>,
    /// Scam and phishing domain lists.
    pub scam_lists: Vec<PathBuf>,
    /// Smallest campaign reported (at least 2: a campaign links complaints).
    pub min_size: usize,
    /// Smallest estimated Jaccard similarity of near-duplicates.
    pub similarity: f64,
    /// An indicator in more complaints than this does not link (unless on a scam list);
    /// `None`: max(200, 0.2% of the complaints).
    pub cap: Option<usize>,
    /// The spike test.
    pub spikes: SpikeOptions,
    /// The emerging-term search.
    pub terms: TermOptions,
}

impl DetectOptions {
    /// Defaults, with the lexicon and lists of the given repository folders.
    pub fn new(models: &Path, data: &Path) -> Self {
        let mut scam_lists = Vec::new();
        if let Ok(entries) = std::fs::read_dir(data.join("scam-lists")) {
            let mut files: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "txt" || e == "json"))
                .collect();
            files.sort();
            scam_lists = files;
        }
        Self {
            lexicon: models.join("detect/indicators.toml"),
            models: models.to_path_buf(),
            stoplists: vec![data.join("detect/stoplist.txt")],
            scam_lists,
            min_size: 3,
            similarity: 0.5,
            cap: None,
            spikes: SpikeOptions::default(),
            terms: TermOptions::default(),
        }
    }
}

/// One complaint as detection sees it.
#[derive(Debug, Clone)]
struct Doc {
    id: String,
    source_id: String,
    /// Shared by every complaint with the same provider (a million copies of a few dozen
    /// names were 40 bytes a complaint).
    provider: Option<Arc<str>>,
    received: Option<NaiveDate>,
    amount: Option<f64>,
    currency: Option<Arc<str>>,
    categories: u8,
    primary: Option<u8>,
    part: u32,
    row: u32,
}

/// Everything `detect` found.
#[derive(Debug, Clone)]
pub struct Detection {
    /// Complaints read.
    pub complaints: usize,
    /// Indicators found (complaint × indicator).
    pub indicators: usize,
    /// Indicators on a scam list.
    pub listed: usize,
    /// Indicators that were too common to link, and the stop-listed ones seen.
    pub capped: usize,
    /// Near-duplicate pairs verified.
    pub near_duplicate_pairs: usize,
    /// Result tables: indicators, campaigns, campaign_members, spikes, emerging_terms.
    pub tables: Vec<Table>,
    /// Wall time of each step.
    pub timings: Vec<(&'static str, std::time::Duration)>,
}

impl Detection {
    /// The table called `name`.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

fn polars_err(path: &Path) -> impl Fn(PolarsError) -> StoreError + '_ {
    move |source| StoreError::Polars {
        path: path.display().to_string(),
        source,
    }
}

fn read_part(store: &Store, part: &Path) -> Result<DataFrame, StoreError> {
    let p = part.display().to_string();
    let cols = [
        col("complaint_id"),
        col("source_id"),
        col("provider"),
        col("received_at"),
        col("lang"),
        col("amount"),
        col("currency"),
        col("pii_hashes"),
        col("title"),
        col("text"),
    ];
    let lf = LazyFrame::scan_parquet(PlRefPath::new(p.as_str()), ScanArgsParquet::default())
        .map_err(polars_err(part))?
        .select(cols);
    let Some(lf) = join_classification(store, part, lf, &["categories", "primary_category"])?
    else {
        return Err(StoreError::Corrupt {
            path: p,
            message: "not classified yet: run `walletwatch classify` before `detect`".into(),
        });
    };
    lf.collect().map_err(polars_err(part))
}

fn str_col<'a>(
    df: &'a DataFrame,
    name: &str,
    part: &Path,
) -> Result<&'a StringChunked, StoreError> {
    df.column(name)
        .ok()
        .and_then(|c| c.str().ok())
        .ok_or_else(|| StoreError::Corrupt {
            path: part.display().to_string(),
            message: format!("column {name} is missing or not text"),
        })
}

fn list_strings(c: &Column, row: usize) -> Vec<String> {
    match c.get(row) {
        Ok(AnyValue::List(s)) => s
            .str()
            .map(|ca| ca.iter().flatten().map(str::to_string).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// A complaint after the first pass: metadata, indicators, signature, and (in the term
/// window) whether it is recent and its terms.
type PassRow = (
    Doc,
    Vec<Indicator>,
    Option<Signature>,
    Option<(bool, Vec<String>)>,
);

/// How complaints were linked: the indicators that linked some, and, per complaint in
/// `docs` order, whether a near-duplicate text linked it.
struct Links<'a> {
    indicators: HashSet<&'a Indicator>,
    near_duplicate: Vec<bool>,
}

/// A flagged week: provider, category, the test's result, the complaint ids behind it.
type SpikeRow = (String, String, spikes::Spike, String);

fn category_bits(cats: &[String]) -> u8 {
    cats.iter()
        .filter_map(|c| Category::parse(c))
        .fold(0, |acc, c| acc | 1 << (c as u8))
}

/// The stop-list: domains and phone indicators that never link complaints.
struct StopList {
    domains: HashSet<String>,
    phones: HashSet<String>,
}

fn phone_forms(key: &[u8; 32], number: &str) -> Vec<String> {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let mut out = vec![format!("+86{digits}")];
    let e164 = match digits.len() {
        10 => Some(format!("+1{digits}")),
        11 if digits.starts_with('1') => Some(format!("+{digits}")),
        11 => Some(format!("+86{digits}")),
        _ => None,
    };
    if let Some(e) = e164 {
        out.push(pii_hash(key, "phone", &e));
    }
    out
}

fn load_stoplist(
    providers: &Providers,
    files: &[PathBuf],
    lists: &ScamLists,
    key: &[u8; 32],
) -> anyhow::Result<StopList> {
    let mut domains: HashSet<String> = lists.legitimate().clone();
    let mut phones = HashSet::new();
    for p in providers.entries() {
        domains.extend(
            p.domains
                .iter()
                .filter_map(|d| indicators::normalise_domain(d)),
        );
        for h in &p.hotlines {
            phones.extend(phone_forms(key, h));
        }
    }
    for f in files {
        let text =
            std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line
                .chars()
                .all(|c| c.is_ascii_digit() || "+- ()".contains(c))
            {
                phones.extend(phone_forms(key, line));
            } else {
                let d = indicators::normalise_domain(line).ok_or_else(|| {
                    anyhow::anyhow!(
                        "{}: line {}: {line:?} is neither a domain nor a number",
                        f.display(),
                        i + 1
                    )
                })?;
                domains.insert(d);
            }
        }
    }
    Ok(StopList { domains, phones })
}

impl StopList {
    fn stops(&self, ind: &Indicator) -> bool {
        match ind.kind {
            Kind::Domain => in_domain_set(&self.domains, &ind.value),
            Kind::Phone => self.phones.contains(&ind.value),
            _ => false,
        }
    }
}

/// What the first pass reads the complaints with.
struct Lexicon {
    extractor: Extractor,
    tokeniser: Tokeniser,
    fold: crate::classify::rules::Fold,
}

/// The weeks the emerging terms compare: complaints from `recent_from` on are recent,
/// those from `history_from` until then the history they are compared with. Both are
/// `None` in an empty store.
#[derive(Debug, Clone, Copy)]
struct TermWindow {
    recent_from: Option<NaiveDate>,
    history_from: Option<NaiveDate>,
}

impl TermWindow {
    /// The newest complaint fixes the recent period.
    fn of(store: &Store, opts: &TermOptions) -> Result<Self, StoreError> {
        let newest = store
            .scan()?
            .select([col("received_at").max()])
            .collect()
            .ok()
            .and_then(|df| {
                df.column("received_at")
                    .ok()?
                    .date()
                    .ok()?
                    .physical()
                    .get(0)
            })
            .map(crate::schema::from_polars_day);
        let recent_from = newest
            .map(|n| n - chrono::Duration::weeks(opts.recent_weeks) + chrono::Duration::days(1));
        Ok(TermWindow {
            recent_from,
            history_from: recent_from.map(|r| r - chrono::Duration::weeks(opts.history_weeks)),
        })
    }
}

/// What the first pass found, per complaint in the store's order (`docs` order).
struct FirstPass {
    docs: Vec<Doc>,
    /// Each complaint's indicators.
    found: Vec<Vec<Indicator>>,
    /// Each complaint's MinHash signature (`None`: too short).
    sigs: Vec<Option<Signature>>,
    /// Per category (`Category as usize`), the terms of its complaints in the window.
    term_counts: Vec<TermCounts>,
}

/// Reads every part file once: each complaint's metadata, indicators, signature and terms,
/// a part's complaints on all cores. `progress(n)` after each part.
fn first_pass(
    store: &Store,
    parts: &[PathBuf],
    lexicon: &Lexicon,
    window: TermWindow,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<FirstPass, StoreError> {
    let mut docs: Vec<Doc> = Vec::new();
    // Per complaint, in `docs` order: its indicators.
    let mut found: Vec<Vec<Indicator>> = Vec::new();
    let mut sigs: Vec<Option<Signature>> = Vec::new();
    let mut term_counts: Vec<TermCounts> = vec![TermCounts::default(); Category::ALL.len()];
    let mut names: HashSet<Arc<str>> = HashSet::new();
    for (pi, part) in parts.iter().enumerate() {
        let df = read_part(store, part)?;
        let ids = str_col(&df, "complaint_id", part)?;
        let sids = str_col(&df, "source_id", part)?;
        let provs = str_col(&df, "provider", part)?;
        let langs = str_col(&df, "lang", part)?;
        let currs = str_col(&df, "currency", part)?;
        let titles = str_col(&df, "title", part)?;
        let texts = str_col(&df, "text", part)?;
        let prim = str_col(&df, "primary_category", part)?;
        let dates = df
            .column("received_at")
            .ok()
            .and_then(|c| c.date().ok())
            .map(|d| d.physical().clone())
            .ok_or_else(|| StoreError::Corrupt {
                path: part.display().to_string(),
                message: "received_at is missing or not a date".into(),
            })?;
        let amounts = df
            .column("amount")
            .ok()
            .and_then(|c| c.f64().ok())
            .cloned()
            .ok_or_else(|| StoreError::Corrupt {
                path: part.display().to_string(),
                message: "amount is missing or not a number".into(),
            })?;
        let pii = df.column("pii_hashes").map_err(polars_err(part))?;
        let cats = df.column("categories").map_err(polars_err(part))?;
        let n = df.height();
        // The part's provider and currency names, each shared with the same name elsewhere.
        let mut shared: HashMap<&str, Arc<str>> = HashMap::new();
        for v in provs.iter().chain(currs.iter()).flatten() {
            shared.entry(v).or_insert_with(|| match names.get(v) {
                Some(name) => Arc::clone(name),
                None => {
                    let name: Arc<str> = Arc::from(v);
                    names.insert(Arc::clone(&name));
                    name
                }
            });
        }
        let mut rows: Vec<PassRow> = (0..n)
            .into_par_iter()
            .map(|i| {
                let received = dates.get(i).map(crate::schema::from_polars_day);
                let cat_list = list_strings(cats, i);
                let categories = category_bits(&cat_list);
                let title = titles.get(i).unwrap_or("");
                let body = texts.get(i).unwrap_or("");
                let text = if title.is_empty() {
                    std::borrow::Cow::Borrowed(body)
                } else {
                    std::borrow::Cow::Owned(format!("{title}\n{body}"))
                };
                let hashes = list_strings(pii, i);
                let hash_refs: Vec<&str> = hashes.iter().map(String::as_str).collect();
                let zh = langs.get(i) == Some("zh");
                // Traditional characters read as Simplified by the lexicon, the shingles
                // and the segmenter, so a Traditional copy of a scam script is the same
                // script (domains, numbers and handles are read as written).
                let folded = lexicon.fold.apply(&text);
                let indicators = lexicon.extractor.extract_folded(&text, &folded, &hash_refs);
                let signature = minhash::signature(&folded, zh);
                let in_window = match (received, window.history_from) {
                    (Some(d), Some(h)) => d >= h,
                    _ => false,
                };
                let terms = (in_window && categories != 0).then(|| {
                    let recent = received
                        .zip(window.recent_from)
                        .is_some_and(|(d, r)| d >= r);
                    (recent, lexicon.tokeniser.terms(&folded, zh))
                });
                let doc = Doc {
                    id: ids.get(i).unwrap_or("").to_string(),
                    source_id: sids.get(i).unwrap_or("").to_string(),
                    provider: provs.get(i).map(|v| Arc::clone(&shared[v])),
                    received,
                    amount: amounts.get(i),
                    currency: currs.get(i).map(|v| Arc::clone(&shared[v])),
                    categories,
                    primary: prim.get(i).and_then(Category::parse).map(|c| c as u8),
                    part: pi as u32,
                    row: i as u32,
                };
                (doc, indicators, signature, terms)
            })
            .collect();
        // One category's counts a task: the counting is most of this loop.
        term_counts
            .par_iter_mut()
            .enumerate()
            .for_each(|(c, counts)| {
                for (d, _, _, terms) in &rows {
                    if let Some((recent, terms)) = terms
                        && d.categories & (1 << c) != 0
                    {
                        counts.add(terms, *recent);
                    }
                }
            });
        // Freeing the documents' term lists is work too: on both cores.
        rows.par_iter_mut().for_each(|r| r.3 = None);
        for (d, f, sig, _) in rows {
            docs.push(d);
            found.push(f);
            sigs.push(sig);
        }
        progress(n as u64);
    }
    Ok(FirstPass {
        docs,
        found,
        sigs,
        term_counts,
    })
}

/// Runs detection over the whole store. `progress(n)` is called after each part file
/// with the number of complaints read from it.
pub fn detect(
    store: &Store,
    providers: &Providers,
    opts: &DetectOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<Detection> {
    if !(0.0..=1.0).contains(&opts.similarity) {
        anyhow::bail!(
            "similarity (--similarity, or `similarity` in a run config) must be between 0 and 1, got {}",
            opts.similarity
        );
    }
    if opts.min_size < 2 {
        anyhow::bail!(
            "min_size (--min-size, or `min_size` in a run config) must be at least 2: a campaign links complaints, got {}",
            opts.min_size
        );
    }
    if !(opts.spikes.alpha > 0.0 && opts.spikes.alpha < 1.0) {
        anyhow::bail!(
            "alpha (--alpha, or `alpha` in a run config) must be between 0 and 1 (exclusive), got {}",
            opts.spikes.alpha
        );
    }
    let extractor = Extractor::load(&opts.lexicon)?;
    let mut lists = ScamLists::default();
    for f in &opts.scam_lists {
        lists.add_file(f)?;
    }
    let key = store.pii_key()?;
    let stop = load_stoplist(providers, &opts.stoplists, &lists, &key)?;
    let lexicon = Lexicon {
        extractor,
        tokeniser: Tokeniser::load(&opts.models)?,
        fold: crate::classify::rules::Fold::load(&opts.models.join("rules"))?,
    };
    let parts = store.complaint_files()?;
    let window = TermWindow::of(store, &opts.terms)?;

    let mut timings = Vec::new();
    let mut clock = std::time::Instant::now();
    let mut lap = |name: &'static str, timings: &mut Vec<(&'static str, std::time::Duration)>| {
        timings.push((name, clock.elapsed()));
        clock = std::time::Instant::now();
    };
    let sources: Vec<String> = parts.iter().map(|p| source_of(p)).collect();
    let FirstPass {
        docs,
        found,
        sigs,
        term_counts,
    } = first_pass(store, &parts, &lexicon, window, progress)?;
    lap("read + indicators + signatures + terms", &mut timings);

    // Links through shared indicators.
    let n = docs.len();
    let cap = opts.cap.unwrap_or_else(|| (n / 500).max(200));
    let mut by_indicator: HashMap<&Indicator, Vec<u32>> = HashMap::new();
    let mut total_indicators = 0;
    for (i, f) in found.iter().enumerate() {
        total_indicators += f.len();
        for ind in f {
            if ind.kind.links() && !stop.stops(ind) {
                by_indicator.entry(ind).or_default().push(i as u32);
            }
        }
    }
    let listed = |ind: &Indicator| ind.kind == Kind::Domain && lists.is_listed(&ind.value);
    let mut uf = UnionFind::new(n);
    let mut capped = 0;
    let mut links = Links {
        indicators: HashSet::new(),
        near_duplicate: vec![false; n],
    };
    for (ind, members) in &by_indicator {
        if members.len() < 2 {
            continue;
        }
        if members.len() > cap && !listed(ind) {
            capped += 1;
            tracing::info!(indicator = %ind, complaints = members.len(), cap, "too common to link");
            continue;
        }
        links.indicators.insert(*ind);
        for m in &members[1..] {
            uf.union(members[0], *m);
        }
    }
    lap("indicator links", &mut timings);
    let mut near_duplicate_pairs = 0;
    minhash::near_duplicate_pairs_by_band(&sigs, opts.similarity, |pairs| {
        near_duplicate_pairs += pairs.len();
        for &(a, b) in pairs {
            uf.union(a, b);
            links.near_duplicate[a as usize] = true;
            links.near_duplicate[b as usize] = true;
        }
    });
    drop(sigs);

    // Campaigns: sets of at least `min_size` complaints.
    let mut groups: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for i in 0..n as u32 {
        if uf.size_of(i) as usize >= opts.min_size.max(2) {
            groups.entry(uf.find(i)).or_default().push(i);
        }
    }
    let mut campaigns: Vec<Vec<u32>> = groups.into_values().collect();
    for c in &mut campaigns {
        c.sort_by_key(|&i| (docs[i as usize].received, docs[i as usize].id.clone()));
    }
    campaigns.sort_by(|a, b| {
        b.len()
            .cmp(&a.len())
            .then_with(|| docs[a[0] as usize].id.cmp(&docs[b[0] as usize].id))
    });

    lap("near-duplicate links (LSH)", &mut timings);
    let samples = sample_texts(&parts, &docs, &campaigns)?;
    let mut tables = vec![indicator_table(&docs, &sources, &found, &lists)];
    tables.extend(campaign_tables(
        &docs, &sources, &found, &campaigns, &links, &lists, &samples,
    ));
    tables.push(spike_table(&docs, &opts.spikes));
    tables.push(term_table(&term_counts, &opts.terms));
    lap("campaigns + spikes + terms", &mut timings);
    Ok(Detection {
        complaints: n,
        indicators: total_indicators,
        listed: found.iter().flatten().filter(|i| listed(i)).count(),
        capped,
        near_duplicate_pairs,
        tables,
        timings,
    })
}

fn indicator_table(
    docs: &[Doc],
    sources: &[String],
    found: &[Vec<Indicator>],
    lists: &ScamLists,
) -> Table {
    let (mut wid, mut cid, mut src, mut kind, mut value, mut listed, mut both) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for (d, f) in docs.iter().zip(found) {
        for ind in f {
            wid.push(Some(d.id.clone()));
            cid.push(Some(d.source_id.clone()));
            src.push(Some(sources[d.part as usize].clone()));
            kind.push(Some(ind.kind.name().to_string()));
            value.push(Some(ind.value.clone()));
            both.push(Some(ind.to_string()));
            listed.push(ind.kind == Kind::Domain && lists.is_listed(&ind.value));
        }
    }
    Table {
        name: "indicators",
        columns: vec![
            ("walletwatch_id", Col::Str(wid)),
            ("complaint_id", Col::Str(cid)),
            ("source", Col::Str(src)),
            ("kind", Col::Str(kind)),
            ("value", Col::Str(value)),
            ("listed", Col::Bool(listed)),
            ("indicator", Col::Str(both)),
        ],
    }
}

/// Up to three member texts per campaign (first, middle and last by date), 300 characters each.
fn sample_texts(
    parts: &[PathBuf],
    docs: &[Doc],
    campaigns: &[Vec<u32>],
) -> Result<HashMap<u32, String>, StoreError> {
    let mut wanted: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for c in campaigns {
        let mut picks = vec![c[0], c[c.len() / 2], c[c.len() - 1]];
        picks.dedup();
        for i in picks {
            wanted.entry(docs[i as usize].part).or_default().push(i);
        }
    }
    let mut out = HashMap::new();
    for (part, members) in wanted {
        let path = &parts[part as usize];
        let p = path.display().to_string();
        let df = LazyFrame::scan_parquet(PlRefPath::new(p.as_str()), ScanArgsParquet::default())
            .and_then(|lf| lf.select([col("title"), col("text")]).collect())
            .map_err(polars_err(path))?;
        let titles = str_col(&df, "title", path)?;
        let texts = str_col(&df, "text", path)?;
        for i in members {
            let row = docs[i as usize].row as usize;
            let t = match (titles.get(row), texts.get(row)) {
                (Some(t), Some(x)) if !t.is_empty() => format!("{t} — {x}"),
                (_, Some(x)) => x.to_string(),
                (Some(t), None) => t.to_string(),
                _ => String::new(),
            };
            let short: String = t.chars().take(300).collect();
            let short = if short.len() < t.len() {
                format!("{short}…")
            } else {
                short
            };
            out.insert(i, short.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    Ok(out)
}

fn counted(values: impl Iterator<Item = String>) -> String {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let mut v: Vec<_> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.iter()
        .map(|(k, n)| format!("{k} ({n})"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Campaign id: `C` and 10 hex digits of the hash of its earliest-sorted member id, so a
/// re-run over the same store gives the same ids.
fn campaign_id(docs: &[Doc], members: &[u32]) -> String {
    let first = members
        .iter()
        .map(|&i| docs[i as usize].id.as_str())
        .min()
        .unwrap_or("");
    format!(
        "C{:010x}",
        xxhash_rust::xxh3::xxh3_64(first.as_bytes()) >> 24
    )
}

fn campaign_tables(
    docs: &[Doc],
    sources: &[String],
    found: &[Vec<Indicator>],
    campaigns: &[Vec<u32>],
    links: &Links<'_>,
    lists: &ScamLists,
    samples: &HashMap<u32, String>,
) -> [Table; 2] {
    let mut c_cols: Vec<Vec<Option<String>>> = vec![Vec::new(); 9];
    let (mut size, mut first, mut last, mut is_listed) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut m_cols: Vec<Vec<Option<String>>> = vec![Vec::new(); 6];
    let mut m_dates = Vec::new();
    for members in campaigns {
        let id = campaign_id(docs, members);
        let ds: Vec<&Doc> = members.iter().map(|&i| &docs[i as usize]).collect();
        // Indicators this campaign's members share, by how many members carry each.
        let mut shared: HashMap<&Indicator, usize> = HashMap::new();
        for &i in members {
            for ind in &found[i as usize] {
                if links.indicators.contains(ind) {
                    *shared.entry(ind).or_default() += 1;
                }
            }
        }
        let mut top: Vec<(&Indicator, usize)> =
            shared.into_iter().filter(|(_, n)| *n >= 2).collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let any_listed = top
            .iter()
            .any(|(i, _)| i.kind == Kind::Domain && lists.is_listed(&i.value));
        let dup = members
            .iter()
            .filter(|&&i| links.near_duplicate[i as usize])
            .count();
        let linked_by = match (top.is_empty(), dup > 0) {
            (false, true) => "shared indicators + near-duplicate text",
            (false, false) => "shared indicators",
            _ => "near-duplicate text",
        };
        let mut amounts: BTreeMap<String, f64> = BTreeMap::new();
        for d in &ds {
            if let (Some(a), Some(c)) = (d.amount, &d.currency) {
                *amounts.entry(c.to_string()).or_default() += a;
            }
        }
        let sample: Vec<Option<String>> = {
            let mut picks = vec![
                members[0],
                members[members.len() / 2],
                members[members.len() - 1],
            ];
            picks.dedup();
            let mut s: Vec<Option<String>> =
                picks.iter().map(|i| samples.get(i).cloned()).collect();
            s.resize(3, None);
            s
        };
        let values = [
            Some(id.clone()),
            Some(counted(ds.iter().map(|d| {
                d.provider.as_deref().unwrap_or("unknown").to_string()
            }))),
            Some(counted(ds.iter().filter_map(|d| {
                d.primary
                    .map(|p| Category::ALL[p as usize].id().to_string())
            }))),
            Some(
                amounts
                    .iter()
                    .map(|(c, a)| format!("{c} {a:.2}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            Some(
                top.iter()
                    .take(5)
                    .map(|(i, n)| format!("{i} ({n})"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            Some(linked_by.to_string()),
            sample[0].clone(),
            sample[1].clone(),
            sample[2].clone(),
        ];
        for (c, v) in c_cols.iter_mut().zip(values) {
            c.push(v);
        }
        size.push(members.len() as i64);
        first.push(ds.iter().filter_map(|d| d.received).min());
        last.push(ds.iter().filter_map(|d| d.received).max());
        is_listed.push(any_listed);
        for &i in members {
            let d = &docs[i as usize];
            let why: Vec<String> = found[i as usize]
                .iter()
                .filter(|ind| top.iter().any(|(t, _)| t == ind))
                .map(ToString::to_string)
                .chain(links.near_duplicate[i as usize].then(|| "near-duplicate".to_string()))
                .collect();
            let values = [
                Some(id.clone()),
                Some(d.source_id.clone()),
                Some(sources[d.part as usize].clone()),
                d.provider.as_deref().map(str::to_string),
                Some(why.join("; ")),
                Some(d.id.clone()),
            ];
            for (c, v) in m_cols.iter_mut().zip(values) {
                c.push(v);
            }
            m_dates.push(d.received);
        }
    }
    let mut c = c_cols.into_iter();
    let mut next = || Col::Str(c.next().expect("nine columns"));
    let campaigns = Table {
        name: "campaigns",
        columns: vec![
            ("campaign_id", next()),
            ("size", Col::Int(size)),
            ("first_seen", Col::Date(first)),
            ("last_seen", Col::Date(last)),
            ("providers", next()),
            ("categories", next()),
            ("amount_total", next()),
            ("top_indicators", next()),
            ("listed", Col::Bool(is_listed)),
            ("linked_by", next()),
            ("sample_1", next()),
            ("sample_2", next()),
            ("sample_3", next()),
        ],
    };
    let mut m = m_cols.into_iter();
    let mut next = || Col::Str(m.next().expect("six columns"));
    let members = Table {
        name: "campaign_members",
        columns: vec![
            ("campaign_id", next()),
            ("complaint_id", next()),
            ("source", next()),
            ("provider", next()),
            ("received_at", Col::Date(m_dates)),
            ("linked_by", next()),
            ("walletwatch_id", next()),
        ],
    };
    [campaigns, members]
}

fn spike_table(docs: &[Doc], opts: &SpikeOptions) -> Table {
    // Weekly counts per (provider, category), and the complaints behind each week.
    let weeks: Vec<NaiveDate> = docs
        .iter()
        .filter_map(|d| d.received.map(week_of))
        .collect();
    let (Some(&first), Some(&last)) = (weeks.iter().min(), weeks.iter().max()) else {
        return spike_rows(Vec::new());
    };
    let nweeks = ((last - first).num_weeks() + 1) as usize;
    let mut series: BTreeMap<(String, u8), Vec<Vec<u32>>> = BTreeMap::new();
    for (i, d) in docs.iter().enumerate() {
        let (Some(p), Some(r)) = (&d.provider, d.received) else {
            continue;
        };
        let w = (week_of(r) - first).num_weeks() as usize;
        for c in Category::ALL {
            if d.categories & (1 << (c as u8)) != 0 {
                series
                    .entry((p.to_string(), c as u8))
                    .or_insert_with(|| vec![Vec::new(); nweeks])[w]
                    .push(i as u32);
            }
        }
    }
    let keys: Vec<&(String, u8)> = series.keys().collect();
    let counts: Vec<Vec<u32>> = series
        .values()
        .map(|s| s.iter().map(|w| w.len() as u32).collect())
        .collect();
    let found = spikes::detect(&counts, first, opts);
    let rows = found
        .into_iter()
        .map(|s| {
            let (provider, cat) = keys[s.series];
            let w = (s.week_start - first).num_weeks() as usize;
            let ids: Vec<String> = series[keys[s.series]][w]
                .iter()
                .map(|&i| docs[i as usize].source_id.clone())
                .collect();
            (
                provider.clone(),
                Category::ALL[*cat as usize].id().to_string(),
                s,
                ids.join(";"),
            )
        })
        .collect();
    spike_rows(rows)
}

fn spike_rows(rows: Vec<SpikeRow>) -> Table {
    let mut t = Table {
        name: "spikes",
        columns: Vec::new(),
    };
    let s = |f: &dyn Fn(&SpikeRow) -> Option<String>| Col::Str(rows.iter().map(f).collect());
    t.columns = vec![
        ("provider", s(&|r| Some(r.0.clone()))),
        ("category", s(&|r| Some(r.1.clone()))),
        (
            "week_start",
            Col::Date(rows.iter().map(|r| Some(r.2.week_start)).collect()),
        ),
        (
            "week_end",
            Col::Date(
                rows.iter()
                    .map(|r| Some(r.2.week_start + chrono::Duration::days(6)))
                    .collect(),
            ),
        ),
        (
            "observed",
            Col::Int(rows.iter().map(|r| i64::from(r.2.observed)).collect()),
        ),
        (
            "expected",
            Col::Float(
                rows.iter()
                    .map(|r| Some((r.2.expected * 100.0).round() / 100.0))
                    .collect(),
            ),
        ),
        (
            "dispersion",
            Col::Float(
                rows.iter()
                    .map(|r| Some((r.2.dispersion * 100.0).round() / 100.0))
                    .collect(),
            ),
        ),
        (
            "baseline_weeks",
            Col::Int(rows.iter().map(|r| r.2.baseline_weeks as i64).collect()),
        ),
        (
            "p_value",
            Col::Float(rows.iter().map(|r| Some(r.2.p_value)).collect()),
        ),
        ("complaint_ids", s(&|r| Some(r.3.clone()))),
    ];
    t
}

fn term_table(counts: &[TermCounts], opts: &TermOptions) -> Table {
    let rows: Vec<terms::EmergingTerm> = Category::ALL
        .iter()
        .flat_map(|c| counts[*c as usize].emerging(c.id(), opts))
        .collect();
    Table {
        name: "emerging_terms",
        columns: vec![
            (
                "category",
                Col::Str(rows.iter().map(|r| Some(r.category.clone())).collect()),
            ),
            (
                "term",
                Col::Str(rows.iter().map(|r| Some(r.term.clone())).collect()),
            ),
            (
                "recent_docs",
                Col::Int(rows.iter().map(|r| i64::from(r.recent_docs)).collect()),
            ),
            (
                "recent_share",
                Col::Float(
                    rows.iter()
                        .map(|r| Some((r.recent_share() * 1e4).round() / 1e4))
                        .collect(),
                ),
            ),
            (
                "previous_docs",
                Col::Int(rows.iter().map(|r| i64::from(r.previous_docs)).collect()),
            ),
            (
                "previous_share",
                Col::Float(
                    rows.iter()
                        .map(|r| Some((r.previous_share() * 1e4).round() / 1e4))
                        .collect(),
                ),
            ),
            (
                "z",
                Col::Float(
                    rows.iter()
                        .map(|r| Some((r.z * 100.0).round() / 100.0))
                        .collect(),
                ),
            ),
        ],
    }
}

/// The folder of detection results in the store.
pub fn detect_dir(store: &Store) -> PathBuf {
    store.root().join("detect")
}

/// Writes every table as Parquet into the store and as CSV into the store and `out`.
pub fn write(store: &Store, det: &Detection, out: Option<&Path>) -> Result<(), StoreError> {
    let dir = detect_dir(store);
    std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    for t in &det.tables {
        t.write_parquet(&dir)?;
        t.write_csv(&dir)?;
        if let Some(o) = out {
            std::fs::create_dir_all(o).map_err(|source| StoreError::Io {
                path: o.display().to_string(),
                source,
            })?;
            t.write_csv(o)?;
        }
    }
    Ok(())
}
