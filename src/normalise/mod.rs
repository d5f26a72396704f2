//! Normalisation: raw records → canonical complaints (provider ids, UTC dates, language,
//! money, personal data masked), and canonical complaints → polars frames for the store.

pub mod dates;
pub mod providers;
pub mod text;

use std::borrow::Cow;

use polars::prelude::*;
use rayon::prelude::*;
use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use crate::ingest::{
    IngestError, IngestSpec, Reconciliation, RunOptions, SourceKind, export::Mapping, ingest,
};
use crate::schema::{Complaint, RawRecord, Reject};
use crate::store::{PartCompression, Store};
use dates::DateRules;
use providers::Providers;

/// Turns raw records of one source into canonical complaints.
pub struct Normaliser<'a> {
    /// Source name (`cfpb`, `heimao`): part of every complaint id.
    pub source: &'a str,
    /// The alias table.
    pub providers: &'a Providers,
    /// How the source writes dates.
    pub dates: DateRules,
    /// Currency of amounts given without one.
    pub default_currency: Option<&'static str>,
    /// Key of the keyed hashes kept for masked personal data.
    pub pii_key: &'a [u8; 32],
}

fn non_empty(v: Option<String>) -> Option<String> {
    let mut s = v?;
    // Most values start and end with a visible ASCII character: nothing to trim.
    if let (Some(&a), Some(&z)) = (s.as_bytes().first(), s.as_bytes().last())
        && a.is_ascii_graphic()
        && z.is_ascii_graphic()
    {
        return Some(s);
    }
    let t = s.trim();
    if t.len() != s.len() {
        let (start, len) = (t.as_ptr() as usize - s.as_ptr() as usize, t.len());
        s.truncate(start + len);
        s.drain(..start);
    }
    (!s.is_empty()).then_some(s)
}

/// Trimmed text with Windows and old-Mac line ends made `\n`, so the same complaint exported
/// by different tools gets the same content (and the same derived id).
fn clean_text(v: Option<String>) -> Option<String> {
    non_empty(v).map(|s| {
        if memchr::memchr(b'\r', s.as_bytes()).is_some() {
            s.replace("\r\n", "\n").replace('\r', "\n")
        } else {
            s
        }
    })
}

/// 16 hex digits of a 64-bit hash.
pub fn hex64(h: u64) -> String {
    format!("{h:016x}")
}

/// The stable complaint id of (source, source_id).
pub fn complaint_id(source: &str, source_id: &str) -> String {
    let mut key = Vec::with_capacity(source.len() + source_id.len() + 1);
    key.extend_from_slice(source.as_bytes());
    key.push(0x1f);
    key.extend_from_slice(source_id.as_bytes());
    hex64(xxh3_64(&key))
}

/// The xxh3 hash state of `parts`, each followed by the separator 0x1f: the same hash as
/// of those bytes concatenated, without copying the text into a key first (perf: the copy
/// was a tenth of ingest's memmove).
fn content_key(parts: &[Option<&str>]) -> Xxh3 {
    let mut key = Xxh3::new();
    for p in parts {
        key.update(p.unwrap_or("").as_bytes());
        key.update(&[0x1f]);
    }
    key
}

