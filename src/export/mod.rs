//! Export of stored complaints for people and other tools: CSV that opens correctly in
//! Excel (optional BOM, formula injection neutralised), Parquet and NDJSON, filtered by
//! provider, date range, source and language. Only masked text ever leaves the store.
//!
//! Export reads the store one part file at a time (CSV and NDJSON: the next part is read
//! and formatted while the last one is written), so memory stays bounded by the largest
//! parts, whatever the store's size.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polars::prelude::*;

use crate::classify::table::{CLASS_COLUMNS, join_classification};
use crate::schema::{COLUMNS, STORE_ONLY};
use crate::store::{Store, StoreError};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated values, UTF-8.
    Csv,
    /// Apache Parquet.
    Parquet,
    /// One JSON object a line.
    Ndjson,
}

/// Which complaints to export, and how.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Output format.
    pub format: Format,
    /// Canonical provider ids to keep (all when empty).
    pub providers: Vec<String>,
    /// Sources to keep (all when empty).
    pub sources: Vec<String>,
    /// Languages to keep (all when empty).
    pub langs: Vec<String>,
    /// Categories to keep (any of them; all when empty). Needs `classify` first.
    pub categories: Vec<crate::classify::Category>,
    /// First day kept (inclusive).
    pub since: Option<NaiveDate>,
    /// Last day kept (inclusive).
    pub until: Option<NaiveDate>,
    /// Write the UTF-8 byte-order mark Excel needs to show Chinese.
    pub excel: bool,
    /// Output file; standard output when `None` (not for Parquet).
    pub output: Option<PathBuf>,
}

/// Errors of export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the output failed.
    #[error("{path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    /// Polars failed on a store file.
    #[error("{path}: {source}")]
    Polars { path: String, source: PolarsError },
    /// The options cannot work.
    #[error("{0}")]
    Usage(String),
}

/// Maps a polars error on `path` (a store file, or the output) into an [`ExportError`].
fn polars_at(path: &str) -> impl Fn(PolarsError) -> ExportError + '_ {
    move |source| ExportError::Polars {
        path: path.to_string(),
        source,
    }
}

/// Columns exported, in order (see `docs/data-dictionary.md`): the store's columns with
/// `source` after `complaint_id`, without the store's bookkeeping columns, then the
/// classification columns (empty until `classify` has run).
pub fn export_columns() -> Vec<&'static str> {
    let mut cols = vec![COLUMNS[0], "source"];
    cols.extend(
        COLUMNS[1..]
            .iter()
            .copied()
            .filter(|c| !STORE_ONLY.contains(c)),
    );
    cols.extend(CLASS_COLUMNS.iter().copied());
    cols.push("indicators");
    cols
}

/// The indicators of each complaint (`kind:value`, in the order `detect` wrote them) keyed
/// by `complaint_id`, from the last `detect` run, or `None` before the first. Read once per
/// export: joining the whole table to every part file had doubled the time of exporting a
/// 1M-row store (8.0 → 17.4 s).
type Indicators = std::collections::HashMap<String, Vec<String>>;

fn indicators_of(store: &Store) -> Result<Option<Indicators>, ExportError> {
    let file = crate::detect::detect_dir(store).join("indicators.parquet");
    if !file.exists() {
        return Ok(None);
    }
    let p = file.display().to_string();
    let err = polars_at(&p);
    let df = LazyFrame::scan_parquet(PlRefPath::new(p.as_str()), ScanArgsParquet::default())
        .and_then(|lf| {
            lf.select([col("walletwatch_id"), col("indicator")])
                .collect()
        })
        .map_err(&err)?;
    let ids = df
        .column("walletwatch_id")
        .and_then(|c| c.str().cloned())
        .map_err(&err)?;
    let values = df
        .column("indicator")
        .and_then(|c| c.str().cloned())
        .map_err(&err)?;
    let mut map = Indicators::new();
    for (id, value) in ids.iter().zip(values.iter()) {
        if let (Some(id), Some(value)) = (id, value) {
            map.entry(id.to_string())
                .or_default()
                .push(value.to_string());
        }
    }
    Ok(Some(map))
}

