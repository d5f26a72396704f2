//! Site profiles (`data/sites/*.toml`): which pages to crawl, how politely, and where each
//! field of a post sits in its HTML. A new site needs a profile, not code. The format is
//! documented in `docs/site-profiles.md`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use regex::Regex;
use scraper::Selector;
use serde::Deserialize;

use crate::ingest::IngestError;
use crate::normalise::dates::parse_offset;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    start_urls: Vec<String>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    #[serde(default = "default_max_pages")]
    max_pages: usize,
    #[serde(default = "default_rate")]
    rate_per_second: f64,
    #[serde(default = "default_concurrency")]
    concurrency: usize,
    #[serde(default = "default_timeout")]
    timeout_seconds: f64,
    #[serde(default = "default_retries")]
    max_retries: u32,
    #[serde(default = "default_retry_base")]
    retry_base_ms: u64,
    #[serde(default = "default_max_retry_after")]
    max_retry_after_seconds: u64,
    #[serde(default)]
    contact: Option<String>,
    #[serde(default)]
    default_currency: Option<String>,
    list: ListFile,
    post: PostFile,
}

fn default_max_pages() -> usize {
    10
}
fn default_rate() -> f64 {
    1.0
}
fn default_concurrency() -> usize {
    2
}
fn default_timeout() -> f64 {
    30.0
}
fn default_retries() -> u32 {
    4
}
fn default_retry_base() -> u64 {
    1000
}
fn default_max_retry_after() -> u64 {
    300
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListFile {
    #[serde(default)]
    item: Option<String>,
    link: String,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PostFile {
    #[serde(default)]
    date_formats: Vec<String>,
    #[serde(default)]
    utc_offset: Option<String>,
    fields: BTreeMap<String, FieldFile>,
}

/// A field is a CSS selector, or a table saying more.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FieldFile {
    Selector(String),
    Table(FieldTable),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldTable {
    #[serde(default)]
    selector: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    attr: Option<String>,
    #[serde(default)]
    regex: Option<String>,
    #[serde(default)]
    required: bool,
}

/// The post fields a profile can name, in the order they are documented.
pub const POST_FIELDS: &[&str] = &[
    "post_id", "title", "body", "date", "provider", "status", "amount", "issue", "demand",
];

/// Where a field's value is read from.
#[derive(Debug, Clone)]
pub enum FieldSource {
    /// The text (or an attribute) of the first element matching the selector.
    Selector(Selector),
    /// The page's URL.
    Url,
}

/// One compiled post field.
#[derive(Debug, Clone)]
pub struct Field {
    /// The field's name (`title`, `date`…).
    pub name: String,
    /// Where its value is read.
    pub source: FieldSource,
    /// The selector as written (for messages).
    pub selector_text: String,
    /// Among the matches, take the one whose text starts with this label (`投诉对象`), and
    /// the text after it (and after a following `：` or `:`).
    pub label: Option<String>,
    /// Read this attribute instead of the text.
    pub attr: Option<String>,
    /// Keep the first capture group (or the whole match) of this regex over the value.
    pub regex: Option<Regex>,
    /// A page without this field is quarantined.
    pub required: bool,
}

/// The list pages' selectors.
#[derive(Debug, Clone)]
pub struct ListSelectors {
    /// Each post's entry (the whole page when absent).
    pub item: Option<Selector>,
    /// The link to the post inside an entry.
    pub link: Selector,
    /// The link to the next list page.
    pub next: Option<Selector>,
}

/// A validated site profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Profile name: names the archive folder.
    pub name: String,
    /// Store partition the posts go to.
    pub source: String,
    /// What the site is.
    pub description: Option<String>,
    /// Where crawling starts (list pages).
    pub start_urls: Vec<url::Url>,
    /// Hosts (`host` or `host:port`) the crawler may request.
    pub allowed_hosts: Vec<String>,
    /// List pages fetched at most, per run.
    pub max_pages: usize,
    /// Requests per second to one host, at most.
    pub rate_per_second: f64,
    /// Requests in flight at once, at most.
    pub concurrency: usize,
    /// Time allowed for one request.
    pub timeout: Duration,
    /// Retries of a request after a network error, 429 or 5xx.
    pub max_retries: u32,
    /// First back-off delay; doubles each retry, with jitter.
    pub retry_base: Duration,
    /// A `Retry-After` longer than this gives the page up (quarantined) instead of waiting.
    pub max_retry_after: Duration,
    /// Contact URL put in the User-Agent.
    pub contact: Option<String>,
    /// Currency of bare amounts (`CNY`, `USD`).
    pub default_currency: Option<String>,
    /// List page selectors.
    pub list: ListSelectors,
    /// chrono formats of the date field.
    pub date_formats: Vec<String>,
    /// Offset of the site's local times.
    pub utc_offset: Option<String>,
    /// Post fields.
    pub fields: Vec<Field>,
    /// The profile's text (kept with the stored posts).
    pub text: String,
}

fn selector(
    s: &str,
    key: &str,
    err: &dyn Fn(String) -> IngestError,
) -> Result<Selector, IngestError> {
    Selector::parse(s).map_err(|e| err(format!("{key}: bad CSS selector {s:?}: {e}")))
}

/// `host` or `host:port` of a URL, as `allowed_hosts` writes it.
pub fn host_key(u: &url::Url) -> Option<String> {
    let host = u.host_str()?.to_ascii_lowercase();
    Some(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    })
}

