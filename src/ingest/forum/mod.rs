//! `ingest forum`: public complaint posts, crawled politely by a site profile, archived,
//! parsed and stored through the same normalisation as exports.
//!
//! A crawl walks each start URL's list pages (following the next-page link, at most
//! `max_pages` in all) and accounts for every post link it finds:
//! `fetched N = stored A + duplicates D + quarantined Q + skipped S`, where N counts the
//! distinct post URLs found, S those not fetched (robots.txt disallows them, they are
//! off-site, or they are stored already), Q the pages that gave no complaint (fetch failed
//! after its retries, or the page does not parse; each with its URL and reason in
//! `<store>/quarantine/`), and A + D what the store made of the rest. A post page archived
//! by an earlier run but not stored (it failed to parse) is parsed again from the archive,
//! not fetched again. `--replay` re-parses the whole archive without any network.
//!
//! Parsed posts are written as one NDJSON file and ingested like an export (with a mapping
//! made from the profile), so the raw layer keeps them and `normalise` rebuilds them.

pub mod archive;
pub mod fetch;
pub mod parse;
pub mod profile;
pub mod robots;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use polars::prelude::*;

use crate::ingest::export::Mapping;
use crate::ingest::{IngestError, IngestSpec, Reconciliation, RunOptions, SourceKind, ingest};
use crate::normalise::Normaliser;
use crate::normalise::providers::Providers;
use crate::schema::RawRecord;
use crate::store::{Store, StoreError, write_atomic};
use archive::{Archive, Page, PageKind};
use fetch::{Fetched, Fetcher, Refusal};
use profile::Profile;

/// Where every post link of a crawl went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForumReconciliation {
    /// Distinct post URLs found on the list pages (or archived, for a replay).
    pub fetched: u64,
    /// Stored as new complaints.
    pub stored: u64,
    /// Already in the store (same post id or same content).
    pub duplicates: u64,
    /// Gave no complaint: fetch failed, or the page does not parse.
    pub quarantined: u64,
    /// Not fetched: robots.txt, off-site, or stored already.
    pub skipped: u64,
}

impl std::fmt::Display for ForumReconciliation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "fetched {} = stored {} + duplicates {} + quarantined {} + skipped {}",
            self.fetched, self.stored, self.duplicates, self.quarantined, self.skipped
        )
    }
}

/// What a crawl or replay did.
#[derive(Debug, Clone, Default)]
pub struct ForumReport {
    /// The reconciliation line.
    pub counts: ForumReconciliation,
    /// Skipped because robots.txt disallows them.
    pub skipped_robots: u64,
    /// Skipped because their host is not allowed.
    pub skipped_offsite: u64,
    /// Skipped because they are stored already.
    pub skipped_stored: u64,
    /// Post pages parsed from the archive instead of fetched.
    pub from_archive: u64,
    /// List pages fetched.
    pub list_pages: u64,
    /// List pages that gave no links: (URL, why).
    pub list_failures: Vec<(String, String)>,
    /// HTTP requests sent (robots.txt, retries and redirects included).
    pub requests: u64,
    /// Where the quarantined pages are listed, when any.
    pub quarantine: Option<PathBuf>,
}

/// Options of a crawl that override the profile's.
#[derive(Debug, Clone, Default)]
pub struct CrawlOptions {
    /// Start here instead of the profile's `start_urls`.
    pub start_urls: Vec<url::Url>,
    /// Allow these hosts instead of the profile's `allowed_hosts`.
    pub allowed_hosts: Vec<String>,
    /// Contact URL for the User-Agent (else the profile's `contact`).
    pub contact: Option<String>,
    /// List pages at most (else the profile's `max_pages`).
    pub max_pages: Option<usize>,
    /// Show a progress bar.
    pub progress: bool,
}

/// One post page's outcome, in discovery order.
struct PostOutcome {
    order: usize,
    url: String,
    record: Result<RawRecord, String>,
}