/// The `indicators` column of a part's complaints (`ids`): each one's list, or null.
fn indicators_column(ids: &StringChunked, indicators: Option<&Indicators>) -> Series {
    let name = PlSmallStr::from_static("indicators");
    let Some(map) = indicators else {
        return Series::full_null(name, ids.len(), &DataType::List(Box::new(DataType::String)));
    };
    let mut b = ListStringChunkedBuilder::new(name, ids.len(), ids.len());
    for id in ids.iter() {
        match id.and_then(|i| map.get(i)) {
            Some(v) => b.append_values_iter(v.iter().map(String::as_str)),
            None => b.append_null(),
        }
    }
    b.finish().into_series()
}

/// Neutralises a cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR at
/// the start) by prefixing a `'`, as OWASP recommends.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => {
            std::borrow::Cow::Owned(format!("'{cell}"))
        }
        _ => std::borrow::Cow::Borrowed(cell),
    }
}

fn filter_frame(
    store: &Store,
    path: &Path,
    opts: &ExportOptions,
    indicators: Option<&Indicators>,
) -> Result<Option<DataFrame>, ExportError> {
    let source = crate::store::source_of(path);
    if !opts.sources.is_empty() && !opts.sources.contains(&source) {
        return Ok(None);
    }
    let p = path.display().to_string();
    let mut lf = LazyFrame::scan_parquet(PlRefPath::new(p.as_str()), ScanArgsParquet::default())
        .map_err(polars_at(&p))?;
    let in_list = |name: &str, values: &[String]| {
        values
            .iter()
            .map(|v| col(name).eq(lit(v.clone())))
            .reduce(|a, b| a.or(b))
            .expect("only called with a non-empty list")
    };
    if !opts.providers.is_empty() {
        lf = lf.filter(in_list("provider", &opts.providers));
    }
    if !opts.langs.is_empty() {
        lf = lf.filter(in_list("lang", &opts.langs));
    }
    let day = |d: NaiveDate| lit(crate::schema::to_polars_day(d)).cast(DataType::Date);
    if let Some(s) = opts.since {
        lf = lf.filter(col("received_at").gt_eq(day(s)));
    }
    if let Some(u) = opts.until {
        lf = lf.filter(col("received_at").lt_eq(day(u)));
    }
    lf = match join_classification(store, path, lf.clone(), CLASS_COLUMNS)? {
        Some(joined) => joined,
        None if !opts.categories.is_empty() => {
            return Err(ExportError::Usage(format!(
                "--category needs classified complaints, and {} is not classified yet: run `walletwatch classify` first",
                path.display()
            )));
        }
        None => lf.with_columns([
            lit(NULL)
                .cast(DataType::List(Box::new(DataType::String)))
                .alias("categories"),
            lit(NULL).cast(DataType::String).alias("primary_category"),
            lit(NULL).cast(DataType::String).alias("scores"),
            lit(NULL).cast(DataType::String).alias("evidence"),
            lit(NULL).cast(DataType::String).alias("classifier"),
        ]),
    };
    let columns = export_columns();
    let (last, before) = columns.split_last().expect("export columns");
    debug_assert_eq!(*last, "indicators");
    let mut df = lf
        .with_column(lit(source).alias("source"))
        .select(before.iter().map(|c| col(*c)).collect::<Vec<_>>())
        .collect()
        .and_then(|mut df| {
            let ids = df.column("complaint_id")?.str()?.clone();
            df.with_column(indicators_column(&ids, indicators).into_column())?;
            Ok(df)
        })
        .map_err(polars_at(&p))?;
    if !opts.categories.is_empty() {
        let wanted: Vec<&str> = opts.categories.iter().map(|c| c.id()).collect();
        let cats = df
            .column("categories")
            .and_then(|c| c.list().cloned())
            .map_err(polars_at(&p))?;
        let mask: BooleanChunked = cats
            .amortized_iter()
            .map(|row| {
                Some(row.is_some_and(|s| {
                    s.as_ref()
                        .str()
                        .map(|ca| ca.iter().flatten().any(|c| wanted.contains(&c)))
                        .unwrap_or(false)
                }))
            })
            .collect();
        df = df.filter(&mask).map_err(polars_at(&p))?;
    }
    Ok((df.height() > 0).then_some(df))
}

