//! Ingestion: an input file → raw layer + normalised, de-duplicated complaints in the store,
//! with every row accounted for (`read N = stored A + duplicates D + quarantined Q`).
//!
//! The file is read on one thread while the previous batch is normalised (in parallel)
//! and written, so memory stays bounded by a few batches whatever the file size.

pub mod cfpb;
pub mod csv_rows;
pub mod export;
pub mod fields;
pub mod forum;
pub mod input;
pub mod json_rows;
pub mod zip;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crossbeam_channel::bounded;
use encoding_rs::Encoding;

use crate::classify::Classifier;
use crate::classify::table::classify_new_part;
use crate::normalise::Normaliser;
use crate::normalise::dates::DateRules;
use crate::normalise::providers::Providers;
use crate::schema::{RawRecord, Reject};
use crate::store::{Manifest, PartCompression, Store, StoreError};
use csv_rows::CsvRows;
use json_rows::{JsonRows, JsonShape};

/// Errors that stop an ingest (bad rows are not errors: they are quarantined).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The input cannot be opened.
    #[error("{path}: cannot open: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    /// Reading failed part-way (I/O error, truncated gzip…).
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// The input is empty.
    #[error("{path}: the file is empty")]
    Empty { path: String },
    /// The input lacks the columns its form needs.
    #[error("{path}: {message}")]
    Columns { path: String, message: String },
    /// A JSON array ended before its closing bracket.
    #[error(
        "{path}: the JSON array ends after {after} elements without its closing `]` (the file is truncated)"
    )]
    Truncated { path: String, after: u64 },
    /// The mapping file is unusable.
    #[error("{path}: {message}")]
    Mapping { path: String, message: String },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The run stopped part-way; what was stored before stays stored.
    #[error(
        "{error} (stopped part-way: {counts}; re-run once the file is fixed: stored rows are not stored twice)"
    )]
    Partial {
        error: Box<IngestError>,
        counts: Reconciliation,
    },
}

impl IngestError {
    /// An open failure on `path`.
    pub fn open(path: &Path, source: std::io::Error) -> Self {
        IngestError::Open {
            path: path.display().to_string(),
            source,
        }
    }
    /// A read failure on `origin`.
    pub fn read(origin: &str, source: std::io::Error) -> Self {
        IngestError::Read {
            path: origin.to_string(),
            source,
        }
    }
}

/// Where every input row went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciliation {
    /// Rows read.
    pub read: u64,
    /// Rows stored as new complaints.
    pub stored: u64,
    /// Rows already in the store (same complaint id or same content).
    pub duplicates: u64,
    /// Rows quarantined with a reason.
    pub quarantined: u64,
    /// Rows left out because their product is outside the run's `--product` scope.
    pub out_of_scope: u64,
    /// Those rows by product (see [`LeftOut`]).
    pub left_out: LeftOut,
}

impl std::fmt::Display for Reconciliation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "read {} = stored {} + duplicates {} + quarantined {}",
            self.read, self.stored, self.duplicates, self.quarantined
        )?;
        if self.out_of_scope > 0 {
            write!(f, " + out of scope {}", self.out_of_scope)?;
        }
        Ok(())
    }
}

impl std::ops::AddAssign for Reconciliation {
    fn add_assign(&mut self, o: Self) {
        self.read += o.read;
        self.stored += o.stored;
        self.duplicates += o.duplicates;
        self.quarantined += o.quarantined;
        self.out_of_scope += o.out_of_scope;
        self.left_out.merge(o.left_out);
    }
}

/// Rows left out of a run's `--product` scope, counted by their product (the sub-product
/// where a row names no product), so that what a scope left out can be read, not only
/// counted: a misspelt `--product` shows at once which products the file holds. Past
/// [`LeftOut::NAMES`] different names the rest are counted under [`LeftOut::OTHERS`]
/// (CFPB's database has about twenty products; an export could put anything there).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct LeftOut(std::collections::BTreeMap<String, u64>);

impl LeftOut {
    /// How many different names are counted one by one.
    pub const NAMES: usize = 200;
    /// Where the rows of further names are counted.
    pub const OTHERS: &'static str = "(other products)";
    /// Where rows that name neither a product nor a sub-product are counted.
    pub const NONE: &'static str = "(no product)";