/// Parses an archived post page.
fn parse_post(profile: &Profile, page: &Page, order: usize) -> PostOutcome {
    let url = page.meta.url.clone();
    let record = if page.ok() {
        let (html, _, _) = parse::decode(&page.body, page.meta.content_type.as_deref());
        parse::post_page(profile, &url, &html, 0)
    } else {
        Err(format!(
            "HTTP {} (fetched {}, after retries)",
            page.meta.status, page.meta.fetched_at
        ))
    };
    PostOutcome { order, url, record }
}

/// What the store holds already, to skip posts without fetching them.
struct Known {
    /// URLs of the stored complaints of the profile's source.
    urls: HashSet<String>,
    /// Ids of every stored complaint.
    ids: HashSet<u64>,
}

impl Known {
    fn load(store: &Store, source: &str) -> Result<Self, StoreError> {
        Ok(Self {
            urls: stored_urls(store, source)?,
            ids: store.existing_ids()?,
        })
    }

    /// Whether the post at `u` is stored: by its URL, or by the post id the profile reads
    /// from URLs (so `…/view/17351065900?sld=…` is known once `…/view/17351065900` is).
    fn has(&self, profile: &Profile, u: &url::Url) -> bool {
        if self.urls.contains(u.as_str()) {
            return true;
        }
        let Some(field) = profile.field("post_id") else {
            return false;
        };
        parse::url_field(field, u.as_str()).is_some_and(|id| {
            let cid = crate::normalise::complaint_id(&profile.source, &id);
            u64::from_str_radix(&cid, 16).is_ok_and(|n| self.ids.contains(&n))
        })
    }
}

/// URLs of the complaints of `source` already in the store.
fn stored_urls(store: &Store, source: &str) -> Result<HashSet<String>, StoreError> {
    if store.complaint_files()?.is_empty() {
        return Ok(HashSet::new());
    }
    let polars = |source| StoreError::Polars {
        path: store.complaints_dir().display().to_string(),
        source,
    };
    let df = store
        .scan()?
        .filter(col("source").cast(DataType::String).eq(lit(source)))
        .select([col("url")])
        .collect()
        .map_err(polars)?;
    let urls = df
        .column("url")
        .and_then(|c| c.str().cloned())
        .map_err(polars)?;
    Ok(urls.iter().flatten().map(str::to_string).collect())
}

/// Crawls a site with `profile` into the store.
pub fn crawl(
    store: &Store,
    providers: &Providers,
    profile: &Profile,
    opts: &CrawlOptions,
    ingest_opts: &RunOptions,
) -> Result<ForumReport, IngestError> {
    let mut profile = profile.clone();
    if !opts.start_urls.is_empty() {
        profile.start_urls = opts.start_urls.clone();
    }
    if !opts.allowed_hosts.is_empty() {
        profile.allowed_hosts = opts
            .allowed_hosts
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
    }
    if let Some(m) = opts.max_pages {
        profile.max_pages = m.max(1);
    }
    let name = profile.name.clone();
    let usage = |message: String| IngestError::Mapping {
        path: format!("profile {name}"),
        message,
    };
    if profile.start_urls.is_empty() {
        return Err(usage(
            "no start URL: give start_urls in the profile or --start-url".into(),
        ));
    }
    let Some(contact) = opts.contact.clone().or_else(|| profile.contact.clone()) else {
        return Err(usage(
            "no contact URL for the User-Agent: give --contact URL (or `contact` in the profile) so site operators can reach you".into(),
        ));
    };
    profile::parse_http_url(&contact).map_err(|m| usage(format!("--contact: {m}")))?;
    let profile = Arc::new(profile);
    let fetcher = Arc::new(Fetcher::new(profile.clone(), &contact).map_err(usage)?);
    let archive = Arc::new(Archive::open(store.root(), &profile.name)?);
    let known = Known::load(store, &profile.source)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| usage(format!("cannot start the async runtime: {e}")))?;
    let (mut report, outcomes) = runtime.block_on(walk(
        fetcher.clone(),
        archive,
        profile.clone(),
        known,
        opts.progress,
    ))?;
    report.requests = fetcher.requests.load(std::sync::atomic::Ordering::Relaxed);
    store_posts(
        store,
        providers,
        &profile,
        outcomes,
        &mut report,
        "crawl",
        ingest_opts,
    )?;
    Ok(report)
}

