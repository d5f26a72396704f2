//! The classification table of the store: `classifications/source=…/year=…/`, one file
//! beside each complaint part file (`part-X.parquet` → `part-X.<tag>.parquet`, where `tag`
//! names the classifier and its version). Classifying is incremental and idempotent: a
//! part already classified by the same classifier version is skipped; a new version
//! replaces the old file atomically.
//!
//! Columns: `complaint_id`, `categories` (list of ids), `primary_category`, `scores`
//! (JSON object, id → score), `evidence` (JSON array), `classifier`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use polars::prelude::*;
use rayon::prelude::*;

use super::{Classification, Classifier, Doc};
use crate::store::{Store, StoreError};

/// Columns of the classification table, in order.
pub const CLASS_COLUMNS: &[&str] = &[
    "categories",
    "primary_category",
    "scores",
    "evidence",
    "classifier",
];

/// What a `classify` run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ClassifyCounts {
    /// Complaints classified in this run.
    pub classified: u64,
    /// Complaints already classified by this classifier version (skipped).
    pub unchanged: u64,
    /// Complaint part files looked at.
    pub files: u64,
}

impl std::fmt::Display for ClassifyCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "classified {} + already classified {} = {} complaints in {} part file(s)",
            self.classified,
            self.unchanged,
            self.classified + self.unchanged,
            self.files
        )
    }
}

/// The file-name tag of a classifier: 8 hex digits of its name's hash.
pub fn tag(classifier: &str) -> String {
    format!(
        "{:08x}",
        xxhash_rust::xxh3::xxh3_64(classifier.as_bytes()) >> 32
    )
}

fn polars_err(path: &Path) -> impl Fn(PolarsError) -> StoreError + '_ {
    move |source| StoreError::Polars {
        path: path.display().to_string(),
        source,
    }
}

/// Folder and file stem of a complaint part's classification files.
fn class_dir(store: &Store, part: &Path) -> (PathBuf, String) {
    let rel = part
        .strip_prefix(store.complaints_dir())
        .expect("part files live under the complaint table");
    let dir = store
        .classifications_dir()
        .join(rel.parent().unwrap_or(Path::new("")));
    let stem = part
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("part names are UTF-8");
    (dir, stem.to_string())
}

/// The path of a complaint part's classification by the classifier tagged `tag`.
fn target_of(store: &Store, part: &Path, tag: &str) -> PathBuf {
    let (dir, stem) = class_dir(store, part);
    dir.join(format!("{stem}.{tag}.parquet"))
}

/// The classification files of a complaint part, any classifier.
fn classifications(store: &Store, part: &Path) -> Vec<PathBuf> {
    let (dir, stem) = class_dir(store, part);
    let mut found = Vec::new();
    if let Ok(entries) = fs::read_dir(&dir) {
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if let Some(rest) = name.strip_prefix(&stem).and_then(|r| r.strip_prefix('.'))
                && rest.ends_with(".parquet")
                && !rest.contains(".tmp-")
                && rest.matches('.').count() == 1
            {
                found.push(e.path());
            }
        }
    }
    found
}

/// The classification file of a complaint part, whichever classifier wrote it.
pub fn classification_of(store: &Store, part: &Path) -> Result<Option<PathBuf>, StoreError> {
    Ok(classifications(store, part).into_iter().max_by_key(|p| {
        fs::metadata(p)
            .and_then(|m| m.modified())
            .unwrap_or(std::time::UNIX_EPOCH)
    }))
}

/// `lf`, a scan of the complaint part `part`, with the `columns` of its classification
/// joined on `complaint_id` (left join); `None` when the part is not classified yet.
pub fn join_classification(
    store: &Store,
    part: &Path,
    lf: LazyFrame,
    columns: &[&str],
) -> Result<Option<LazyFrame>, StoreError> {
    let Some(file) = classification_of(store, part)? else {
        return Ok(None);
    };
    let p = file.display().to_string();
    let classes = LazyFrame::scan_parquet(PlRefPath::new(p.as_str()), ScanArgsParquet::default())
        .map_err(polars_err(&file))?
        .select(
            std::iter::once("complaint_id")
                .chain(columns.iter().copied())
                .map(col)
                .collect::<Vec<_>>(),
        );
    Ok(Some(lf.join(
        classes,
        [col("complaint_id")],
        [col("complaint_id")],
        JoinArgs::new(JoinType::Left),
    )))
}

