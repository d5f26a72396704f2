//! The store: a Hive-partitioned Parquet dataset of canonical complaints, the raw layer
//! (every ingested file, byte for byte, with a manifest), the quarantine, and the PII key.
//!
//! ```text
//! <store>/complaints/source=cfpb/year=2024/part-<file fingerprint>-<batch>.parquet
//! <store>/raw/<fingerprint>.<ext>         the input file as given (`.zst` in older stores;
//!                                         a `.json` input is `<fingerprint>.input.json`)
//! <store>/raw/<fingerprint>.json          its manifest (origin, form, mapping, counts)
//! <store>/quarantine/<source>-<fingerprint>.ndjson   rows that could not be stored
//! <store>/keys/pii.key                    key of the keyed hashes of personal data
//! <store>/archive/<profile>/…page.zst      pages fetched by `ingest forum` (forum::archive)
//! ```
//!
//! Every file is written to a temporary name and renamed into place, so readers never see
//! a half-written file and a killed run leaves the store readable.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::normalise::to_frame;
use crate::schema::{Complaint, Reject};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// File-system failure on a path.
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// Parquet read/write failure.
    #[error("{path}: {source}")]
    Polars { path: String, source: PolarsError },
    /// A file of the store is not what walletwatch wrote.
    #[error("{path}: {message}")]
    Corrupt { path: String, message: String },
    /// A command that reads the store was pointed at a folder that holds none.
    #[error(
        "{path}: no store here (nothing was ingested into it); ingest first (`walletwatch --store {path} ingest cfpb FILE`), or name an existing store with --store (the demo's is reports/demo/store)"
    )]
    Missing { path: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `bytes` to `path` atomically (temporary file in the same folder, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = tmp_path(path);
    let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

/// Writes `df` to `path` as Parquet atomically (`write_parquet_file_atomic`).
pub fn write_parquet_atomic(
    path: &Path,
    df: &mut DataFrame,
    compression: ParquetCompression,
) -> Result<(), StoreError> {
    write_parquet_file_atomic(path, |out| {
        ParquetWriter::new(out)
            .with_compression(compression)
            .finish(df)
            .map(drop)
    })
}

/// Writes a Parquet file to `path` atomically (temporary file, then rename) with `write`,
/// through a buffer: polars' writers issue one `write` per page header field, and
/// unbuffered that was 18,000 system calls for a 50 MB input, most of them one byte.
fn write_parquet_file_atomic(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<fs::File>) -> PolarsResult<()>,
) -> Result<(), StoreError> {
    let tmp = tmp_path(path);
    let file = fs::File::create(&tmp).map_err(io(&tmp))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    write(&mut out).map_err(|source| StoreError::Polars {
        path: path.display().to_string(),
        source,
    })?;
    out.flush().map_err(io(&tmp))?;
    drop(out);
    fs::rename(&tmp, path).map_err(io(path))
}

/// The temporary name a file is written under before it is renamed to `path`.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

/// The `source` partition of a complaint or classification part file, from its Hive path
/// (`…/source=cfpb/year=2024/part-….parquet` → `cfpb`); empty when the path has none.
pub fn source_of(path: &Path) -> String {
    path.ancestors()
        .filter_map(|p| p.file_name()?.to_str())
        .find_map(|n| n.strip_prefix("source=").map(str::to_string))
        .unwrap_or_default()
}

/// Name of the raw copy of an input with extension `ext`: `<fingerprint>.<ext>`, except
/// that a `.json` input (a JSON array, as CFPB's own download is) becomes
/// `<fingerprint>.input.json`, since `<fingerprint>.json` is its manifest. (Before
/// 2026-12-03 the two had the same name and every `.json` input failed to ingest.)
pub fn raw_copy_name(fingerprint: &str, ext: &str) -> String {
    if ext == "json" {
        format!("{fingerprint}.input.json")
    } else {
        format!("{fingerprint}.{ext}")
    }
}

/// Whether `path` in `raw/` is a manifest: `<fingerprint>.json`, never a raw copy
/// (`<fingerprint>.input.json`, or a temporary name).
fn is_manifest_name(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "json")
        && path
            .file_stem()
            .and_then(|s| s.to_str())
            .is_some_and(|s| !s.contains('.'))
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Manifest of one ingested file in the raw layer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Fingerprint of the file's content.
    pub fingerprint: String,
    /// Path the file was ingested from.
    pub origin: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Name of the raw copy inside `raw/`.
    pub raw_copy: String,
    /// `cfpb` or `export`.
    pub kind: String,
    /// Source name (partition key).
    pub source: String,
    /// The mapping file's text, for exports.
    pub mapping: Option<String>,
    /// Encoding the file was decoded with.
    pub encoding: String,
    /// `in-progress` until the file was read to its end, then `complete`.
    pub status: String,
    /// Reconciliation of the last run over this file.
    pub read: u64,
    /// Rows stored by the last run.
    pub stored: u64,
    /// Duplicates skipped by the last run.
    pub duplicates: u64,
    /// Rows quarantined by the last run.
    pub quarantined: u64,
    /// The products kept (`--product` patterns, lower-case) over every run on this file:
    /// empty when a run kept every row. `normalise` keeps the same.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<String>,
    /// Rows the last run left out as outside its `--product` scope.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub out_of_scope: u64,
    /// Those rows by product (the sub-product where a row names none), most rows first
    /// when printed; the rows themselves stay in the raw copy.
    #[serde(default, skip_serializing_if = "crate::ingest::LeftOut::is_empty")]
    pub out_of_scope_products: crate::ingest::LeftOut,
    /// When the last run started (RFC 3339).
    pub ingested_at: String,
}