/// Appends a cell's CSV text to `out` (nothing for a null): lists joined with `;`, booleans
/// as Yes/No, days as YYYY-MM-DD.
fn cell_text(v: &AnyValue<'_>, out: &mut String) {
    use std::fmt::Write as _;
    match v {
        AnyValue::Null => {}
        AnyValue::String(s) => out.push_str(s),
        AnyValue::StringOwned(s) => out.push_str(s),
        AnyValue::Boolean(b) => out.push_str(if *b { "Yes" } else { "No" }),
        AnyValue::Date(d) => {
            let _ = write!(out, "{}", crate::schema::from_polars_day(*d));
        }
        AnyValue::List(s) => {
            if let Ok(ca) = s.str() {
                for (i, item) in ca.iter().flatten().enumerate() {
                    if i > 0 {
                        out.push(';');
                    }
                    out.push_str(item);
                }
            }
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// A part's rows as CSV lines (no header), every cell neutralised.
fn csv_rows(df: &DataFrame, path: &Path, buf: Vec<u8>) -> Result<Vec<u8>, ExportError> {
    let at = path.display().to_string();
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(buf);
    let wrote = |e: csv::Error| ExportError::Write {
        path: path.display().to_string(),
        source: e.into(),
    };
    // String columns (most cells, and all the long ones) are written from their arrays as
    // they are; the others go through their text form.
    let columns: Vec<(Option<&StringChunked>, &Column)> =
        df.columns().iter().map(|c| (c.str().ok(), c)).collect();
    let mut cell = String::new();
    for i in 0..df.height() {
        for (strings, c) in &columns {
            let text = match strings {
                Some(ca) => ca.get(i).unwrap_or(""),
                None => {
                    let v = c.get(i).map_err(polars_at(&at))?;
                    cell.clear();
                    cell_text(&v, &mut cell);
                    &cell
                }
            };
            w.write_field(neutralise(text).as_bytes()).map_err(wrote)?;
        }
        w.write_record(None::<&[u8]>).map_err(wrote)?;
    }
    w.into_inner().map_err(|e| ExportError::Write {
        path: path.display().to_string(),
        source: e.into_error(),
    })
}

/// A part's rows as NDJSON lines.
fn ndjson_rows(df: &DataFrame, path: &Path, mut out: Vec<u8>) -> Result<Vec<u8>, ExportError> {
    let at = path.display().to_string();
    for i in 0..df.height() {
        let mut obj = serde_json::Map::new();
        for c in df.columns() {
            let v = c.get(i).map_err(polars_at(&at))?;
            obj.insert(c.name().to_string(), cell_json(&v));
        }
        serde_json::to_writer(&mut out, &obj).map_err(|e| ExportError::Write {
            path: path.display().to_string(),
            source: e.into(),
        })?;
        out.push(b'\n');
    }
    Ok(out)
}

/// Appends one part's rows, in an output format, to a buffer.
type FormatPart = fn(&DataFrame, &Path, Vec<u8>) -> Result<Vec<u8>, ExportError>;

/// Filters and formats the part `files` one after another on a thread of their own (`format`
/// appends one part's rows to a buffer) and hands each part's bytes to `write`, in the
/// store's order, while the next part is formatted; returns the rows written. Two buffers
/// take turns. (Measured on a 1M-row store, alternating: formatting on both cores was no
/// faster than on one beside the writer, and held more memory.)
fn write_parts(
    files: &[PathBuf],
    filter: &(dyn Fn(&Path) -> Result<Option<DataFrame>, ExportError> + Sync),
    format: FormatPart,
    write: &mut dyn FnMut(&[u8]) -> Result<(), ExportError>,
) -> Result<u64, ExportError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<(Vec<u8>, u64), ExportError>>(1);
    let (back, spare) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for f in files {
                let part = filter(f).and_then(|df| match df {
                    Some(df) => {
                        let buf = spare.try_recv().unwrap_or_default();
                        Ok((format(&df, f, buf)?, df.height() as u64))
                    }
                    None => Ok((Vec::new(), 0)),
                });
                let failed = part.is_err();
                if tx.send(part).is_err() || failed {
                    return; // the writer stopped, or this part failed
                }
            }
        });
        let mut rows = 0;
        for part in rx {
            let (mut bytes, n) = part?;
            write(&bytes)?;
            rows += n;
            bytes.clear();
            let _ = back.send(bytes);
        }
        Ok(rows)
    })
}