/// The state of one walk over a site's list pages.
struct Walk {
    fetcher: Arc<Fetcher>,
    archive: Arc<Archive>,
    profile: Arc<Profile>,
    known: Known,
    report: ForumReport,
    /// Posts parsed from the archive, and those whose fetch task ended.
    outcomes: Vec<PostOutcome>,
    tasks: tokio::task::JoinSet<Result<PostOutcome, StoreError>>,
    seen_posts: HashSet<String>,
    bar: indicatif::ProgressBar,
}

impl Walk {
    fn list_failed(&mut self, url: String, why: String) {
        tracing::warn!(%url, %why, "list page gave no links");
        self.report.list_failures.push((url, why));
    }

    /// Fetches, archives and parses a list page; `None` when it gives no links.
    async fn list(&mut self, u: &url::Url) -> Result<Option<parse::ListPage>, IngestError> {
        let page = match self.fetcher.fetch(u, PageKind::List).await {
            Fetched::Page(p) => p,
            Fetched::Refused(Refusal::Robots, url) => {
                self.list_failed(url, "robots.txt disallows it".into());
                return Ok(None);
            }
            Fetched::Refused(Refusal::OffSite, url) => {
                self.list_failed(url, "its host is not in allowed_hosts".into());
                return Ok(None);
            }
            Fetched::Failed(why) => {
                self.list_failed(u.to_string(), why);
                return Ok(None);
            }
        };
        self.report.list_pages += 1;
        self.archive.put(&page)?;
        if !page.ok() {
            self.list_failed(u.to_string(), format!("HTTP {}", page.meta.status));
            return Ok(None);
        }
        let (html, _, _) = parse::decode(&page.body, page.meta.content_type.as_deref());
        let list = parse::list_page(&self.profile, u, &html);
        tracing::info!(url = %u, posts = list.posts.len(), next = ?list.next.as_ref().map(|n| n.as_str()), "list page");
        if list.posts.is_empty() {
            self.list_failed(u.to_string(), "no post links match `list.link`".into());
        }
        Ok(Some(list))
    }

    /// Accounts for one post link: skipped, parsed again from the archive, or fetched (in
    /// a task, so fetches overlap up to the profile's concurrency).
    async fn post(&mut self, post: url::Url) -> Result<(), IngestError> {
        let key = post.to_string();
        if !self.seen_posts.insert(key.clone()) {
            return Ok(());
        }
        self.report.counts.fetched += 1;
        self.bar.inc_length(1);
        let skipped = match self.fetcher.check(&post).await {
            Err(Refusal::OffSite) => {
                tracing::info!(url = %post, "skipped: its host is not in allowed_hosts");
                Some(&mut self.report.skipped_offsite)
            }
            Err(Refusal::Robots) => {
                tracing::info!(url = %post, "skipped: robots.txt disallows it");
                Some(&mut self.report.skipped_robots)
            }
            Ok(()) if self.known.has(&self.profile, &post) => Some(&mut self.report.skipped_stored),
            Ok(()) => None,
        };
        if let Some(counter) = skipped {
            *counter += 1;
            self.bar.inc(1);
            return Ok(());
        }
        let order = self.seen_posts.len();
        if let Some(page) = self.archive.get(&key)?
            && page.ok()
        {
            self.report.from_archive += 1;
            self.outcomes.push(parse_post(&self.profile, &page, order));
            self.bar.inc(1);
            return Ok(());
        }
        let (fetcher, archive, profile) = (
            self.fetcher.clone(),
            self.archive.clone(),
            self.profile.clone(),
        );
        self.tasks.spawn(async move {
            let record = match fetcher.fetch(&post, PageKind::Post).await {
                Fetched::Page(page) => {
                    archive.put(&page)?;
                    return Ok(parse_post(&profile, &page, order));
                }
                Fetched::Refused(r, url) => Err(format!("not fetched ({r:?}): {url}")),
                Fetched::Failed(why) => Err(why),
            };
            Ok(PostOutcome {
                order,
                url: post.to_string(),
                record,
            })
        });
        Ok(())
    }

