//! Pages → text → links and posts: charset decoding (HTTP header, then `<meta>`, then
//! detection), list pages (post links, next page) and post pages (a raw record per post,
//! or why the page cannot give one).

use std::sync::LazyLock;

use encoding_rs::Encoding;
use regex::bytes::Regex as BytesRegex;
use scraper::{ElementRef, Html};

use super::profile::{Field, FieldSource, Profile};
use crate::schema::RawRecord;

/// How a page's encoding was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharsetFrom {
    /// A byte-order mark.
    Bom,
    /// The HTTP `Content-Type` charset.
    Header,
    /// `<meta charset>` or `<meta http-equiv="Content-Type">`.
    Meta,
    /// Guessed from the bytes (chardetng).
    Detected,
}

/// The `charset=` of a `Content-Type` value.
fn header_charset(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| Encoding::for_label(v.trim().trim_matches(['"', '\'']).as_bytes()))?
    })
}

/// The charset a `<meta>` in the first 4 KB declares.
fn meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    static META: LazyLock<BytesRegex> = LazyLock::new(|| {
        BytesRegex::new(r#"(?i)<meta[^>]+charset\s*=\s*["']?\s*([a-z0-9_\-:.]+)"#)
            .expect("the meta charset regex is valid")
    });
    let head = &head[..head.len().min(4096)];
    let label = META.captures(head)?.get(1)?.as_bytes();
    // A page declaring UTF-16 in ASCII bytes is not UTF-16 (WHATWG: treat as UTF-8).
    Encoding::for_label(label).map(|e| e.output_encoding())
}

/// Decodes a page: BOM, then the HTTP charset, then `<meta charset>`, then detection.
pub fn decode(body: &[u8], content_type: Option<&str>) -> (String, &'static Encoding, CharsetFrom) {
    let (encoding, from) = if let Some((e, _)) = Encoding::for_bom(body) {
        (e, CharsetFrom::Bom)
    } else if let Some(e) = content_type.and_then(header_charset) {
        (e, CharsetFrom::Header)
    } else if let Some(e) = meta_charset(body) {
        (e, CharsetFrom::Meta)
    } else {
        (
            crate::ingest::input::detect_encoding(body),
            CharsetFrom::Detected,
        )
    };
    let (text, used, _) = encoding.decode(body);
    (text.into_owned(), used, from)
}

/// Links found on a list page.
#[derive(Debug, Default, PartialEq)]
pub struct ListPage {
    /// Post links, absolute, in page order, without fragments.
    pub posts: Vec<url::Url>,
    /// The next list page, when linked.
    pub next: Option<url::Url>,
}

fn resolve(base: &url::Url, href: &str) -> Option<url::Url> {
    let href = href.trim();
    if href.is_empty() || href.starts_with("javascript:") || href.starts_with('#') {
        return None;
    }
    let mut u = base.join(href).ok()?;
    u.set_fragment(None);
    Some(u)
}

/// Parses a list page.
pub fn list_page(profile: &Profile, base: &url::Url, html: &str) -> ListPage {
    let doc = Html::parse_document(html);
    let mut out = ListPage::default();
    let mut push = |el: ElementRef| {
        if let Some(u) = el.attr("href").and_then(|h| resolve(base, h))
            && !out.posts.contains(&u)
        {
            out.posts.push(u);
        }
    };
    match &profile.list.item {
        Some(item) => {
            for it in doc.select(item) {
                if let Some(a) = it.select(&profile.list.link).next() {
                    push(a);
                } else if profile.list.link.matches(&it) {
                    push(it);
                }
            }
        }
        None => doc.select(&profile.list.link).for_each(push),
    }
    out.next = profile.list.next.as_ref().and_then(|s| {
        doc.select(s)
            .find_map(|a| a.attr("href").and_then(|h| resolve(base, h)))
    });
    out
}

/// An element's text: each line trimmed, empty lines dropped; `multiline` keeps the line
/// breaks (a body's paragraphs), else lines are joined with a space.
fn element_text(el: ElementRef, multiline: bool) -> String {
    let raw: String = el.text().collect();
    let lines = raw.lines().map(str::trim).filter(|l| !l.is_empty());
    let sep = if multiline { "\n" } else { " " };
    lines.collect::<Vec<_>>().join(sep)
}

/// The value of a field read from the URL (`from = "url"`), without the page; `None` for
/// fields read from the HTML or URLs the regex does not match.
pub fn url_field(field: &Field, url: &str) -> Option<String> {
    match field.source {
        FieldSource::Url => finish(field, url.to_string()),
        FieldSource::Selector(_) => None,
    }
}