impl Normaliser<'_> {
    /// Normalises one record, or says why it cannot be stored.
    pub fn complaint(&self, r: RawRecord) -> Result<Complaint, Reject> {
        let line = r.line;
        let received_at = match r.received.as_deref() {
            Some(v) => self
                .dates
                .parse(v)
                .map_err(|e| Reject::new(line, format!("{e} in the date field"), v))?,
            None => None,
        };
        let timely = match r.timely.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(v) if v.eq_ignore_ascii_case("yes") || v.eq_ignore_ascii_case("true") => {
                Some(true)
            }
            Some(v) if v.eq_ignore_ascii_case("no") || v.eq_ignore_ascii_case("false") => {
                Some(false)
            }
            Some(v) => {
                return Err(Reject::new(
                    line,
                    format!("timely response must be Yes or No, got {v:?}"),
                    v,
                ));
            }
        };
        let raw_text = clean_text(r.text);
        let raw_title = clean_text(r.title);
        let provider_raw = non_empty(r.provider_raw);
        let provider = self
            .providers
            .resolve(provider_raw.as_deref(), raw_text.as_deref());
        let money = match r.amount.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(field) => text::parse_amount_field(field, self.default_currency),
            None => raw_text
                .as_deref()
                .and_then(|t| text::extract_money_in(t, self.default_currency)),
        };
        let lang = raw_text
            .as_deref()
            .or(raw_title.as_deref())
            .map(text::detect_lang);
        let mut pii = Vec::new();
        let mask = |s: Option<String>, pii: &mut Vec<text::PiiHit>| {
            s.map(|s| {
                let (masked, hits) = text::mask_pii(&s);
                pii.extend(hits);
                match masked {
                    Cow::Borrowed(_) => s,
                    Cow::Owned(m) => m,
                }
            })
        };
        let text = mask(raw_text, &mut pii);
        let title = mask(raw_title, &mut pii);
        let mut pii_hashes: Vec<String> = pii
            .iter()
            .map(|h| pii_hash(self.pii_key, h.kind.name(), &h.value))
            .collect();
        pii_hashes.sort();
        pii_hashes.dedup();
        let day = received_at.map(|d| d.to_string());
        let content_hash = text.as_deref().filter(|t| !t.is_empty()).map(|_| {
            let key = content_key(&[
                Some(self.source),
                provider.as_deref(),
                day.as_deref(),
                title.as_deref(),
                text.as_deref(),
            ]);
            hex64(key.digest())
        });
        let source_id = match non_empty(r.source_id) {
            Some(id) => id,
            None => {
                let key = content_key(&[
                    provider_raw.as_deref(),
                    r.received.as_deref(),
                    title.as_deref(),
                    text.as_deref(),
                ]);
                if title.is_none() && text.is_none() {
                    return Err(Reject::new(
                        line,
                        "record has no id, no title and no text: nothing to store",
                        "",
                    ));
                }
                format!("{:032x}", key.digest128())[..20].to_string()
            }
        };
        Ok(Complaint {
            complaint_id: complaint_id(self.source, &source_id),
            source_id,
            provider,
            provider_raw,
            received_at,
            title,
            text,
            lang,
            amount: money.map(|m| m.amount),
            currency: money.map(|m| m.currency),
            issue: non_empty(r.issue),
            sub_issue: non_empty(r.sub_issue),
            product: non_empty(r.product),
            sub_product: non_empty(r.sub_product),
            company_response: non_empty(r.company_response),
            timely,
            status: non_empty(r.status),
            demand: non_empty(r.demand),
            url: non_empty(r.url),
            pii_hashes,
            content_hash,
            line,
        })
    }

    /// Normalises a batch in parallel, keeping input order.
    pub fn batch(&self, rows: Vec<RawRecord>) -> Vec<Result<Complaint, Reject>> {
        rows.into_par_iter()
            .with_min_len(256)
            .map(|r| self.complaint(r))
            .collect()
    }
}

fn str_col(name: &str, rows: &[Complaint], f: impl Fn(&Complaint) -> Option<&str>) -> Column {
    let v: Vec<Option<&str>> = rows.iter().map(f).collect();
    Column::new(name.into(), v)
}

/// Builds the store frame of a batch of complaints (the columns of [`crate::schema::COLUMNS`]).
/// `raw_file` is the fingerprint of the raw file every row came from (a batch is always
/// one file's): one value for the column, not one String per complaint.
pub fn to_frame(rows: &[Complaint], raw_file: &str) -> PolarsResult<DataFrame> {
    let days: Vec<Option<i32>> = rows
        .iter()
        .map(|r| r.received_at.map(crate::schema::to_polars_day))
        .collect();
    let mut pii = ListStringChunkedBuilder::new("pii_hashes".into(), rows.len(), rows.len());
    for r in rows {
        pii.append_values_iter(r.pii_hashes.iter().map(String::as_str));
    }
    let columns = vec![
        str_col("complaint_id", rows, |r| Some(&r.complaint_id)),
        str_col("source_id", rows, |r| Some(&r.source_id)),
        str_col("provider", rows, |r| r.provider.as_deref()),
        str_col("provider_raw", rows, |r| r.provider_raw.as_deref()),
        Column::new("received_at".into(), days).cast(&DataType::Date)?,
        str_col("title", rows, |r| r.title.as_deref()),
        str_col("text", rows, |r| r.text.as_deref()),
        str_col("lang", rows, |r| r.lang),
        Column::new(
            "amount".into(),
            rows.iter().map(|r| r.amount).collect::<Vec<_>>(),
        ),
        str_col("currency", rows, |r| r.currency),
        str_col("issue", rows, |r| r.issue.as_deref()),
        str_col("sub_issue", rows, |r| r.sub_issue.as_deref()),
        str_col("product", rows, |r| r.product.as_deref()),
        str_col("sub_product", rows, |r| r.sub_product.as_deref()),
        str_col("company_response", rows, |r| r.company_response.as_deref()),
        Column::new(
            "timely".into(),
            rows.iter().map(|r| r.timely).collect::<Vec<_>>(),
        ),
        str_col("status", rows, |r| r.status.as_deref()),
        str_col("demand", rows, |r| r.demand.as_deref()),
        str_col("url", rows, |r| r.url.as_deref()),
        pii.finish().into_series().into_column(),
        str_col("content_hash", rows, |r| r.content_hash.as_deref()),
        Column::new("raw_file".into(), vec![raw_file; rows.len()]),
        Column::new(
            "line".into(),
            rows.iter().map(|r| r.line).collect::<Vec<_>>(),
        ),
    ];
    DataFrame::new(rows.len(), columns)
}

