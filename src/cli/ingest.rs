//! `walletwatch ingest cfpb|export|forum`: files and forum posts into the store, every row
//! accounted for.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args as ClapArgs, Subcommand};

use super::{Context, PartsArgs};
use crate::classify::Classifier;
use crate::ingest::forum::{self, CrawlOptions, profile, profile::Profile};
use crate::ingest::{
    self, IngestSpec, Reconciliation, RunOptions, SourceKind, export::Mapping, input,
};
use crate::store::Store;

/// Options every ingester shares.
#[derive(Debug, ClapArgs)]
pub struct Common {
    /// Text encoding of the input (utf-8, gbk, gb18030, big5…); detected when not given.
    #[arg(long, value_name = "NAME")]
    pub encoding: Option<String>,
    /// Records per batch: memory use is a few batches.
    #[arg(long, default_value_t = 30_000, hide = true)]
    pub batch_rows: usize,
    /// Classify with the rules while ingesting: each part is classified as it is written,
    /// so a later `classify` (rules) has nothing left to do.
    #[arg(long)]
    pub classify: bool,
    /// Keep only rows whose product or sub-product contains TEXT, ignoring case
    /// (repeatable: any of them). Other rows are counted as out of scope, not stored, and
    /// listed by product (a note, and the file's manifest in the raw layer).
    #[arg(long = "product", value_name = "TEXT", value_parser = product_pattern)]
    pub products: Vec<String>,
    #[command(flatten)]
    pub parts: PartsArgs,
}

/// A `--product` pattern: bad usage when blank (it would keep every row).
fn product_pattern(s: &str) -> Result<String, String> {
    ingest::ProductScope::new(&[s.to_string()]).map(|_| s.to_string())
}