    /// Counts one row left out.
    pub fn count(&mut self, product: Option<&str>, sub_product: Option<&str>) {
        let name = [product, sub_product]
            .into_iter()
            .flatten()
            .map(str::trim)
            .find(|s| !s.is_empty())
            .unwrap_or(Self::NONE);
        if let Some(n) = self.0.get_mut(name) {
            *n += 1;
        } else if self.0.len() < Self::NAMES {
            self.0.insert(name.to_string(), 1);
        } else {
            *self.0.entry(Self::OTHERS.to_string()).or_default() += 1;
        }
    }

    /// Adds another run's counts.
    pub fn merge(&mut self, other: LeftOut) {
        for (name, n) in other.0 {
            *self.0.entry(name).or_default() += n;
        }
    }

    /// Whether nothing was left out.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The products, most rows first (then by name).
    pub fn most_first(&self) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self.0.iter().map(|(k, n)| (k.as_str(), *n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v
    }
}

/// Which products a run keeps (`--product`): a row is kept when its product or
/// sub-product contains one of the patterns, ignoring case; no patterns keep every row.
/// The CFPB database holds every kind of financial complaint (credit reports, mortgages,
/// cards…): `--product "money transfer" --product wallet` keeps the money-transfer and
/// wallet ones (`prepaid` would also keep "Credit card or prepaid card").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductScope {
    patterns: Vec<String>,
}

impl ProductScope {
    /// A scope from the patterns as given (`--product`, `products = [...]`); an empty
    /// pattern is an error, since it would keep every row while looking like a filter.
    pub fn new(patterns: &[String]) -> Result<Self, String> {
        let mut out: Vec<String> = Vec::new();
        for p in patterns {
            let p = p.trim().to_lowercase();
            if p.is_empty() {
                return Err("an empty product pattern would keep every row: give the text a product or sub-product contains (e.g. \"money transfer\")".into());
            }
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out.sort();
        Ok(ProductScope { patterns: out })
    }

    /// Whether every row is kept.
    pub fn is_all(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The patterns (lower-case, sorted), as a manifest records them.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether a row with this product and sub-product is kept.
    pub fn admits(&self, product: Option<&str>, sub_product: Option<&str>) -> bool {
        if self.is_all() {
            return true;
        }
        [product, sub_product].into_iter().flatten().any(|v| {
            let v = v.to_lowercase();
            self.patterns.iter().any(|p| v.contains(p.as_str()))
        })
    }

    /// The scope a manifest records (what the runs over its file kept); `store` names the
    /// manifest in the error when the record is not a scope.
    pub fn recorded(store: &Store, m: &Manifest) -> Result<Self, IngestError> {
        ProductScope::new(&m.products).map_err(|message| IngestError::Mapping {
            path: store.manifest_path(&m.fingerprint).display().to_string(),
            message,
        })
    }

    /// What two runs over the same file stored between them: every row, if either kept
    /// every row; else the rows either kept.
    pub fn union(&self, other: &ProductScope) -> ProductScope {
        if self.is_all() || other.is_all() {
            return ProductScope::default();
        }
        let mut patterns = self.patterns.clone();
        patterns.extend(other.patterns.iter().cloned());
        patterns.sort();
        patterns.dedup();
        ProductScope { patterns }
    }
}

/// What kind of input, with its mapping.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // one value per ingest run
pub enum SourceKind {
    /// The CFPB Consumer Complaint Database, any published form.
    Cfpb,
    /// Any export described by a mapping file.
    Export(export::Mapping),
}

impl SourceKind {
    /// Whether `scope` can be applied to this kind of input: an export whose mapping names
    /// neither `product` nor `sub_product` would leave every row out of scope.
    pub fn check_scope(&self, scope: &ProductScope) -> Result<(), String> {
        match self {
            SourceKind::Export(m)
                if !scope.is_all()
                    && !m.fields.iter().any(|(c, _)| {
                        matches!(c, fields::Canon::Product | fields::Canon::SubProduct)
                    }) =>
            {
                Err(format!(
                    "the product scope has nothing to match: mapping {:?} names no `product` or `sub_product` field (map one, or leave the scope out)",
                    m.source
                ))
            }
            _ => Ok(()),
        }
    }

    /// The source name (partition key).
    pub fn source(&self) -> &str {
        match self {
            SourceKind::Cfpb => "cfpb",
            SourceKind::Export(m) => &m.source,
        }
    }
}

/// One ingest job.
pub struct IngestSpec {
    /// The file to read.
    pub path: PathBuf,
    /// How to read it.
    pub kind: SourceKind,
    /// Forced encoding (`--encoding`); detected when `None`.
    pub encoding: Option<&'static Encoding>,
    /// Name recorded as the file's origin (defaults to `path`).
    pub origin: Option<String>,
    /// Fingerprint to file the input under (when re-reading a raw copy).
    pub fingerprint: Option<String>,
    /// Which products to keep (`--product`); every row by default.
    pub products: ProductScope,
}

/// Options of a run.
#[derive(Clone)]
pub struct RunOptions {
    /// Records per batch (memory use is a few batches).
    pub batch_rows: usize,
    /// Show a progress bar.
    pub progress: bool,
    /// Classify each part as it is written (while its text is in memory), so a later
    /// `classify` with the same classifier finds nothing left to do.
    pub classifier: Option<Arc<dyn Classifier>>,
    /// How the complaint parts are compressed.
    pub compression: PartCompression,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("batch_rows", &self.batch_rows)
            .field("progress", &self.progress)
            .field("classifier", &self.classifier.as_ref().map(|c| c.name()))
            .field("compression", &self.compression)
            .finish()
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            batch_rows: 30_000,
            progress: false,
            classifier: None,
            compression: PartCompression::default(),
        }
    }
}