/// Rebuilds the complaint table from the raw layer: every kept file is normalised again
/// (with the current alias table and rules) into a staging table, which replaces the
/// current one only when all files are done. The new parts are compressed as
/// `compression` says.
pub fn rebuild(
    store: &Store,
    providers: &Providers,
    progress: bool,
    compression: PartCompression,
) -> Result<Vec<(String, Reconciliation)>, IngestError> {
    let staging = store.staging("complaints.rebuild")?;
    let mut out = Vec::new();
    for m in store.manifests()? {
        let kind = match (m.kind.as_str(), &m.mapping) {
            ("cfpb", _) => SourceKind::Cfpb,
            ("export", Some(text)) => SourceKind::Export(Mapping::parse(
                text,
                &format!("mapping kept for {}", m.origin),
            )?),
            _ => {
                return Err(IngestError::Mapping {
                    path: store.manifest_path(&m.fingerprint).display().to_string(),
                    message: format!("unknown kind {:?} or missing mapping", m.kind),
                });
            }
        };
        let spec = IngestSpec {
            path: store.raw_dir().join(&m.raw_copy),
            kind,
            encoding: crate::ingest::input::encoding_by_label(&m.encoding),
            origin: Some(m.origin.clone()),
            fingerprint: Some(m.fingerprint.clone()),
            products: crate::ingest::ProductScope::recorded(store, &m)?,
        };
        let counts = ingest(
            &staging,
            providers,
            &spec,
            &RunOptions {
                progress,
                compression,
                ..Default::default()
            },
        )?;
        out.push((m.origin, counts));
    }
    store.promote(&staging)?;
    Ok(out)
}

/// The keyed hash kept for a personal value (`phone:3f9a…`): `kind` is the
/// [`text::PiiKind::name`], `value` the normalised value (E.164 phone, lower-case e-mail).
pub fn pii_hash(key: &[u8; 32], kind: &str, value: &str) -> String {
    let digest = blake3::keyed_hash(key, format!("{kind}:{value}").as_bytes());
    format!("{kind}:{}", &digest.to_hex()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use xxhash_rust::xxh3::xxh3_128;

    #[test]
    fn the_streamed_content_hash_is_the_hash_of_the_joined_parts() {
        // Lengths around xxh3's internal sizes (16, 128, 240 bytes, its 256-byte stripes
        // and 1,024-byte blocks) and texts of real length, Chinese included.
        let text: String = "我的账户被冻结 my account was frozen $1,200 "
            .chars()
            .cycle()
            .take(3000)
            .collect();
        for len in (0..300).chain([511, 512, 1023, 1024, 1025, 2047, 2048, 4000]) {
            let body = &text[..text.floor_char_boundary(len)];
            let parts = [Some("cfpb"), None, Some("2024-08-02"), Some(body)];
            let mut joined = Vec::new();
            for p in parts {
                joined.extend_from_slice(p.unwrap_or("").as_bytes());
                joined.push(0x1f);
            }
            let key = content_key(&parts);
            assert_eq!(key.digest(), xxh3_64(&joined), "{len}");
            assert_eq!(key.digest128(), xxh3_128(&joined), "{len}");
        }
    }

    #[test]
    fn values_are_trimmed_of_any_white_space() {
        let ne = |s: &str| non_empty(Some(s.to_string()));
        assert_eq!(ne("Cash App").as_deref(), Some("Cash App"));
        assert_eq!(ne("  Cash App\t").as_deref(), Some("Cash App"));
        assert_eq!(ne("\u{3000}支付宝\u{3000}").as_deref(), Some("支付宝"));
        assert_eq!(ne("x\u{a0}").as_deref(), Some("x"));
        assert_eq!(ne("支付宝").as_deref(), Some("支付宝"));
        assert_eq!(ne(" \n "), None);
        assert_eq!(ne(""), None);
        assert_eq!(
            clean_text(Some(" a\r\nb\rc ".to_string())).as_deref(),
            Some("a\nb\nc")
        );
    }
}
