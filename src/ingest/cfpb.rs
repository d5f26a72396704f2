//! The CFPB Consumer Complaint Database in every published form: the historical
//! 18-column CSV (with `Consumer consent provided?` and `Consumer disputed?`), the current
//! 16-column CSV, the newest CSV with `Event tag`, and the JSON API form
//! (`complaint_what_happened`, `date_received`…), one object a line or as an array,
//! plain or gzipped. Columns are found by name, so their order does not matter.

use super::IngestError;
use super::fields::{Canon, FieldMap};

/// CSV column → canonical field.
const CSV_COLUMNS: &[(Canon, &str)] = &[
    (Canon::SourceId, "Complaint ID"),
    (Canon::Received, "Date received"),
    (Canon::ProviderRaw, "Company"),
    (Canon::Text, "Consumer complaint narrative"),
    (Canon::Product, "Product"),
    (Canon::SubProduct, "Sub-product"),
    (Canon::Issue, "Issue"),
    (Canon::SubIssue, "Sub-issue"),
    (Canon::CompanyResponse, "Company response to consumer"),
    (Canon::Timely, "Timely response?"),
];

/// Columns without which a file is not a CFPB export.
const REQUIRED: &[&str] = &[
    "Complaint ID",
    "Date received",
    "Company",
    "Product",
    "Issue",
];

/// JSON API key → canonical field.
const JSON_KEYS: &[(Canon, &str)] = &[
    (Canon::SourceId, "complaint_id"),
    (Canon::Received, "date_received"),
    (Canon::ProviderRaw, "company"),
    (Canon::Text, "complaint_what_happened"),
    (Canon::Product, "product"),
    (Canon::SubProduct, "sub_product"),
    (Canon::Issue, "issue"),
    (Canon::SubIssue, "sub_issue"),
    (Canon::CompanyResponse, "company_response"),
    (Canon::Timely, "timely"),
];

/// Which published CSV form a header is.
pub fn csv_form(header: &[String]) -> &'static str {
    let has = |c: &str| header.iter().any(|h| h == c);
    if has("Event tag") {
        "newest CSV (with Event tag)"
    } else if has("Consumer disputed?") {
        "historical 18-column CSV"
    } else {
        "current 16-column CSV"
    }
}

/// The field map of a CFPB CSV header, or an error naming the missing columns.
pub fn csv_map(header: &[String], origin: &str) -> Result<FieldMap, IngestError> {
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|c| !header.iter().any(|h| h == c))
        .collect();
    if !missing.is_empty() {
        return Err(IngestError::Columns {
            path: origin.to_string(),
            message: format!(
                "not a CFPB complaint export: missing column(s) {} (found: {}); for other exports use `ingest export --mapping`",
                missing.join(", "),
                header.join(", ")
            ),
        });
    }
    tracing::info!(
        file = origin,
        form = csv_form(header),
        "CFPB form recognised"
    );
    let fields = CSV_COLUMNS
        .iter()
        .filter(|(_, name)| header.iter().any(|h| h == name))
        .map(|(c, n)| (*c, (*n).to_string()))
        .collect();
    Ok(FieldMap {
        fields,
        repair_mojibake: false,
        numeric_id: true,
    })
}

/// The field map of the JSON API form.
pub fn json_map() -> FieldMap {
    FieldMap {
        fields: JSON_KEYS
            .iter()
            .map(|(c, n)| (*c, (*n).to_string()))
            .collect(),
        repair_mojibake: false,
        numeric_id: true,
    }
}

/// Checks that a JSON input is CFPB's API form before reading it all.
pub fn check_json_head(head: &[u8], origin: &str) -> Result<(), IngestError> {
    let text = String::from_utf8_lossy(head);
    if text.contains("\"complaint_id\"") && text.contains("\"date_received\"") {
        Ok(())
    } else {
        Err(IngestError::Columns {
            path: origin.to_string(),
            message: "not CFPB's JSON API form: the first records have no \"complaint_id\" and \"date_received\" keys".into(),
        })
    }
}
