//! The page archive: every page the crawler fetched, compressed, with its URL, status and
//! fetch time, so `ingest forum --replay` can re-parse everything offline.
//!
//! ```text
//! <store>/archive/<profile>/<xxh3 of the URL>.page.zst
//! ```
//!
//! A file is one zstd frame holding a JSON header line ([`PageMeta`]) and then the body's
//! bytes exactly as served (not decoded), so a replay decodes them as the crawl did.
//! Files are written atomically; a page fetched again replaces its file.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::store::{StoreError, write_atomic};

/// What a page was to the crawler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageKind {
    /// A list page (links to posts, the next page).
    List,
    /// A post page (one complaint).
    Post,
}

/// The header of an archived page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageMeta {
    /// The URL requested.
    pub url: String,
    /// List or post.
    pub kind: PageKind,
    /// HTTP status of the final response.
    pub status: u16,
    /// The `Content-Type` header, when sent.
    pub content_type: Option<String>,
    /// When the response arrived (RFC 3339, UTC).
    pub fetched_at: String,
}

/// An archived page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Its header.
    pub meta: PageMeta,
    /// The body as served.
    pub body: Vec<u8>,
}

impl Page {
    /// Whether the final response was a success (2xx).
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.meta.status)
    }
}

/// The archive of one profile.
pub struct Archive {
    dir: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Archive {
    /// The archive of `profile` in the store at `root` (created when missing).
    pub fn open(root: &Path, profile: &str) -> Result<Self, StoreError> {
        let dir = root.join("archive").join(profile);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(Self { dir })
    }

    /// Its folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, url: &str) -> PathBuf {
        self.dir
            .join(format!("{:016x}.page.zst", xxh3_64(url.as_bytes())))
    }

    /// Archives a page (replacing an earlier fetch of the same URL).
    pub fn put(&self, page: &Page) -> Result<(), StoreError> {
        let path = self.path_of(&page.meta.url);
        let mut plain = serde_json::to_vec(&page.meta).expect("page headers always serialise");
        plain.push(b'\n');
        plain.extend_from_slice(&page.body);
        let packed = zstd::bulk::compress(&plain, 9).map_err(io(&path))?;
        write_atomic(&path, &packed)
    }

    /// The archived page of `url`, if any.
    pub fn get(&self, url: &str) -> Result<Option<Page>, StoreError> {
        let path = self.path_of(url);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let page = decode(&path, &bytes)?;
                // Two URLs with one hash: not this one.
                Ok((page.meta.url == url).then_some(page))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Every archived page, in URL order.
    pub fn pages(&self) -> Result<Vec<Page>, StoreError> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let path = entry.map_err(io(&self.dir))?.path();
            if path.to_str().is_some_and(|p| p.ends_with(".page.zst")) {
                let bytes = std::fs::read(&path).map_err(io(&path))?;
                out.push(decode(&path, &bytes)?);
            }
        }
        out.sort_by(|a, b| a.meta.url.cmp(&b.meta.url));
        Ok(out)
    }
}

fn decode(path: &Path, bytes: &[u8]) -> Result<Page, StoreError> {
    let corrupt = |message: String| StoreError::Corrupt {
        path: path.display().to_string(),
        message,
    };
    let mut plain = Vec::new();
    zstd::stream::read::Decoder::new(bytes)
        .and_then(|mut d| d.read_to_end(&mut plain))
        .map_err(|e| corrupt(format!("not a zstd-compressed archived page: {e}")))?;
    let mut cursor = std::io::Cursor::new(&plain[..]);
    let mut header = Vec::new();
    cursor
        .read_until(b'\n', &mut header)
        .map_err(|e| corrupt(e.to_string()))?;
    let meta: PageMeta = serde_json::from_slice(&header)
        .map_err(|e| corrupt(format!("the archived page's header is not valid: {e}")))?;
    let body = plain[header.len()..].to_vec();
    Ok(Page { meta, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_come_back_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let a = Archive::open(dir.path(), "heimao").unwrap();
        let gbk = encoding_rs::GBK
            .encode("投诉编号：17351065900")
            .0
            .into_owned();
        let page = Page {
            meta: PageMeta {
                url: "http://127.0.0.1:1/complaint/view/1".into(),
                kind: PageKind::Post,
                status: 200,
                content_type: Some("text/html; charset=GBK".into()),
                fetched_at: "2026-11-25T00:00:00Z".into(),
            },
            body: gbk,
        };
        a.put(&page).unwrap();
        assert_eq!(a.get(&page.meta.url).unwrap(), Some(page.clone()));
        assert_eq!(a.get("http://127.0.0.1:1/other").unwrap(), None);
        assert_eq!(a.pages().unwrap(), vec![page]);
    }
}
