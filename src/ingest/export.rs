//! Any CSV / JSON array / NDJSON export, described by a mapping file (TOML) that says which
//! field is the id, text, title, date and its format, provider, status, amount… See
//! `data/mappings/*.toml` for examples and `docs/mapping-files.md` for the format.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::IngestError;
use super::fields::{Canon, FieldMap};
use super::json_rows::JsonShape;
use crate::normalise::dates::{DateRules, parse_offset};

/// Date section of a mapping.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatesSection {
    /// chrono formats tried before the built-in ones.
    #[serde(default)]
    pub formats: Vec<String>,
    /// Offset of local times (`+08:00`); UTC when absent.
    pub utc_offset: Option<String>,
    /// Read a bare number as an Excel date serial.
    #[serde(default)]
    pub excel_serial: bool,
    /// Read `03/01/2024` as 3 January.
    #[serde(default)]
    pub day_first: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    source: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
    #[serde(default)]
    repair_mojibake: bool,
    #[serde(default)]
    default_currency: Option<String>,
    #[serde(default)]
    delimiter: Option<String>,
    fields: BTreeMap<String, String>,
    #[serde(default)]
    dates: DatesSection,
}

/// A validated mapping.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// Source name: the partition key and part of every complaint id.
    pub source: String,
    /// What the export is.
    pub description: Option<String>,
    /// `csv`, `json` or `ndjson`; from the file's first bytes when absent.
    pub format: Option<String>,
    /// Encoding label, when the mapping fixes it.
    pub encoding: Option<String>,
    /// Repair UTF-8-read-as-Latin-1 text.
    pub repair_mojibake: bool,
    /// Currency of bare amounts.
    pub default_currency: Option<String>,
    /// CSV field separator; sniffed from the header line when absent.
    pub delimiter: Option<u8>,
    /// Canonical field → source field.
    pub fields: Vec<(Canon, String)>,
    /// Date formats and offset.
    pub dates: DatesSection,
    /// The mapping's text (kept in the raw layer's manifest).
    pub text: String,
}

/// Input format a mapping resolves to.
pub enum Format {
    /// CSV with a header row.
    Csv,
    /// JSON objects.
    Json(JsonShape),
}

impl Mapping {
    /// Loads a mapping file.
    pub fn load(path: &Path) -> Result<Self, IngestError> {
        let text = std::fs::read_to_string(path).map_err(|e| IngestError::open(path, e))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates mapping text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, IngestError> {
        let err = |message: String| IngestError::Mapping {
            path: origin.to_string(),
            message,
        };
        let f: MappingFile =
            toml::from_str(text).map_err(|e| err(e.to_string().trim_end().to_string()))?;
        if f.source.is_empty()
            || !f
                .source
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
        {
            return Err(err(format!(
                "source {:?} must be lower-case letters, digits, '_', '.' or '-'",
                f.source
            )));
        }
        if f.source == "cfpb" {
            return Err(err("source \"cfpb\" is reserved for `ingest cfpb`".into()));
        }
        let mut fields = Vec::new();
        for (k, v) in &f.fields {
            let Some((canon, _)) = Canon::ALL.iter().find(|(_, name)| name == k) else {
                let known: Vec<&str> = Canon::ALL.iter().map(|(_, n)| *n).collect();
                return Err(err(format!(
                    "unknown field {k:?} in [fields]; known fields: {}",
                    known.join(", ")
                )));
            };
            fields.push((*canon, v.clone()));
        }
        if !fields
            .iter()
            .any(|(c, _)| matches!(c, Canon::Text | Canon::Title))
        {
            return Err(err("[fields] must name at least `text` or `title`".into()));
        }
        if let Some(fmt) = &f.format
            && !["csv", "json", "ndjson"].contains(&fmt.as_str())
        {
            return Err(err(format!("format {fmt:?} must be csv, json or ndjson")));
        }
        if let Some(off) = &f.dates.utc_offset
            && parse_offset(off).is_none()
        {
            return Err(err(format!(
                "dates.utc_offset {off:?} must look like +08:00, -05:00 or UTC"
            )));
        }
        if let Some(enc) = &f.encoding
            && enc != "auto"
            && super::input::encoding_by_label(enc).is_none()
        {
            return Err(err(format!(
                "unknown encoding {enc:?} (try utf-8, gbk, gb18030)"
            )));
        }
        crate::normalise::text::check_default_currency(f.default_currency.as_deref())
            .map_err(err)?;
        let delimiter = match f.delimiter.as_deref() {
            None => None,
            Some(d) => match d.as_bytes() {
                [b] if !matches!(b, b'"' | b'\r' | b'\n')
                    && b.is_ascii()
                    && !b.is_ascii_alphanumeric() =>
                {
                    Some(*b)
                }
                _ => {
                    return Err(err(format!(
                        "delimiter {d:?} must be one punctuation or space character: \",\", \";\", \"\\t\" or \"|\""
                    )));
                }
            },
        };
        Ok(Self {
            source: f.source,
            description: f.description,
            format: f.format,
            encoding: f.encoding.filter(|e| e != "auto"),
            repair_mojibake: f.repair_mojibake,
            default_currency: f.default_currency,
            delimiter,
            fields,
            dates: f.dates,
            text: text.to_string(),
        })
    }

    /// The field map for the readers.
    pub fn field_map(&self) -> FieldMap {
        FieldMap {
            fields: self.fields.clone(),
            repair_mojibake: self.repair_mojibake,
            numeric_id: false,
        }
    }

    /// Date rules of this source.
    pub fn date_rules(&self) -> DateRules {
        let mut rules = DateRules {
            formats: self.dates.formats.clone(),
            excel_serial: self.dates.excel_serial,
            day_first: self.dates.day_first,
            ..Default::default()
        };
        if let Some(off) = self.dates.utc_offset.as_deref().and_then(parse_offset) {
            rules.offset = off;
        }
        rules
    }

    /// Currency of bare amounts.
    pub fn currency(&self) -> Option<&'static str> {
        self.default_currency
            .as_deref()
            .and_then(crate::normalise::text::currency_code)
    }

    /// The format to read `path` with: the mapping's, else the sniffed shape, else CSV.
    pub fn format_for(&self, _path: &Path, sniffed: Option<JsonShape>) -> Format {
        match self.format.as_deref() {
            Some("csv") => Format::Csv,
            Some("ndjson") => Format::Json(JsonShape::Lines),
            Some("json") => Format::Json(sniffed.unwrap_or(JsonShape::Array)),
            _ => sniffed.map_or(Format::Csv, Format::Json),
        }
    }
}