/// Columns of a part whose values do not repeat, by construction (ids, content hash) or
/// nearly so by nature (a complaint's own words; the same complaint for the same provider
/// and day is dropped as a duplicate): they are written with Parquet's plain encoding from
/// the start. polars' writer tries a dictionary for every string column and first
/// estimates each one's distinct values by hashing them all, which for the text was ~6% of
/// ingest's CPU time (perf, 1M rows).
const PLAIN_COLUMNS: [&str; 4] = ["complaint_id", "source_id", "text", "content_hash"];

/// Writes a complaint part to `path` atomically, like [`write_parquet_atomic`] but through
/// polars-parquet's writer, with [`PLAIN_COLUMNS`] plain-encoded; the rest as polars
/// encodes them, with the same statistics.
fn write_part_atomic(
    path: &Path,
    df: &DataFrame,
    compression: ParquetCompression,
) -> Result<(), StoreError> {
    use polars_parquet::write::{
        Encoding, FileWriter, StatisticsOptions, Version, WriteOptions, get_dtype_encoding,
        row_group_iter, to_parquet_schema,
    };
    let schema = df.schema().to_arrow(CompatLevel::newest());
    let encodings: Vec<Vec<Encoding>> = schema
        .iter_values()
        .map(|field| {
            let encoding = get_dtype_encoding(&field.dtype);
            if PLAIN_COLUMNS.contains(&field.name.as_str()) {
                vec![Encoding::Plain; encoding.len()]
            } else {
                encoding
            }
        })
        .collect();
    let options = WriteOptions {
        statistics: StatisticsOptions::default(),
        version: Version::V1,
        compression: compression.into(),
        data_page_size: None,
    };
    write_parquet_file_atomic(path, |out| {
        let fields = to_parquet_schema(&schema)?.fields().to_vec();
        let mut writer = FileWriter::try_new(out, schema, options)?;
        for chunk in df.iter_chunks(CompatLevel::newest(), false) {
            let rows = chunk.len() as u64;
            let columns = row_group_iter(chunk, encodings.clone().into(), fields.clone(), options);
            writer.write(rows, columns)?;
        }
        writer.end(None).map(drop)
    })
}

/// How `ingest` compresses the complaint parts it writes. Readers take any of them, and a
/// store may mix them.
///
/// The default is none, for speed. On the 1M-row benchmark corpus (two runs each):
/// none 1,127 MB of parts, ingest 3.8 s, classify 2.0 s; LZ4 616 MB, 5.1 s, 2.25 s; zstd
/// 354 MB, 6.2 s, 2.5 s. The raw layer beside them (1.3 GB) is kept uncompressed for the
/// same reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PartCompression {
    /// No compression: the pages as Parquet encodes them.
    #[default]
    None,
    /// LZ4 (Parquet's `LZ4_RAW`): about half the size.
    Lz4,
    /// Zstandard, level 3: smallest.
    Zstd,
}