/// Reads records of any supported form.
#[allow(clippy::large_enum_variant)] // one value per ingest run
enum Rows {
    Csv(CsvRows<Box<dyn Read + Send>>),
    Json(JsonRows<Box<dyn Read + Send>>),
}

impl Rows {
    fn next_item(&mut self) -> Result<Option<Result<RawRecord, Reject>>, IngestError> {
        match self {
            Rows::Csv(r) => r.next_item(),
            Rows::Json(r) => r.next_item(),
        }
    }
}

/// The shape of a text input from its first bytes: JSON array, NDJSON, or CSV.
fn sniff(head: &[u8]) -> Option<JsonShape> {
    match head.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => Some(JsonShape::Array),
        Some(b'{') => Some(JsonShape::Lines),
        _ => None,
    }
}

/// Threads writing Parquet part files (see `ingest`).
const WRITERS: usize = 2;

/// Ingests one file into the store.
pub fn ingest(
    store: &Store,
    providers: &Providers,
    spec: &IngestSpec,
    opts: &RunOptions,
) -> Result<Reconciliation, IngestError> {
    let origin = spec
        .origin
        .clone()
        .unwrap_or_else(|| spec.path.display().to_string());
    let (mut fp, bytes) = input::fingerprint(&spec.path)?;
    if let Some(f) = &spec.fingerprint {
        fp.clone_from(f);
    }
    spec.kind
        .check_scope(&spec.products)
        .map_err(|message| IngestError::Mapping {
            path: origin.clone(),
            message,
        })?;
    let source = spec.kind.source().to_string();
    let ext = spec
        .path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("dat")
        .to_ascii_lowercase();
    let earlier = store.manifests()?.into_iter().find(|m| m.fingerprint == fp);
    // The manifest records what the runs over this file stored between them, so that
    // `normalise` rebuilds exactly that from the raw copy.
    let recorded_scope = match &earlier {
        Some(m) => spec.products.union(&ProductScope::recorded(store, m)?),
        None => spec.products.clone(),
    };
    let existing_copy = earlier.map(|m| m.raw_copy);
    let raw_copy_name = existing_copy
        .clone()
        .unwrap_or_else(|| crate::store::raw_copy_name(&fp, &ext));
    let have_copy = existing_copy.is_some_and(|c| store.raw_dir().join(c).exists())
        || spec.path.parent().is_some_and(|p| p == store.raw_dir());
    let raw_target = (!have_copy).then(|| store.raw_dir().join(&raw_copy_name));

    let input = input::open(&spec.path, raw_target, spec.encoding)?;
    let encoding = input.encoding;
    let (rows, dates, default_currency, mapping_text) = match &spec.kind {
        SourceKind::Cfpb => {
            let rows = match sniff(&input.head) {
                Some(shape) => {
                    cfpb::check_json_head(&input.head, &origin)?;
                    Rows::Json(JsonRows::new(
                        input.reader,
                        &origin,
                        shape,
                        cfpb::json_map(),
                    ))
                }
                None => Rows::Csv(CsvRows::new(input.reader, &origin, Some(b','), |h| {
                    cfpb::csv_map(h, &origin)
                })?),
            };
            (rows, DateRules::default(), Some("USD"), None)
        }
        SourceKind::Export(m) => {
            let map = m.field_map();
            let rows = match m.format_for(&spec.path, sniff(&input.head)) {
                export::Format::Csv => {
                    Rows::Csv(CsvRows::new(input.reader, &origin, m.delimiter, |_| {
                        Ok(map)
                    })?)
                }
                export::Format::Json(shape) => {
                    Rows::Json(JsonRows::new(input.reader, &origin, shape, map))
                }
            };
            (rows, m.date_rules(), m.currency(), Some(m.text.clone()))
        }
    };
    let mut manifest = Manifest {
        fingerprint: fp.clone(),
        origin: origin.clone(),
        bytes,
        raw_copy: raw_copy_name,
        kind: match spec.kind {
            SourceKind::Cfpb => "cfpb".into(),
            SourceKind::Export(_) => "export".into(),
        },
        source: source.clone(),
        mapping: mapping_text,
        encoding: encoding.to_string(),
        status: "in-progress".into(),
        read: 0,
        stored: 0,
        duplicates: 0,
        quarantined: 0,
        products: recorded_scope.patterns().to_vec(),
        out_of_scope: 0,
        out_of_scope_products: Default::default(),
        ingested_at: chrono::Utc::now().to_rfc3339(),
    };
    store.write_manifest(&manifest)?;

    let key = store.pii_key()?;
    let normaliser = Normaliser {
        source: &source,
        providers,
        dates,
        default_currency,
        pii_key: &key,
    };
    let mut seen_ids = store.existing_ids()?;
    tracing::info!(file = %origin, fingerprint = %fp, encoding, known = seen_ids.len(), "ingesting");

    let bar = crate::progress::bar(bytes, opts.progress, "ingest");
    let bytes_read = input.bytes_read.clone();
    let mut counts = Reconciliation::default();
    let mut rejects: Vec<Reject> = Vec::new();
    let batch_rows = opts.batch_rows.max(1);

    let (source_ref, fp_ref) = (source.as_str(), fp.as_str());
    // Set by a writer that failed, so that neither the other writer nor the batch loop
    // goes on (one writer's error used to close the channel; two keep it open).
    let write_failed = std::sync::atomic::AtomicBool::new(false);
    let write_failed = &write_failed;
    let result: Result<(), IngestError> = std::thread::scope(|scope| {
        let (tx, rx) = bounded::<Result<Vec<Result<RawRecord, Reject>>, IngestError>>(1);
        let mut rows = rows;
        // Written complaints come back here to be freed: most of their strings were
        // allocated on this thread, and mimalloc frees a block fastest (and reuses its page
        // soonest) on the thread that allocated it.
        let (spent_tx, spent_rx) = crossbeam_channel::unbounded::<Vec<crate::schema::Complaint>>();
        scope.spawn(move || {
            let mut batch = Vec::with_capacity(batch_rows);
            loop {
                match rows.next_item() {
                    Ok(Some(item)) => {
                        batch.push(item);
                        if batch.len() == batch_rows {
                            let full =
                                std::mem::replace(&mut batch, Vec::with_capacity(batch_rows));
                            if tx.send(Ok(full)).is_err() {
                                return;
                            }
                            spent_rx.try_iter().for_each(drop);
                        }
                    }
                    Ok(None) => {
                        if !batch.is_empty() {
                            let _ = tx.send(Ok(batch));
                        }
                        return;
                    }
                    Err(e) => {
                        if !batch.is_empty() {
                            let _ = tx.send(Ok(batch));
                        }
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
        });
        // Writing (polars frame, Parquet encoding, compression) overlaps the next batches'
        // normalisation. It is the longest serial step of a batch, so two writers take
        // batches in turn (each batch is its own part file): on two cores one writer left a
        // third of a core idle while the other stages waited for it.
        let (wtx, wrx) = bounded::<(u64, Vec<crate::schema::Complaint>)>(1);
        let (classifier, compression) = (opts.classifier.as_deref(), opts.compression);
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| {
                let (wrx, spent_tx) = (wrx.clone(), spent_tx.clone());
                scope.spawn(move || -> Result<(), StoreError> {
                    let write = |batch_no, rows| -> Result<(), StoreError> {
                        for (part, rows) in
                            store.write_batch(source_ref, fp_ref, batch_no, rows, compression)?
                        {
                            if let Some(c) = classifier {
                                classify_new_part(store, &part, &rows, c)?;
                            }
                            // Freed by the reader if it still runs; here otherwise.
                            let _ = spent_tx.send(rows);
                        }
                        Ok(())
                    };
                    for (batch_no, rows) in wrx {
                        if write_failed.load(Ordering::Relaxed) {
                            break;
                        }
                        if let Err(e) = write(batch_no, rows) {
                            write_failed.store(true, Ordering::Relaxed);
                            return Err(e);
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        drop((wrx, spent_tx));
        let join_writers =
            |writers: Vec<std::thread::ScopedJoinHandle<'_, Result<(), StoreError>>>| {
                // Every writer is joined; the first error found is returned.
                let mut first = Ok(());
                for w in writers {
                    let r = w.join().map_err(|_| StoreError::Corrupt {
                        path: store.complaints_dir().display().to_string(),
                        message: "a Parquet writer thread panicked".into(),
                    });
                    if first.is_ok() {
                        first = r.and_then(|r| r);
                    }
                }
                first
            };
        for (batch_no, msg) in rx.iter().enumerate() {
            let items = match msg {
                Ok(items) => items,
                Err(e) => {
                    drop(wtx);
                    let _ = join_writers(writers);
                    return Err(e);
                }
            };
            counts.read += items.len() as u64;
            // One in-place pass each (the collects reuse their input's buffer): the
            // records and complaints are large structs, and moving them into fresh vectors
            // was a tenth of this thread's time (perf: memmove).
            let raw: Vec<RawRecord> = items
                .into_iter()
                .filter_map(|r| match r {
                    Err(rej) => {
                        rejects.push(rej);
                        None
                    }
                    Ok(rec)
                        if !spec
                            .products
                            .admits(rec.product.as_deref(), rec.sub_product.as_deref()) =>
                    {
                        counts.out_of_scope += 1;
                        counts
                            .left_out
                            .count(rec.product.as_deref(), rec.sub_product.as_deref());
                        None
                    }
                    Ok(rec) => Some(rec),
                })
                .collect();
            let keep: Vec<crate::schema::Complaint> = normaliser
                .batch(raw)
                .into_iter()
                .filter_map(|r| match r {
                    Err(rej) => {
                        rejects.push(rej);
                        None
                    }
                    Ok(c) => {
                        // A duplicate is the same source record delivered again (in any
                        // form: CFPB CSV then JSON). Sources without ids get an id hashed
                        // from the content, so for them this is exact-duplicate removal by
                        // content. Identical texts under different ids are different people
                        // (CFPB form letters): they are kept, and `content_hash` groups them.
                        let id = u64::from_str_radix(&c.complaint_id, 16)
                            .expect("complaint ids are hex");
                        if seen_ids.insert(id) {
                            Some(c)
                        } else {
                            counts.duplicates += 1;
                            None
                        }
                    }
                })
                .collect();
            counts.stored += keep.len() as u64;
            if write_failed.load(Ordering::Relaxed)
                || (!keep.is_empty() && wtx.send((batch_no as u64, keep)).is_err())
            {
                break; // a writer failed: its error is returned below
            }
            counts.quarantined = rejects.len() as u64;
            bar.set_position(bytes_read.load(Ordering::Relaxed));
        }
        drop(wtx);
        join_writers(writers)?;
        Ok(())
    });
    bar.finish_and_clear();
    counts.quarantined = rejects.len() as u64;
    rejects.sort_by_key(|r| r.line);
    let qpath = store.write_quarantine(&source, &fp, &origin, &rejects)?;
    if !rejects.is_empty() {
        tracing::warn!(file = %origin, quarantined = rejects.len(), quarantine = %qpath.display(), "rows quarantined");
    }
    manifest.read = counts.read;
    manifest.stored = counts.stored;
    manifest.duplicates = counts.duplicates;
    manifest.quarantined = counts.quarantined;
    manifest.out_of_scope = counts.out_of_scope;
    manifest.out_of_scope_products = counts.left_out.clone();
    match result {
        Ok(()) => {
            if let Some(copy) = input.raw_copy {
                copy.finish()?;
            }
            manifest.status = "complete".into();
            store.write_manifest(&manifest)?;
            Ok(counts)
        }
        Err(e) => {
            manifest.status = format!("failed: {e}");
            store.write_manifest(&manifest)?;
            Err(IngestError::Partial {
                error: Box::new(e),
                counts,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{LeftOut, ProductScope};

    fn scope(p: &[&str]) -> ProductScope {
        ProductScope::new(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("scope")
    }

    #[test]
    fn a_scope_matches_product_or_sub_product_and_two_runs_store_their_union() {
        let wallets = scope(&["Money Transfer", "wallet"]);
        // CFPB's labels, old and new.
        assert!(wallets.admits(
            Some("Money transfer, virtual currency, or money service"),
            Some("Domestic (US) money transfer")
        ));
        assert!(wallets.admits(Some("Prepaid card"), Some("Mobile wallet")));
        assert!(!wallets.admits(
            Some("Credit card or prepaid card"),
            Some("General-purpose credit card or charge card")
        ));
        assert!(!wallets.admits(None, None), "no product: not in a scope");
        assert!(ProductScope::default().admits(None, None));
        // Case and order do not make a different scope.
        assert_eq!(wallets, scope(&["WALLET", "money transfer", "wallet"]));
        let cards = scope(&["credit card"]);
        assert_eq!(
            wallets.union(&cards).patterns(),
            ["credit card", "money transfer", "wallet"]
        );
        assert!(wallets.union(&ProductScope::default()).is_all());
        assert!(ProductScope::new(&[" ".to_string()]).is_err());
    }

    #[test]
    fn rows_left_out_are_counted_by_product_and_no_row_goes_uncounted() {
        let mut a = LeftOut::default();
        a.count(Some("Credit card"), Some("Store credit card"));
        a.count(Some(" "), Some("Mobile wallet")); // a blank product: the sub-product names it
        a.count(None, None);
        a.count(Some("Credit card"), None);
        let mut b = LeftOut::default();
        b.count(Some("Mortgage"), None);
        b.count(Some("Credit card"), None);
        a.merge(b);
        assert_eq!(
            a.most_first(),
            [
                ("Credit card", 3),
                ("(no product)", 1),
                ("Mobile wallet", 1),
                ("Mortgage", 1)
            ]
        );
        // An export can put anything in its product field: past NAMES names, the rest are
        // counted together, and still counted.
        let mut many = LeftOut::default();
        for i in 0..LeftOut::NAMES + 50 {
            many.count(Some(&format!("product {i}")), None);
            many.count(Some("product 0"), None);
        }
        let counts = many.most_first();
        assert_eq!(counts.len(), LeftOut::NAMES + 1);
        assert_eq!(counts[0], ("product 0", (LeftOut::NAMES + 51) as u64));
        assert_eq!(counts[1], (LeftOut::OTHERS, 50));
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        assert_eq!(total, 2 * (LeftOut::NAMES + 50) as u64);
    }
}