    /// Waits for the fetches still running.
    async fn finish(mut self) -> Result<(ForumReport, Vec<PostOutcome>), IngestError> {
        while let Some(done) = self.tasks.join_next().await {
            let outcome = done.map_err(|e| IngestError::Mapping {
                path: format!("profile {}", self.profile.name),
                message: format!("a fetch task failed: {e}"),
            })??;
            self.bar.inc(1);
            self.outcomes.push(outcome);
        }
        self.bar.finish_and_clear();
        let r = &mut self.report;
        r.counts.skipped = r.skipped_robots + r.skipped_offsite + r.skipped_stored;
        Ok((self.report, self.outcomes))
    }
}

/// Walks each start URL's list pages (following the next-page link, `max_pages` in all)
/// and accounts for every post link on them.
async fn walk(
    fetcher: Arc<Fetcher>,
    archive: Arc<Archive>,
    profile: Arc<Profile>,
    known: Known,
    progress: bool,
) -> Result<(ForumReport, Vec<PostOutcome>), IngestError> {
    let mut w = Walk {
        fetcher,
        archive,
        profile: profile.clone(),
        known,
        report: ForumReport::default(),
        outcomes: Vec::new(),
        tasks: tokio::task::JoinSet::new(),
        seen_posts: HashSet::new(),
        bar: crate::progress::counter(0, progress, "crawl", "posts"),
    };
    let mut seen_lists: HashSet<String> = HashSet::new();
    'starts: for start in &profile.start_urls {
        let mut next = Some(start.clone());
        while let Some(u) = next.take() {
            if !seen_lists.insert(u.to_string()) {
                break;
            }
            if w.report.list_pages >= profile.max_pages as u64 {
                tracing::info!(url = %u, max_pages = profile.max_pages, "max_pages reached: not fetched");
                break 'starts;
            }
            let Some(list) = w.list(&u).await? else {
                continue;
            };
            for post in list.posts {
                w.post(post).await?;
            }
            next = list.next;
        }
    }
    w.finish().await
}

/// Re-parses every post page archived for `profile`, offline, into the store.
pub fn replay(
    store: &Store,
    providers: &Providers,
    profile: &Profile,
    ingest_opts: &RunOptions,
) -> Result<ForumReport, IngestError> {
    let archive = Archive::open(store.root(), &profile.name)?;
    let mut report = ForumReport::default();
    let mut outcomes = Vec::new();
    for (order, page) in archive
        .pages()?
        .into_iter()
        .filter(|p| p.meta.kind == PageKind::Post)
        .enumerate()
    {
        report.counts.fetched += 1;
        outcomes.push(parse_post(profile, &page, order));
    }
    report.from_archive = report.counts.fetched;
    if outcomes.is_empty() {
        // An empty archive is a wrong --store or a crawl not yet made, not zero posts.
        return Err(IngestError::Columns {
            path: archive.dir().display().to_string(),
            message: "no archived post page to replay: crawl first (`ingest forum` without --replay), or give the --store the crawl used".into(),
        });
    }
    store_posts(
        store,
        providers,
        profile,
        outcomes,
        &mut report,
        "replay",
        ingest_opts,
    )?;
    Ok(report)
}