/// A field's value after its regex, trimmed; `None` when empty or unmatched.
fn finish(field: &Field, value: String) -> Option<String> {
    let value = match &field.regex {
        Some(re) => {
            let caps = re.captures(&value)?;
            caps.get(1).or_else(|| caps.get(0))?.as_str().to_string()
        }
        None => value,
    };
    let value = value.trim().to_string();
    (!value.is_empty()).then_some(value)
}

/// The value of one field on a page, or `None` when the page lacks it.
fn field_value(field: &Field, doc: &Html, url: &str) -> Option<String> {
    let value = match &field.source {
        FieldSource::Url => url.to_string(),
        FieldSource::Selector(sel) => {
            let multiline = field.name == "body";
            let read = |el: ElementRef| match &field.attr {
                Some(a) => el.attr(a).map(|v| v.trim().to_string()),
                None => Some(element_text(el, multiline)),
            };
            match &field.label {
                None => doc.select(sel).find_map(read)?,
                Some(label) => doc.select(sel).find_map(|el| {
                    let text = element_text(el, false);
                    let rest = text.trim_start().strip_prefix(label.as_str())?;
                    Some(
                        rest.trim_start_matches(|c: char| {
                            c == '：' || c == ':' || c.is_whitespace()
                        })
                        .to_string(),
                    )
                })?,
            }
        }
    };
    finish(field, value)
}

/// Parses a post page into a raw record (`line` numbers it in the run), or says why the
/// page cannot be stored.
pub fn post_page(profile: &Profile, url: &str, html: &str, line: u64) -> Result<RawRecord, String> {
    let doc = Html::parse_document(html);
    let mut r = RawRecord {
        line,
        url: Some(url.to_string()),
        ..Default::default()
    };
    for f in &profile.fields {
        let Some(v) = field_value(f, &doc, url) else {
            if f.required {
                return Err(match (&f.source, &f.label) {
                    (FieldSource::Url, _) => format!(
                        "required field `{}`: the URL does not match /{}/",
                        f.name,
                        f.regex.as_ref().map_or("", |r| r.as_str())
                    ),
                    (_, Some(label)) => format!(
                        "required field `{}`: no `{}` element labelled {label:?}",
                        f.name, f.selector_text
                    ),
                    _ => format!(
                        "required field `{}`: nothing matches `{}`",
                        f.name, f.selector_text
                    ),
                });
            }
            continue;
        };
        let slot = match f.name.as_str() {
            "post_id" => &mut r.source_id,
            "title" => &mut r.title,
            "body" => &mut r.text,
            "date" => &mut r.received,
            "provider" => &mut r.provider_raw,
            "status" => &mut r.status,
            "amount" => &mut r.amount,
            "issue" => &mut r.issue,
            "demand" => &mut r.demand,
            other => unreachable!("profile fields are checked at load; got {other}"),
        };
        *slot = Some(v);
    }
    if r.title.is_none() && r.text.is_none() {
        return Err("the page has neither a title nor a body (an error page?)".into());
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charset_comes_from_the_header_then_meta_then_detection() {
        let text = "<html><body><h1>支付宝账户被冻结，资金无法提现</h1></body></html>";
        let gbk = encoding_rs::GBK.encode(text).0.into_owned();
        let (t, e, from) = decode(&gbk, Some("text/html; charset=GBK"));
        assert_eq!(
            (t.as_str(), e.name(), from),
            (text, "GBK", CharsetFrom::Header)
        );
        let meta = [b"<meta charset=\"gb2312\">".as_slice(), &gbk].concat();
        let (t, _, from) = decode(&meta, Some("text/html"));
        assert!(t.ends_with(text));
        assert_eq!(from, CharsetFrom::Meta);
        let long = encoding_rs::GBK
            .encode(&format!(
                "<p>{}</p>",
                "本人支付宝账户资金被盗，客服不处理，要求退款。".repeat(8)
            ))
            .0
            .into_owned();
        let (t, _, from) = decode(&long, None);
        assert!(t.contains("客服不处理"), "{t}");
        assert_eq!(from, CharsetFrom::Detected);
        let (t, _, from) = decode("<p>已退款</p>".as_bytes(), Some("text/html; charset=utf-8"));
        assert_eq!((t.as_str(), from), ("<p>已退款</p>", CharsetFrom::Header));
    }
}
