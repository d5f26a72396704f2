//! Which source field feeds which canonical field: the part every ingester shares.

use crate::schema::RawRecord;

/// A canonical field an input column can feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Canon {
    /// The source's own id.
    SourceId,
    /// Date received.
    Received,
    /// Company / brand as written.
    ProviderRaw,
    /// Post title.
    Title,
    /// Narrative.
    Text,
    /// Product label.
    Product,
    /// Sub-product label.
    SubProduct,
    /// Issue label.
    Issue,
    /// Sub-issue label.
    SubIssue,
    /// Company response.
    CompanyResponse,
    /// Timely response flag.
    Timely,
    /// Case status.
    Status,
    /// Money at stake field.
    Amount,
    /// What the complainant asks for.
    Demand,
    /// Public URL.
    Url,
}

impl Canon {
    /// Every canonical field with the key used for it in mapping files.
    pub const ALL: &'static [(Canon, &'static str)] = &[
        (Canon::SourceId, "id"),
        (Canon::Received, "date"),
        (Canon::ProviderRaw, "provider"),
        (Canon::Title, "title"),
        (Canon::Text, "text"),
        (Canon::Product, "product"),
        (Canon::SubProduct, "sub_product"),
        (Canon::Issue, "issue"),
        (Canon::SubIssue, "sub_issue"),
        (Canon::CompanyResponse, "company_response"),
        (Canon::Timely, "timely"),
        (Canon::Status, "status"),
        (Canon::Amount, "amount"),
        (Canon::Demand, "demand"),
        (Canon::Url, "url"),
    ];

    /// Stores `value` into this field of `r`.
    pub fn set(self, r: &mut RawRecord, value: String) {
        let slot = match self {
            Canon::SourceId => &mut r.source_id,
            Canon::Received => &mut r.received,
            Canon::ProviderRaw => &mut r.provider_raw,
            Canon::Title => &mut r.title,
            Canon::Text => &mut r.text,
            Canon::Product => &mut r.product,
            Canon::SubProduct => &mut r.sub_product,
            Canon::Issue => &mut r.issue,
            Canon::SubIssue => &mut r.sub_issue,
            Canon::CompanyResponse => &mut r.company_response,
            Canon::Timely => &mut r.timely,
            Canon::Status => &mut r.status,
            Canon::Amount => &mut r.amount,
            Canon::Demand => &mut r.demand,
            Canon::Url => &mut r.url,
        };
        *slot = Some(value);
    }
}

/// Source field names for canonical fields, plus the options that apply while mapping.
#[derive(Debug, Clone, Default)]
pub struct FieldMap {
    /// (canonical field, source field name).
    pub fields: Vec<(Canon, String)>,
    /// Repair UTF-8-read-as-Latin-1 mojibake in values.
    pub repair_mojibake: bool,
    /// Source fields that must hold a plain number (CFPB's Complaint ID); a row whose value
    /// is not one is broken (usually by an unclosed quote upstream).
    pub numeric_id: bool,
}

impl FieldMap {
    /// Source name of a canonical field.
    pub fn source_name(&self, c: Canon) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| *k == c)
            .map(|(_, n)| n.as_str())
    }

    /// Applies mapping-time fixes to a value (mojibake repair).
    pub fn clean(&self, v: String) -> String {
        if self.repair_mojibake
            && let Some(fixed) = crate::normalise::text::repair_mojibake(&v)
        {
            return fixed;
        }
        v
    }

    /// Checks a mapped record; `Err` names what is structurally wrong with it.
    pub fn check(&self, r: &RawRecord) -> Result<(), String> {
        if self.numeric_id {
            let name = self.source_name(Canon::SourceId).unwrap_or("id");
            match r.source_id.as_deref().map(str::trim) {
                Some(id) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => {}
                Some(id) => {
                    let shown: String = id.chars().take(40).collect();
                    return Err(format!(
                        "{name} must be a number, got {shown:?} (a broken quote earlier in the row?)"
                    ));
                }
                None => return Err(format!("{name} is missing")),
            }
        }
        Ok(())
    }
}