impl Profile {
    /// Loads a profile file.
    pub fn load(path: &Path) -> Result<Self, IngestError> {
        let text = std::fs::read_to_string(path).map_err(|e| IngestError::open(path, e))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates profile text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, IngestError> {
        let err = |message: String| IngestError::Mapping {
            path: origin.to_string(),
            message,
        };
        let f: ProfileFile =
            toml::from_str(text).map_err(|e| err(e.to_string().trim_end().to_string()))?;
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-".contains(&b))
        };
        if !name_ok(&f.name) {
            return Err(err(format!(
                "name {:?} must be lower-case letters, digits, '_' or '-'",
                f.name
            )));
        }
        let source = f.source.unwrap_or_else(|| f.name.clone());
        if !name_ok(&source) || source == "cfpb" {
            return Err(err(format!(
                "source {source:?} must be lower-case letters, digits, '_' or '-', and not \"cfpb\""
            )));
        }
        let start_urls = f
            .start_urls
            .iter()
            .map(|u| parse_http_url(u).map_err(|m| err(format!("start_urls: {m}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let allowed_hosts: Vec<String> = f
            .allowed_hosts
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        if !(f.rate_per_second > 0.0 && f.rate_per_second <= 100.0) {
            return Err(err(format!(
                "rate_per_second must be above 0 and at most 100, got {}",
                f.rate_per_second
            )));
        }
        if f.concurrency == 0 || f.concurrency > 64 {
            return Err(err(format!(
                "concurrency must be 1 to 64, got {}",
                f.concurrency
            )));
        }
        if f.max_pages == 0 {
            return Err(err("max_pages must be at least 1".into()));
        }
        if !(f.timeout_seconds > 0.0 && f.timeout_seconds <= 600.0) {
            return Err(err(format!(
                "timeout_seconds must be above 0 and at most 600, got {}",
                f.timeout_seconds
            )));
        }
        if let Some(off) = &f.post.utc_offset
            && parse_offset(off).is_none()
        {
            return Err(err(format!(
                "post.utc_offset {off:?} must look like +08:00, -05:00 or UTC"
            )));
        }
        crate::normalise::text::check_default_currency(f.default_currency.as_deref())
            .map_err(err)?;
        if let Some(c) = &f.contact {
            parse_http_url(c).map_err(|m| err(format!("contact: {m}")))?;
        }
        let list = ListSelectors {
            item: f
                .list
                .item
                .as_deref()
                .map(|s| selector(s, "list.item", &err))
                .transpose()?,
            link: selector(&f.list.link, "list.link", &err)?,
            next: f
                .list
                .next
                .as_deref()
                .map(|s| selector(s, "list.next", &err))
                .transpose()?,
        };
        let mut fields = Vec::new();
        for (name, spec) in f.post.fields {
            if !POST_FIELDS.contains(&name.as_str()) {
                return Err(err(format!(
                    "unknown field {name:?} in [post.fields]; known fields: {}",
                    POST_FIELDS.join(", ")
                )));
            }
            let key = format!("post.fields.{name}");
            let t = match spec {
                FieldFile::Selector(s) => FieldTable {
                    selector: Some(s),
                    ..Default::default()
                },
                FieldFile::Table(t) => t,
            };
            let (source, selector_text) = match (t.from.as_deref(), t.selector) {
                (Some("url"), None) => (FieldSource::Url, "the page URL".to_string()),
                (None, Some(s)) => (FieldSource::Selector(selector(&s, &key, &err)?), s),
                (Some(other), None) => {
                    return Err(err(format!(
                        "{key}: from = {other:?}; the only source is \"url\""
                    )));
                }
                _ => {
                    return Err(err(format!(
                        "{key}: give either `selector` or `from = \"url\"`"
                    )));
                }
            };
            let regex = t
                .regex
                .as_deref()
                .map(|r| Regex::new(r).map_err(|e| err(format!("{key}: bad regex {r:?}: {e}"))))
                .transpose()?;
            fields.push(Field {
                name,
                source,
                selector_text,
                label: t.label,
                attr: t.attr,
                regex,
                required: t.required,
            });
        }
        if !fields.iter().any(|f| f.name == "title" || f.name == "body") {
            return Err(err(
                "[post.fields] must name at least `title` or `body`".into()
            ));
        }
        fields.sort_by_key(|f| POST_FIELDS.iter().position(|n| *n == f.name));
        Ok(Self {
            name: f.name,
            source,
            description: f.description,
            start_urls,
            allowed_hosts,
            max_pages: f.max_pages,
            rate_per_second: f.rate_per_second,
            concurrency: f.concurrency,
            timeout: Duration::from_secs_f64(f.timeout_seconds),
            max_retries: f.max_retries.min(10),
            retry_base: Duration::from_millis(f.retry_base_ms),
            max_retry_after: Duration::from_secs(f.max_retry_after_seconds),
            contact: f.contact,
            default_currency: f.default_currency,
            list,
            date_formats: f.post.date_formats,
            utc_offset: f.post.utc_offset,
            fields,
            text: text.to_string(),
        })
    }

    /// Whether the crawler may request `u` (its host is in `allowed_hosts`).
    pub fn allows(&self, u: &url::Url) -> bool {
        let Some(key) = host_key(u) else {
            return false;
        };
        let host = u.host_str().unwrap_or("").to_ascii_lowercase();
        matches!(u.scheme(), "http" | "https")
            && self.allowed_hosts.iter().any(|h| *h == key || *h == host)
    }

    /// The field called `name`, if the profile names it.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// Parses an absolute http(s) URL, or says what is wrong with it.
pub fn parse_http_url(s: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(s.trim()).map_err(|e| format!("{s:?} is not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(format!("{s:?} must be an http or https URL with a host"));
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"
name = "t"
start_urls = ["http://127.0.0.1:8080/list"]
allowed_hosts = ["127.0.0.1:8080"]
[list]
link = "a.post"
[post.fields]
title = "h1"
post_id = { from = "url", regex = '/view/(\d+)' }
"#;

    #[test]
    fn minimal_profile_gets_polite_defaults() {
        let p = Profile::parse(MIN, "t.toml").unwrap();
        assert_eq!(p.source, "t");
        assert_eq!(p.rate_per_second, 1.0);
        assert_eq!(p.concurrency, 2);
        assert_eq!(p.fields[0].name, "post_id");
        assert!(p.allows(&url::Url::parse("http://127.0.0.1:8080/view/1").unwrap()));
        assert!(!p.allows(&url::Url::parse("http://127.0.0.1:9090/view/1").unwrap()));
        assert!(!p.allows(&url::Url::parse("https://tousu.sina.com.cn/").unwrap()));
    }

    #[test]
    fn mistakes_are_named_with_the_file_and_key() {
        let bad_sel = MIN.replace("title = \"h1\"", "title = \"h1[\"");
        let e = Profile::parse(&bad_sel, "site.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("site.toml: post.fields.title: bad CSS selector"),
            "{e}"
        );
        let bad_field = MIN.replace("title = \"h1\"", "titel = \"h1\"");
        let e = Profile::parse(&bad_field, "site.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field \"titel\""), "{e}");
        let bad_rate = format!("rate_per_second = 0.0\n{MIN}");
        let e = Profile::parse(&bad_rate, "site.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("rate_per_second must be above 0"), "{e}");
        // A Hong Kong or Taiwan site names its own dollar; a currency not read is refused.
        let hk = format!("default_currency = \"HKD\"\n{MIN}");
        assert_eq!(
            Profile::parse(&hk, "hk.toml")
                .unwrap()
                .default_currency
                .as_deref(),
            Some("HKD")
        );
        let eur = format!("default_currency = \"EUR\"\n{MIN}");
        let e = Profile::parse(&eur, "site.toml").unwrap_err().to_string();
        assert!(
            e.contains("site.toml") && e.contains("CNY, USD, HKD, TWD"),
            "{e}"
        );
    }
}
