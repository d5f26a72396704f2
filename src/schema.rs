//! The canonical complaint record (DESIGN.md) and the raw record ingesters hand to normalisation.

use chrono::NaiveDate;

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a date");

/// A day as polars stores a `Date`: days since 1970-01-01.
pub fn to_polars_day(d: NaiveDate) -> i32 {
    (d - EPOCH).num_days() as i32
}

/// The day a polars `Date` value (days since 1970-01-01) stands for.
pub fn from_polars_day(days: i32) -> NaiveDate {
    EPOCH + chrono::Duration::days(i64::from(days))
}

/// One input row after an ingester mapped its fields, before normalisation. Values are
/// exactly as written in the source (only decoded to UTF-8 and, where asked, repaired).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawRecord {
    /// 1-based line (CSV, NDJSON) or element number (JSON array) where the record starts.
    pub line: u64,
    /// The source's own id (CFPB `Complaint ID`, 投诉编号); derived from content when absent.
    pub source_id: Option<String>,
    /// Date the complaint was made, as written.
    pub received: Option<String>,
    /// Company or brand the complaint is against, as written.
    pub provider_raw: Option<String>,
    /// Title of a post.
    pub title: Option<String>,
    /// The complaint narrative.
    pub text: Option<String>,
    /// Source's product label.
    pub product: Option<String>,
    /// Source's sub-product label.
    pub sub_product: Option<String>,
    /// Source's issue label (CFPB `Issue`, 投诉问题).
    pub issue: Option<String>,
    /// Source's sub-issue label.
    pub sub_issue: Option<String>,
    /// How the company answered (CFPB `Company response to consumer`).
    pub company_response: Option<String>,
    /// CFPB `Timely response?` (`Yes`/`No`).
    pub timely: Option<String>,
    /// Case status (CFPB has none; forums' 投诉进度).
    pub status: Option<String>,
    /// Money at stake from a dedicated field (涉诉金额).
    pub amount: Option<String>,
    /// What the complainant asks for (投诉要求).
    pub demand: Option<String>,
    /// Public URL of the complaint.
    pub url: Option<String>,
}

/// An input row that cannot be stored, with why; written to `<store>/quarantine/`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    /// 1-based line or element number.
    pub line: u64,
    /// One-line reason a person can act on.
    pub reason: String,
    /// The row as read (truncated to a few KB).
    pub raw: String,
}

impl Reject {
    /// A reject whose raw text is cut to at most 4 KB.
    pub fn new(line: u64, reason: impl Into<String>, raw: &str) -> Self {
        Self {
            line,
            reason: reason.into(),
            raw: raw[..raw.floor_char_boundary(4096)].to_string(),
        }
    }
}

/// A complaint in canonical form, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Complaint {
    /// Hash of (source, source_id), 16 hex digits.
    pub complaint_id: String,
    /// The source's own id.
    pub source_id: String,
    /// Canonical provider id.
    pub provider: Option<String>,
    /// Provider as written.
    pub provider_raw: Option<String>,
    /// UTC day the complaint was made.
    pub received_at: Option<NaiveDate>,
    /// Title, personal data masked.
    pub title: Option<String>,
    /// Narrative, personal data masked.
    pub text: Option<String>,
    /// `zh`, `en` or `other`; `None` without text.
    pub lang: Option<&'static str>,
    /// Money at stake.
    pub amount: Option<f64>,
    /// ISO currency of `amount`.
    pub currency: Option<&'static str>,
    /// Source labels, as given.
    pub issue: Option<String>,
    /// Source labels, as given.
    pub sub_issue: Option<String>,
    /// Source labels, as given.
    pub product: Option<String>,
    /// Source labels, as given.
    pub sub_product: Option<String>,
    /// How the company answered.
    pub company_response: Option<String>,
    /// Answered on time.
    pub timely: Option<bool>,
    /// Case status.
    pub status: Option<String>,
    /// What the complainant asks for.
    pub demand: Option<String>,
    /// Public URL.
    pub url: Option<String>,
    /// Keyed hashes of the personal data masked out (`phone:3f9a…`).
    pub pii_hashes: Vec<String>,
    /// Hash of the content, for exact-duplicate removal.
    pub content_hash: Option<String>,
    /// Line of the record in the raw file it came from.
    pub line: u64,
}

/// Columns of the stored complaint table, in order (`source` and `year` are Hive partition
/// keys in the directory names, not columns in the files).
pub const COLUMNS: &[&str] = &[
    "complaint_id",
    "source_id",
    "provider",
    "provider_raw",
    "received_at",
    "title",
    "text",
    "lang",
    "amount",
    "currency",
    "issue",
    "sub_issue",
    "product",
    "sub_product",
    "company_response",
    "timely",
    "status",
    "demand",
    "url",
    "pii_hashes",
    "content_hash",
    "raw_file",
    "line",
];

/// Store columns that are bookkeeping, not complaint data: kept out of exports.
pub const STORE_ONLY: &[&str] = &["content_hash", "raw_file", "line"];