impl PartCompression {
    /// The polars setting it stands for.
    pub fn parquet(self) -> ParquetCompression {
        match self {
            Self::None => ParquetCompression::Uncompressed,
            Self::Lz4 => ParquetCompression::Lz4Raw,
            Self::Zstd => ParquetCompression::Zstd(None),
        }
    }
}

/// An open store.
pub struct Store {
    root: PathBuf,
    complaints: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store at `root`, and removes temporary files left by
    /// a killed run.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        // A `normalise` killed between its two renames leaves only the old table aside.
        let old = root.join("complaints.old");
        if !root.join("complaints").exists() && old.exists() {
            fs::rename(&old, root.join("complaints")).map_err(io(&old))?;
        }
        for sub in ["complaints", "classifications", "raw", "quarantine", "keys"] {
            let d = root.join(sub);
            fs::create_dir_all(&d).map_err(io(&d))?;
        }
        let store = Self {
            root: root.to_path_buf(),
            complaints: root.join("complaints"),
        };
        store.remove_stale_temporaries(root)?;
        Ok(store)
    }

    /// Opens the store at `root` for a command that reads it (classify, export, detect,
    /// score, report, normalise): a folder with no store is an error naming it, where
    /// [`Store::open`] would create an empty store at a mistyped `--store` and report
    /// nothing found.
    pub fn open_existing(root: &Path) -> Result<Self, StoreError> {
        if !root.join("complaints").is_dir() && !root.join("complaints.old").is_dir() {
            return Err(StoreError::Missing {
                path: root.display().to_string(),
            });
        }
        Self::open(root)
    }

    fn remove_stale_temporaries(&self, dir: &Path) -> Result<(), StoreError> {
        for entry in fs::read_dir(dir).map_err(io(dir))? {
            let entry = entry.map_err(io(dir))?;
            let path = entry.path();
            if path.is_dir() {
                self.remove_stale_temporaries(&path)?;
            } else if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(".tmp-"))
            {
                tracing::info!(path = %path.display(), "removing a temporary file left by an interrupted run");
                fs::remove_file(&path).map_err(io(&path))?;
            }
        }
        Ok(())
    }

    /// The store's root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Folder of the canonical complaint table.
    pub fn complaints_dir(&self) -> PathBuf {
        self.complaints.clone()
    }

    /// A view of this store whose complaint table is the (emptied) folder `name`, for
    /// rebuilding the table beside the current one.
    pub fn staging(&self, name: &str) -> Result<Store, StoreError> {
        let dir = self.root.join(name);
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(io(&dir))?;
        }
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(Store {
            root: self.root.clone(),
            complaints: dir,
        })
    }

    /// Replaces the complaint table with a staging folder built by [`Store::staging`].
    pub fn promote(&self, staging: &Store) -> Result<(), StoreError> {
        let old = self.root.join("complaints.old");
        if old.exists() {
            fs::remove_dir_all(&old).map_err(io(&old))?;
        }
        fs::rename(&self.complaints, &old).map_err(io(&self.complaints))?;
        fs::rename(&staging.complaints, &self.complaints).map_err(io(&staging.complaints))?;
        fs::remove_dir_all(&old).map_err(io(&old))?;
        // Classifications were derived from the old table: `classify` must run again.
        let classes = self.classifications_dir();
        if classes.exists() {
            fs::remove_dir_all(&classes).map_err(io(&classes))?;
        }
        fs::create_dir_all(&classes).map_err(io(&classes))
    }

    /// Folder of the classification table (see `classify::table`).
    pub fn classifications_dir(&self) -> PathBuf {
        self.root.join("classifications")
    }

    /// Folder of the raw layer.
    pub fn raw_dir(&self) -> PathBuf {
        self.root.join("raw")
    }

    /// The key of the keyed hashes of personal data, created on first use.
    pub fn pii_key(&self) -> Result<[u8; 32], StoreError> {
        let path = self.root.join("keys").join("pii.key");
        match fs::read(&path) {
            Ok(bytes) => bytes.try_into().map_err(|_| StoreError::Corrupt {
                path: path.display().to_string(),
                message: "the PII key must be 32 bytes; restore it from a backup".into(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut seed = Vec::new();
                seed.extend_from_slice(&std::process::id().to_le_bytes());
                seed.extend_from_slice(format!("{:?}", std::time::SystemTime::now()).as_bytes());
                seed.extend_from_slice(path.display().to_string().as_bytes());
                if let Ok(mut f) = fs::File::open("/dev/urandom") {
                    let mut buf = [0u8; 32];
                    if std::io::Read::read_exact(&mut f, &mut buf).is_ok() {
                        seed.extend_from_slice(&buf);
                    }
                }
                let key = *blake3::hash(&seed).as_bytes();
                write_atomic(&path, &key)?;
                Ok(key)
            }
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// All stored complaint files.
    pub fn complaint_files(&self) -> Result<Vec<PathBuf>, StoreError> {
        let mut out = Vec::new();
        collect_parquet(&self.complaints_dir(), &mut out)?;
        out.sort();
        Ok(out)
    }

    /// Complaint ids already stored (for duplicate detection), as 64-bit numbers.
    pub fn existing_ids(&self) -> Result<HashSet<u64>, StoreError> {
        let mut ids = HashSet::new();
        if self.complaint_files()?.is_empty() {
            return Ok(ids);
        }
        let path = || self.complaints_dir().display().to_string();
        let df = self
            .scan()?
            .select([col("complaint_id")])
            .collect()
            .map_err(|source| StoreError::Polars {
                path: path(),
                source,
            })?;
        let ca = df
            .column("complaint_id")
            .and_then(|c| c.str().cloned())
            .map_err(|_| StoreError::Corrupt {
                path: path(),
                message: "complaint files lack a complaint_id string column".into(),
            })?;
        ids.reserve(ca.len());
        ids.extend(
            ca.iter()
                .flatten()
                .filter_map(|s| u64::from_str_radix(s, 16).ok()),
        );
        Ok(ids)
    }

    /// A lazy scan over every stored complaint, with `source` and `year` from the paths.
    pub fn scan(&self) -> Result<LazyFrame, StoreError> {
        let pattern = format!("{}/**/*.parquet", self.complaints_dir().display());
        let args = ScanArgsParquet {
            hive_options: HiveOptions {
                enabled: Some(true),
                hive_start_idx: 0,
                schema: None,
                try_parse_dates: false,
            },
            ..Default::default()
        };
        LazyFrame::scan_parquet(PlRefPath::new(pattern.as_str()), args).map_err(|source| {
            StoreError::Polars {
                path: pattern,
                source,
            }
        })
    }

    /// Writes one batch of complaints of `source`, one file per year partition, each
    /// atomically (`write_part_atomic`), compressed as `compression` says. Part names are
    /// derived from the file fingerprint and batch number, so a re-run after a kill rewrites
    /// the same names instead of adding new ones. Returns each part file written with its
    /// rows.
    pub fn write_batch(
        &self,
        source: &str,
        fingerprint: &str,
        batch: u64,
        rows: Vec<Complaint>,
        compression: PartCompression,
    ) -> Result<Vec<(PathBuf, Vec<Complaint>)>, StoreError> {
        let mut written = Vec::new();
        let mut by_year: BTreeMap<Option<i32>, Vec<Complaint>> = BTreeMap::new();
        for r in rows {
            by_year
                .entry(r.received_at.map(|d| chrono::Datelike::year(&d)))
                .or_default()
                .push(r);
        }
        for (year, rows) in by_year {
            let year_dir = match year {
                Some(y) => format!("year={y}"),
                None => "year=__HIVE_DEFAULT_PARTITION__".to_string(),
            };
            let dir = self
                .complaints_dir()
                .join(format!("source={source}"))
                .join(year_dir);
            fs::create_dir_all(&dir).map_err(io(&dir))?;
            let mut path = dir.join(format!("part-{fingerprint}-{batch:06}.parquet"));
            let mut n = 1;
            while path.exists() {
                path = dir.join(format!("part-{fingerprint}-{batch:06}-{n}.parquet"));
                n += 1;
            }
            let p = path.display().to_string();
            let df = to_frame(&rows, fingerprint).map_err(|source| StoreError::Polars {
                path: p.clone(),
                source,
            })?;
            write_part_atomic(&path, &df, compression.parquet())?;
            written.push((path, rows));
        }
        Ok(written)
    }

    /// Path of a file's manifest in the raw layer.
    pub fn manifest_path(&self, fingerprint: &str) -> PathBuf {
        self.raw_dir().join(format!("{fingerprint}.json"))
    }

    /// Writes a manifest atomically.
    pub fn write_manifest(&self, m: &Manifest) -> Result<(), StoreError> {
        let json = serde_json::to_vec_pretty(m).expect("a manifest always serialises");
        write_atomic(&self.manifest_path(&m.fingerprint), &json)
    }

    /// Every manifest of the raw layer, oldest first.
    pub fn manifests(&self) -> Result<Vec<Manifest>, StoreError> {
        let dir = self.raw_dir();
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io(&dir))? {
            let path = entry.map_err(io(&dir))?.path();
            if is_manifest_name(&path) {
                let bytes = fs::read(&path).map_err(io(&path))?;
                let m: Manifest =
                    serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                        path: path.display().to_string(),
                        message: format!("not a walletwatch manifest: {e}"),
                    })?;
                out.push(m);
            }
        }
        out.sort_by(|a, b| {
            a.ingested_at
                .cmp(&b.ingested_at)
                .then(a.origin.cmp(&b.origin))
        });
        Ok(out)
    }

    /// Writes the quarantine file of one input (replacing the previous run's).
    pub fn write_quarantine(
        &self,
        source: &str,
        fingerprint: &str,
        origin: &str,
        rejects: &[Reject],
    ) -> Result<PathBuf, StoreError> {
        let path = self
            .root
            .join("quarantine")
            .join(format!("{source}-{fingerprint}.ndjson"));
        let mut buf = Vec::new();
        for r in rejects {
            let line = serde_json::json!({"file": origin, "line": r.line, "reason": r.reason, "raw": r.raw});
            serde_json::to_writer(&mut buf, &line).expect("json values always serialise");
            buf.push(b'\n');
        }
        if rejects.is_empty() {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&path)(e)),
            }
        } else {
            write_atomic(&path, &buf)?;
        }
        Ok(path)
    }
}