/// Builds the classification frame of a batch.
pub fn to_frame(ids: &[&str], results: &[Classification]) -> PolarsResult<DataFrame> {
    let mut cats =
        ListStringChunkedBuilder::new("categories".into(), results.len(), results.len() * 2);
    for r in results {
        cats.append_values_iter(r.categories.iter().map(|c| c.id()));
    }
    let primary: Vec<&str> = results.iter().map(|r| r.primary_category.id()).collect();
    let scores: Vec<String> = results
        .iter()
        .map(Classification::scores_json_text)
        .collect();
    let evidence: Vec<String> = results
        .iter()
        .map(Classification::evidence_json_text)
        .collect();
    let names: Vec<&str> = results.iter().map(|r| r.classifier.as_str()).collect();
    DataFrame::new_infer_height(vec![
        Column::new("complaint_id".into(), ids),
        cats.finish().into_series().into_column(),
        Column::new("primary_category".into(), primary),
        Column::new("scores".into(), scores),
        Column::new("evidence".into(), evidence),
        Column::new("classifier".into(), names),
    ])
}

fn classify_part(
    part: &Path,
    target: &Path,
    classifier: &dyn Classifier,
) -> Result<u64, StoreError> {
    let p = part.display().to_string();
    let file = std::fs::File::open(part).map_err(|source| StoreError::Io {
        path: p.clone(),
        source,
    })?;
    // The eager reader, one thread: parts are already read several at a time, and the lazy
    // scan's streaming engine (async executor, prefetching) cost more than it gave here.
    // Alternating runs, 1M rows: classify 2.64-2.87 -> 2.42-2.57 s, peak 333-360 -> 256-263
    // MiB, results identical.
    let df = ParquetReader::new(file)
        .with_columns(Some(vec![
            "complaint_id".into(),
            "title".into(),
            "text".into(),
        ]))
        .read_parallel(ParallelStrategy::None)
        .finish()
        .map_err(polars_err(part))?;
    let corrupt = |what: &str| StoreError::Corrupt {
        path: p.clone(),
        message: format!("the {what} column is not text"),
    };
    let ids = df
        .column("complaint_id")
        .ok()
        .and_then(|c| c.str().ok())
        .ok_or_else(|| corrupt("complaint_id"))?;
    let titles = df
        .column("title")
        .ok()
        .and_then(|c| c.str().ok())
        .ok_or_else(|| corrupt("title"))?;
    let texts = df
        .column("text")
        .ok()
        .and_then(|c| c.str().ok())
        .ok_or_else(|| corrupt("text"))?;
    let docs: Vec<Doc<'_>> = titles
        .iter()
        .zip(texts.iter())
        .map(|(title, text)| Doc {
            title,
            text: text.unwrap_or(""),
        })
        .collect();
    let ids: Vec<&str> = ids.iter().map(|s| s.unwrap_or("")).collect();
    write_classification(part, target, &ids, &docs, classifier)
}

/// Classifies `docs` (in parallel) and writes their classification, keyed by `ids`, to
/// `target` atomically; `part` is the complaint part they come from (named in errors).
fn write_classification(
    part: &Path,
    target: &Path,
    ids: &[&str],
    docs: &[Doc<'_>],
    classifier: &dyn Classifier,
) -> Result<u64, StoreError> {
    let results: Vec<Classification> = docs
        .par_chunks(512)
        .map(|chunk| classifier.classify_batch(chunk))
        .collect::<anyhow::Result<Vec<_>>>()
        .map_err(|e| StoreError::Corrupt {
            path: part.display().to_string(),
            message: format!("classifier failed: {e:#}"),
        })?
        .into_iter()
        .flatten()
        .collect();
    let mut out = to_frame(ids, &results).map_err(polars_err(target))?;
    if let Some(dir) = target.parent() {
        fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.display().to_string(),
            source,
        })?;
    }
    crate::store::write_parquet_atomic(target, &mut out, ParquetCompression::Lz4Raw)?;
    Ok(ids.len() as u64)
}

