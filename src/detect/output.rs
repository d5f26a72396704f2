//! The result tables of `detect`, written as CSV (for people: UTF-8, formula-neutralised
//! cells) and as Parquet into the store (for `report`). Both writes are atomic.

use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::export::neutralise;
use crate::store::{StoreError, write_atomic};

/// One column's values.
#[derive(Debug, Clone)]
pub enum Col {
    /// Text.
    Str(Vec<Option<String>>),
    /// Whole numbers.
    Int(Vec<i64>),
    /// Decimals.
    Float(Vec<Option<f64>>),
    /// Yes/no.
    Bool(Vec<bool>),
    /// Days.
    Date(Vec<Option<NaiveDate>>),
}

impl Col {
    fn len(&self) -> usize {
        match self {
            Col::Str(v) => v.len(),
            Col::Int(v) => v.len(),
            Col::Float(v) => v.len(),
            Col::Bool(v) => v.len(),
            Col::Date(v) => v.len(),
        }
    }

    fn cell(&self, row: usize) -> String {
        match self {
            Col::Str(v) => v[row].clone().unwrap_or_default(),
            Col::Int(v) => v[row].to_string(),
            Col::Float(v) => v[row].map(float_cell).unwrap_or_default(),
            Col::Bool(v) => if v[row] { "true" } else { "false" }.to_string(),
            Col::Date(v) => v[row].map(|d| d.to_string()).unwrap_or_default(),
        }
    }
}

/// Small numbers (p-values) in scientific notation, others with up to 6 decimals.
fn float_cell(f: f64) -> String {
    if f != 0.0 && f.abs() < 1e-4 {
        format!("{f:.2e}")
    } else {
        let s = format!("{f:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A named table.
#[derive(Debug, Clone)]
pub struct Table {
    /// File stem (`campaigns`).
    pub name: &'static str,
    /// Columns in order.
    pub columns: Vec<(&'static str, Col)>,
}

fn polars_err(path: &Path) -> impl Fn(PolarsError) -> StoreError + '_ {
    move |source| StoreError::Polars {
        path: path.display().to_string(),
        source,
    }
}

impl Table {
    /// Rows.
    pub fn height(&self) -> usize {
        self.columns.first().map_or(0, |(_, c)| c.len())
    }

    /// As a polars frame.
    pub fn to_frame(&self) -> PolarsResult<DataFrame> {
        let cols = self
            .columns
            .iter()
            .map(|(name, c)| {
                let name = PlSmallStr::from_static(name);
                let s = match c {
                    Col::Str(v) => Series::new(name, v),
                    Col::Int(v) => Series::new(name, v),
                    Col::Float(v) => Series::new(name, v),
                    Col::Bool(v) => Series::new(name, v),
                    Col::Date(v) => Series::new(
                        name,
                        v.iter()
                            .map(|d| d.map(crate::schema::to_polars_day))
                            .collect::<Vec<_>>(),
                    )
                    .cast(&DataType::Date)?,
                };
                Ok(s.into_column())
            })
            .collect::<PolarsResult<Vec<_>>>()?;
        DataFrame::new_infer_height(cols)
    }

    /// Writes `<dir>/<name>.csv`.
    pub fn write_csv(&self, dir: &Path) -> Result<(), StoreError> {
        let path = dir.join(format!("{}.csv", self.name));
        let mut w = csv::Writer::from_writer(Vec::new());
        let io = |e: csv::Error| StoreError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(e),
        };
        w.write_record(self.columns.iter().map(|(n, _)| *n))
            .map_err(io)?;
        for row in 0..self.height() {
            w.write_record(
                self.columns
                    .iter()
                    .map(|(_, c)| neutralise(&c.cell(row)).into_owned()),
            )
            .map_err(io)?;
        }
        let bytes = w.into_inner().map_err(|e| StoreError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
        write_atomic(&path, &bytes)
    }

    /// Writes `<dir>/<name>.parquet`.
    pub fn write_parquet(&self, dir: &Path) -> Result<(), StoreError> {
        let path = dir.join(format!("{}.parquet", self.name));
        let mut df = self.to_frame().map_err(polars_err(&path))?;
        crate::store::write_parquet_atomic(&path, &mut df, ParquetCompression::default())
    }
}