fn collect_parquet(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(dir)(e)),
    };
    for entry in entries {
        let path = entry.map_err(io(dir))?.path();
        if path.is_dir() {
            collect_parquet(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A part as ingest writes it reads back as the frame it was written from, in every
    /// compression: plain-encoded strings (repeated and null ones too), dictionary-encoded
    /// ones, a date, a list of strings and numbers.
    #[test]
    fn parts_read_back_as_written() {
        let text = [
            Some("钱被转走了 money gone"),
            None,
            Some("钱被转走了 money gone"),
            Some(""),
        ];
        let pii = [
            Series::new("".into(), ["phone:3f9a", "email:77c1"]),
            Series::new("".into(), Vec::<&str>::new()),
            Series::new("".into(), ["phone:3f9a"]),
            Series::new("".into(), ["id:0b12"]),
        ];
        let mut df = df!(
            "complaint_id" => ["a1", "b2", "c3", "d4"],
            "provider" => [Some("alipay"), Some("alipay"), None, Some("paypal")],
            "received_at" => [Some(19_000i32), None, Some(19_001), Some(19_000)],
            "text" => text,
            "pii_hashes" => pii,
            "amount" => [Some(12.5f64), None, Some(0.0), Some(1e9)],
            "line" => [2u64, 3, 4, 5],
        )
        .expect("frame");
        df.apply("received_at", |s| s.cast(&DataType::Date).expect("date"))
            .expect("date column");
        let dir = std::env::temp_dir().join(format!("ww-part-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("dir");
        for codec in [
            PartCompression::None,
            PartCompression::Lz4,
            PartCompression::Zstd,
        ] {
            let path = dir.join(format!("{codec:?}.parquet"));
            write_part_atomic(&path, &df, codec.parquet()).expect("write");
            let back = ParquetReader::new(fs::File::open(&path).expect("open"))
                .finish()
                .expect("read");
            assert!(back.equals_missing(&df), "{codec:?}: {back} != {df}");
        }
        fs::remove_dir_all(&dir).expect("clean");
    }
}