fn rows_of(path: &Path) -> Result<u64, StoreError> {
    let p = path.display().to_string();
    let df = LazyFrame::scan_parquet(PlRefPath::new(p.as_str()), ScanArgsParquet::default())
        .and_then(|lf| lf.select([len()]).collect())
        .map_err(polars_err(path))?;
    Ok(df
        .column("len")
        .ok()
        .and_then(|c| c.get(0).ok())
        .and_then(|v| v.extract::<u64>())
        .unwrap_or(0))
}

/// Classifies the complaints of a part file just written (`rows`, the part's content), so
/// ingest can classify while the text is in memory; `classify` then finds the part done.
pub fn classify_new_part(
    store: &Store,
    part: &Path,
    rows: &[crate::schema::Complaint],
    classifier: &dyn Classifier,
) -> Result<u64, StoreError> {
    let target = target_of(store, part, &tag(classifier.name()));
    let ids: Vec<&str> = rows.iter().map(|r| r.complaint_id.as_str()).collect();
    let docs: Vec<Doc<'_>> = rows
        .iter()
        .map(|r| Doc {
            title: r.title.as_deref(),
            text: r.text.as_deref().unwrap_or(""),
        })
        .collect();
    write_classification(part, &target, &ids, &docs, classifier)
}

/// Classifies every stored complaint not yet classified by this classifier version.
/// `on_file` is called after each part file with the number of complaints in it.
///
/// [`Classifier::parts_in_hand`] part files are in hand at a time (four for the rules), so
/// one part's serial steps (Parquet decoding, the frame, LZ4, writing) overlap the
/// others' classification, which runs on the rayon pool: one part at a time, a 2-core
/// machine stood a third idle. A fixed number, not a rayon `par_iter` over parts: that
/// lets a waiting worker steal ever more parts, and memory grew with them (970 MiB
/// against 240).
pub fn classify_store(
    store: &Store,
    classifier: &dyn Classifier,
    on_file: &(dyn Fn(u64) + Sync),
) -> Result<ClassifyCounts, StoreError> {
    let tag = tag(classifier.name());
    let parts = store.complaint_files()?;
    let one = |part: &PathBuf| -> Result<(u64, u64), StoreError> {
        let target = target_of(store, part, &tag);
        if target.exists() {
            let n = rows_of(&target)?;
            on_file(n);
            return Ok((0, n));
        }
        let n = classify_part(part, &target, classifier)?;
        // The new file is in place: older classifications of this part can go.
        for old in classifications(store, part)
            .iter()
            .filter(|p| **p != target)
        {
            fs::remove_file(old).map_err(|source| StoreError::Io {
                path: old.display().to_string(),
                source,
            })?;
        }
        on_file(n);
        Ok((n, 0))
    };
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let worker = || -> Result<(u64, u64), StoreError> {
        let mut sum = (0, 0);
        while !failed.load(Ordering::Relaxed) {
            let Some(part) = parts.get(next.fetch_add(1, Ordering::Relaxed)) else {
                break;
            };
            match one(part) {
                Ok((c, u)) => sum = (sum.0 + c, sum.1 + u),
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        Ok(sum)
    };
    let sums = std::thread::scope(|s| {
        let others: Vec<_> = (1..classifier.parts_in_hand().max(1))
            .map(|_| s.spawn(worker))
            .collect();
        let mut sums = vec![worker()];
        sums.extend(
            others
                .into_iter()
                .map(|h| h.join().expect("a classify worker panicked")),
        );
        sums
    });
    let mut counts = ClassifyCounts {
        files: parts.len() as u64,
        ..Default::default()
    };
    for sum in sums {
        let (classified, unchanged) = sum?;
        counts.classified += classified;
        counts.unchanged += unchanged;
    }
    Ok(counts)
}