/// Ingest sources.
#[derive(Debug, Subcommand)]
pub enum IngestCommand {
    /// The CFPB Consumer Complaint Database: any CSV form (16, 18 columns, with Event tag)
    /// or the JSON API form, plain, gzipped, zstd-compressed or zipped (complaints.csv.zip).
    #[command(
        after_help = "Example:\n  walletwatch --store data/store ingest cfpb complaints.csv complaints_api.jsonl.gz\n  walletwatch ingest cfpb complaints.csv.zip\n  walletwatch ingest cfpb complaints.csv.zip --product \"money transfer\" --product prepaid\n\nPrints one line a file: read N = stored A + duplicates D + quarantined Q (+ out of scope S\nwith --product). Quarantined rows are in <store>/quarantine/ with their line number and reason."
    )]
    Cfpb {
        /// Files to ingest.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Any CSV, JSON-array or NDJSON export, described by a mapping file.
    #[command(
        after_help = "Example:\n  walletwatch ingest export complaints.ndjson --mapping data/mappings/heimao_ndjson.toml\n\nThe mapping format is described in docs/mapping-files.md."
    )]
    Export {
        /// Files to ingest.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Mapping file (TOML) naming which field is the text, title, date, provider…
        #[arg(long, short, value_name = "MAP.toml")]
        mapping: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Public complaint posts, crawled politely with a site profile (data/sites/*.toml):
    /// robots.txt obeyed, one request a second per host by default, every page archived.
    #[command(
        after_help = "Examples:\n  walletwatch ingest forum --profile data/sites/heimao.toml --contact https://example.org/about-our-research\n  walletwatch ingest forum --profile data/sites/heimao.toml --start-url http://mirror.example/list --allowed-host mirror.example --contact https://example.org/me\n  walletwatch ingest forum --profile data/sites/heimao.toml --replay\n\nPrints fetched N = stored A + duplicates D + quarantined Q + skipped S, where N counts the\npost links found, S those not fetched (robots.txt, off-site, already stored) and Q the pages\nthat gave no complaint (listed with URL and reason in <store>/quarantine/). Pages are archived\nin <store>/archive/<profile>/; --replay re-parses them offline. The format of profiles is\ndescribed in docs/site-profiles.md."
    )]
    Forum {
        /// The site profile (TOML): start pages, allowed hosts, selectors, politeness.
        #[arg(long, value_name = "PROFILE.toml")]
        profile: PathBuf,
        /// Start here instead of the profile's start_urls (repeatable).
        #[arg(long = "start-url", value_name = "URL")]
        start_urls: Vec<String>,
        /// Allow this host (`host` or `host:port`) instead of the profile's allowed_hosts
        /// (repeatable).
        #[arg(long = "allowed-host", value_name = "HOST")]
        allowed_hosts: Vec<String>,
        /// Contact URL put in the User-Agent, so site operators can reach you (else the
        /// profile's `contact`).
        #[arg(long, value_name = "URL")]
        contact: Option<String>,
        /// List pages to fetch at most (else the profile's max_pages).
        #[arg(long, value_name = "N")]
        max_pages: Option<usize>,
        /// Re-parse the pages archived by earlier crawls, without any network.
        #[arg(long, conflicts_with_all = ["start_urls", "allowed_hosts", "contact", "max_pages"])]
        replay: bool,
        /// Classify the stored posts with the rules as they are written.
        #[arg(long)]
        classify: bool,
        #[command(flatten)]
        parts: PartsArgs,
    },
}

/// Says which products a `--product` scope left out (the most frequent few; the file's
/// manifest in the raw layer lists them all), and says so plainly when it kept no row at
/// all, which is what a misspelt `--product` does.
pub(super) fn note_left_out(ctx: &Context, counts: &Reconciliation, scope: &ingest::ProductScope) {
    if counts.out_of_scope == 0 {
        return;
    }
    const SHOWN: usize = 5;
    let all = counts.left_out.most_first();
    let mut line = String::from("  out of scope, by product: ");
    for (i, (name, n)) in all.iter().take(SHOWN).enumerate() {
        if i > 0 {
            line.push_str("; ");
        }
        line.push_str(&format!("{name} ({n})"));
    }
    if all.len() > SHOWN {
        line.push_str(&format!(
            "; and {} more (the file's manifest in {} lists every one)",
            all.len() - SHOWN,
            ctx.store.join("raw").display()
        ));
    }
    ctx.note(line);
    if counts.out_of_scope + counts.quarantined == counts.read {
        let wanted: Vec<String> = scope.patterns().iter().map(|p| format!("{p:?}")).collect();
        ctx.note(format!(
            "  no row was kept: no product or sub-product of this file contains {}",
            wanted.join(" or ")
        ));
    }
}

/// The rules classifier, when asked to classify while ingesting.
fn rules_if(classify: bool) -> anyhow::Result<Option<std::sync::Arc<dyn Classifier>>> {
    classify.then(super::rules_classifier).transpose()
}

/// Runs `ingest forum`.
fn run_forum(ctx: &Context, cmd: IngestCommand) -> anyhow::Result<()> {
    let IngestCommand::Forum {
        profile,
        start_urls,
        allowed_hosts,
        contact,
        max_pages,
        replay,
        classify,
        parts,
    } = cmd
    else {
        unreachable!("run_forum is called with `ingest forum` only");
    };
    let profile = Profile::load(&profile)?;
    let store = Store::open(&ctx.store)?;
    let ingest_opts = RunOptions {
        classifier: rules_if(classify)?,
        compression: parts.compression,
        ..Default::default()
    };
    let report = if replay {
        forum::replay(&store, &ctx.providers, &profile, &ingest_opts)?
    } else {
        let start_urls = start_urls
            .iter()
            .map(|u| profile::parse_http_url(u).map_err(|m| anyhow::anyhow!("--start-url: {m}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let opts = CrawlOptions {
            start_urls,
            allowed_hosts,
            contact,
            max_pages,
            progress: !ctx.quiet,
        };
        forum::crawl(&store, &ctx.providers, &profile, &opts, &ingest_opts)?
    };
    outln!("{}: {}", profile.name, report.counts)?;
    if replay {
        ctx.note(format!(
            "  {} archived post page(s) re-parsed offline",
            report.from_archive
        ));
    } else {
        ctx.note(format!(
            "  {} list page(s), {} request(s); skipped: {} disallowed by robots.txt, {} off-site, {} already stored; {} parsed again from the archive",
            report.list_pages,
            report.requests,
            report.skipped_robots,
            report.skipped_offsite,
            report.skipped_stored,
            report.from_archive
        ));
    }
    for (url, why) in &report.list_failures {
        ctx.note(format!("  list page {url}: {why}"));
    }
    if let Some(q) = &report.quarantine {
        ctx.note(format!(
            "  {} page(s) quarantined with their URL and reason in {}",
            report.counts.quarantined,
            q.display()
        ));
    }
    if !replay && report.list_pages == 0 {
        anyhow::bail!("no list page could be fetched; nothing was crawled");
    }
    Ok(())
}

/// Runs an ingest command.
pub fn run(ctx: &Context, cmd: IngestCommand) -> anyhow::Result<()> {
    let (files, kind, common) = match cmd {
        IngestCommand::Forum { .. } => return run_forum(ctx, cmd),
        IngestCommand::Cfpb { files, common } => (files, SourceKind::Cfpb, common),
        IngestCommand::Export {
            files,
            mapping,
            common,
        } => (files, SourceKind::Export(Mapping::load(&mapping)?), common),
    };
    let forced = match (&common.encoding, &kind) {
        (Some(label), _) => Some(input::encoding_by_label(label).with_context(|| {
            format!("unknown encoding {label:?} (try utf-8, gbk, gb18030, big5)")
        })?),
        (None, SourceKind::Export(m)) => m.encoding.as_deref().and_then(input::encoding_by_label),
        (None, SourceKind::Cfpb) => None,
    };
    let products = ingest::ProductScope::new(&common.products)
        .map_err(|m| anyhow::anyhow!("--product: {m}"))?;
    let store = Store::open(&ctx.store)?;
    let opts = RunOptions {
        batch_rows: common.batch_rows,
        progress: !ctx.quiet,
        classifier: rules_if(common.classify)?,
        compression: common.parts.compression,
    };
    let mut total = Reconciliation::default();
    for path in &files {
        let spec = IngestSpec {
            path: path.clone(),
            kind: kind.clone(),
            encoding: forced,
            origin: None,
            fingerprint: None,
            products: products.clone(),
        };
        let counts = ingest::ingest(&store, &ctx.providers, &spec, &opts)?;
        outln!("{}: {counts}", path.display())?;
        note_left_out(ctx, &counts, &spec.products);
        if counts.quarantined > 0 {
            ctx.note(format!(
                "  {} row(s) quarantined with their line and reason in {}",
                counts.quarantined,
                ctx.store.join("quarantine").display()
            ));
        }
        total += counts;
    }
    if files.len() > 1 {
        outln!("total: {total}")?;
    }
    Ok(())
}