fn cell_json(v: &AnyValue<'_>) -> serde_json::Value {
    match v {
        AnyValue::Null => serde_json::Value::Null,
        AnyValue::Boolean(b) => serde_json::Value::Bool(*b),
        AnyValue::Float64(f) => serde_json::Number::from_f64(*f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        AnyValue::UInt64(n) => serde_json::Value::from(*n),
        AnyValue::List(s) => serde_json::Value::Array(
            s.str()
                .map(|ca| {
                    ca.iter()
                        .flatten()
                        .map(|x| serde_json::Value::String(x.to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        other => {
            let mut text = String::new();
            cell_text(other, &mut text);
            serde_json::Value::String(text)
        }
    }
}

/// Exports the store's complaints; returns the number of rows written.
pub fn export(store: &Store, opts: &ExportOptions) -> Result<u64, ExportError> {
    if opts.format == Format::Parquet && opts.output.is_none() {
        return Err(ExportError::Usage(
            "Parquet output needs a file: add -o FILE.parquet".into(),
        ));
    }
    let out_name = opts
        .output
        .as_ref()
        .map_or("standard output".to_string(), |p| p.display().to_string());
    let werr = |source: std::io::Error| ExportError::Write {
        path: out_name.clone(),
        source,
    };
    let tmp = opts.output.as_ref().map(|p| crate::store::tmp_path(p));
    let sink: Box<dyn Write> = match &tmp {
        Some(t) => Box::new(std::fs::File::create(t).map_err(werr)?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut sink = std::io::BufWriter::with_capacity(1 << 20, sink);
    let mut rows = 0u64;
    let files = store.complaint_files()?;
    let indicators = indicators_of(store)?;
    let filter = |f: &Path| filter_frame(store, f, opts, indicators.as_ref());
    match opts.format {
        Format::Csv => {
            if opts.excel {
                sink.write_all(b"\xEF\xBB\xBF").map_err(werr)?;
            }
            let mut w = csv::Writer::from_writer(&mut sink);
            w.write_record(export_columns())
                .map_err(|e| werr(e.into()))?;
            w.flush().map_err(werr)?;
            drop(w);
            rows = write_parts(&files, &filter, csv_rows, &mut |b| {
                sink.write_all(b).map_err(werr)
            })?;
        }
        Format::Ndjson => {
            rows = write_parts(&files, &filter, ndjson_rows, &mut |b| {
                sink.write_all(b).map_err(werr)
            })?;
        }
        Format::Parquet => {
            let mut writer: Option<polars::io::parquet::write::BatchedWriter<_>> = None;
            for f in &files {
                let Some(df) = filter(f)? else {
                    continue;
                };
                if writer.is_none() {
                    writer = Some(
                        ParquetWriter::new(&mut sink)
                            .batched(df.schema())
                            .map_err(polars_at(&out_name))?,
                    );
                }
                let w = writer.as_mut().expect("created above");
                w.write_batch(&df).map_err(polars_at(&out_name))?;
                rows += df.height() as u64;
            }
            match writer {
                Some(w) => {
                    w.finish().map_err(polars_at(&out_name))?;
                }
                None => {
                    return Err(ExportError::Usage(
                        "no complaint matches the filters: nothing to write".into(),
                    ));
                }
            }
        }
    }
    sink.flush().map_err(werr)?;
    drop(sink);
    if let (Some(t), Some(out)) = (&tmp, &opts.output) {
        std::fs::rename(t, out).map_err(werr)?;
    }
    Ok(rows)
}