/// The mapping that reads the parsed-posts NDJSON (its keys are the profile's field names).
fn posts_mapping(profile: &Profile) -> Result<Mapping, IngestError> {
    let mut t = toml::Table::new();
    t.insert("source".into(), profile.source.clone().into());
    t.insert(
        "description".into(),
        format!("posts crawled with the site profile {:?}", profile.name).into(),
    );
    t.insert("format".into(), "ndjson".into());
    if let Some(c) = &profile.default_currency {
        t.insert("default_currency".into(), c.clone().into());
    }
    let mut fields = toml::Table::new();
    for (canon, key) in [
        ("id", "post_id"),
        ("title", "title"),
        ("text", "body"),
        ("date", "date"),
        ("provider", "provider"),
        ("status", "status"),
        ("amount", "amount"),
        ("issue", "issue"),
        ("demand", "demand"),
        ("url", "url"),
    ] {
        fields.insert(canon.into(), key.into());
    }
    t.insert("fields".into(), fields.into());
    let mut dates = toml::Table::new();
    dates.insert(
        "formats".into(),
        toml::Value::Array(
            profile
                .date_formats
                .iter()
                .map(|f| f.clone().into())
                .collect(),
        ),
    );
    if let Some(off) = &profile.utc_offset {
        dates.insert("utc_offset".into(), off.clone().into());
    }
    t.insert("dates".into(), dates.into());
    let text = toml::to_string(&t).expect("a TOML table always serialises");
    Mapping::parse(
        &text,
        &format!("mapping made from profile {}", profile.name),
    )
}

/// Normalises the parsed posts (quarantining, by URL, those that cannot be stored), then
/// ingests the rest as one NDJSON file.
fn store_posts(
    store: &Store,
    providers: &Providers,
    profile: &Profile,
    mut outcomes: Vec<PostOutcome>,
    report: &mut ForumReport,
    what: &str,
    ingest_opts: &RunOptions,
) -> Result<(), IngestError> {
    outcomes.sort_by_key(|o| o.order);
    let mapping = posts_mapping(profile)?;
    let key = store.pii_key()?;
    let check = Normaliser {
        source: &profile.source,
        providers,
        dates: mapping.date_rules(),
        default_currency: mapping.currency(),
        pii_key: &key,
    };
    let mut lines = Vec::new();
    let mut quarantine = Vec::new();
    for o in outcomes {
        let record = o.record.and_then(|r| {
            check
                .complaint(r.clone())
                .map(|_| r)
                .map_err(|rej| format!("{} ({:?})", rej.reason, rej.raw))
        });
        match record {
            Ok(r) => {
                let row = serde_json::json!({
                    "post_id": r.source_id, "title": r.title, "body": r.text,
                    "date": r.received, "provider": r.provider_raw, "status": r.status,
                    "amount": r.amount, "issue": r.issue, "demand": r.demand, "url": r.url,
                });
                serde_json::to_writer(&mut lines, &row).expect("json values always serialise");
                lines.push(b'\n');
            }
            Err(reason) => {
                tracing::warn!(url = %o.url, %reason, "quarantined");
                quarantine.push(serde_json::json!({"url": o.url, "reason": reason}));
            }
        }
    }
    report.counts.quarantined += quarantine.len() as u64;
    let qpath = store
        .root()
        .join("quarantine")
        .join(format!("{}-forum-{}.ndjson", profile.source, profile.name));
    if quarantine.is_empty() {
        let _ = std::fs::remove_file(&qpath);
    } else {
        let mut buf = Vec::new();
        for q in &quarantine {
            serde_json::to_writer(&mut buf, q).expect("json values always serialise");
            buf.push(b'\n');
        }
        write_atomic(&qpath, &buf)?;
        report.quarantine = Some(qpath);
    }
    if lines.is_empty() {
        return Ok(());
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let file = Archive::open(store.root(), &profile.name)?
        .dir()
        .join(format!("posts-{stamp}.ndjson"));
    write_atomic(&file, &lines)?;
    let spec = IngestSpec {
        path: file.clone(),
        kind: SourceKind::Export(mapping),
        encoding: Some(encoding_rs::UTF_8),
        origin: Some(format!("forum {} {what} {stamp}", profile.name)),
        fingerprint: None,
        products: Default::default(),
    };
    let counts: Result<Reconciliation, IngestError> = ingest(store, providers, &spec, ingest_opts);
    let _ = std::fs::remove_file(&file);
    let counts = counts?;
    report.counts.stored += counts.stored;
    report.counts.duplicates += counts.duplicates;
    report.counts.quarantined += counts.quarantined;
    Ok(())
}
