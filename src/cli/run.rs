//! `walletwatch run --config FILE`: the analyst's batch, every stage from a config file.

use std::path::{Path, PathBuf};

use clap::{Args as ClapArgs, ValueEnum};
use serde::Deserialize;

use super::{Context, models_dir};
use crate::classify::{ClassifierKind, build_classifier};
use crate::ingest::forum::{self, CrawlOptions, profile, profile::Profile};
use crate::ingest::{self, IngestSpec, RunOptions, SourceKind, export::Mapping};
use crate::store::{PartCompression, Store};

/// Options of `run`.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = "Example:\n  walletwatch run --config walletwatch.example.toml\n\nRuns ingest (each source) → classify → detect → report, printing each stage's\nreconciliation. Resumable: a file already ingested comes back as duplicates, a part\nalready classified is skipped. Paths in the config are relative to the config file.\nThe commented example: walletwatch.example.toml."
)]
pub struct Args {
    /// The batch configuration (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    store: Option<PathBuf>,
    /// How the complaint parts are compressed (`ingest --compression`).
    compression: Option<String>,
    #[serde(default)]
    source: Vec<Source>,
    #[serde(default)]
    classify: ClassifyCfg,
    #[serde(default)]
    detect: DetectCfg,
    #[serde(default)]
    score: ScoreCfg,
    #[serde(default)]
    report: ReportCfg,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    kind: String,
    path: Option<PathBuf>,
    mapping: Option<PathBuf>,
    encoding: Option<String>,
    /// kind = "forum": the site profile, and what `ingest forum` takes as options.
    profile: Option<PathBuf>,
    #[serde(default)]
    start_urls: Vec<String>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    contact: Option<String>,
    max_pages: Option<usize>,
    #[serde(default)]
    replay: bool,
    /// kind = "cfpb" or "export": `ingest --product`, one pattern an entry.
    #[serde(default)]
    products: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassifyCfg {
    classifier: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DetectCfg {
    #[serde(default)]
    scam_lists: Vec<PathBuf>,
    min_size: Option<usize>,
    similarity: Option<f64>,
    cap: Option<usize>,
    alpha: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoreCfg {
    config: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportCfg {
    out: PathBuf,
}

impl Default for ReportCfg {
    /// `report`'s own default folder (beside the config, as every path in it).
    fn default() -> Self {
        Self {
            out: PathBuf::from("reports/latest"),
        }
    }
}

/// One source of the config, checked and ready to run.
enum Job {
    File(IngestSpec),
    Crawl(Profile, CrawlOptions),
    Replay(Profile),
}

/// Checks one `[[source]]` (its kind, files, mapping, profile, encoding and URLs) and
/// turns it into a job; paths are made relative to the config by `rel`.
fn job(src: &Source, rel: &dyn Fn(&Path) -> PathBuf, progress: bool) -> anyhow::Result<Job> {
    if src.kind == "forum" {
        let profile = src
            .profile
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("kind \"forum\" needs `profile`"))?;
        let profile = Profile::load(&rel(profile))?;
        if src.replay {
            return Ok(Job::Replay(profile));
        }
        let start_urls = src
            .start_urls
            .iter()
            .map(|u| profile::parse_http_url(u).map_err(|m| anyhow::anyhow!("start_urls: {m}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let crawl = CrawlOptions {
            start_urls,
            allowed_hosts: src.allowed_hosts.clone(),
            contact: src.contact.clone(),
            max_pages: src.max_pages,
            progress,
        };
        return Ok(Job::Crawl(profile, crawl));
    }
    let path = src
        .path
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("kind {:?} needs `path`", src.kind))?;
    let kind = match (src.kind.as_str(), &src.mapping) {
        ("cfpb", _) => SourceKind::Cfpb,
        ("export", Some(m)) => SourceKind::Export(Mapping::load(&rel(m))?),
        ("export", None) => anyhow::bail!("kind \"export\" needs `mapping`"),
        (other, _) => anyhow::bail!("kind {other:?} is not one of cfpb, export, forum"),
    };
    let encoding = match &src.encoding {
        Some(label) => Some(
            crate::ingest::input::encoding_by_label(label)
                .ok_or_else(|| anyhow::anyhow!("unknown encoding {label:?}"))?,
        ),
        None => None,
    };
    let path = rel(path);
    if !path.is_file() {
        anyhow::bail!("{}: no such file", path.display());
    }
    let products = crate::ingest::ProductScope::new(&src.products)
        .map_err(|m| anyhow::anyhow!("products: {m}"))?;
    kind.check_scope(&products)
        .map_err(|m| anyhow::anyhow!("products: {m}"))?;
    Ok(Job::File(IngestSpec {
        path,
        kind,
        encoding,
        origin: None,
        fingerprint: None,
        products,
    }))
}

/// Runs `run`.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.config)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.config.display()))?;
    let cfg: Config = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: {}", args.config.display(), e.to_string().trim()))?;
    let base = args.config.parent().unwrap_or(Path::new("."));
    let rel = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    // Everything the config names is checked before any work starts, so that a mistake in
    // its last source is not found after an hour of ingesting the first.
    let jobs = cfg
        .source
        .iter()
        .enumerate()
        .map(|(i, src)| {
            job(src, &rel, !ctx.quiet).map_err(|e| {
                anyhow::anyhow!(
                    "{}: source {}: {}",
                    args.config.display(),
                    i + 1,
                    super::error_line(&e)
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let named = |what: &str, p: &Path| -> anyhow::Result<PathBuf> {
        let p = rel(p);
        if !p.is_file() {
            anyhow::bail!(
                "{}: {what} {} is not a file",
                args.config.display(),
                p.display()
            );
        }
        Ok(p)
    };
    let scam_lists = cfg
        .detect
        .scam_lists
        .iter()
        .map(|p| named("detect.scam_lists:", p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // The rating settings are read here as well as by the report, so that a wrong weight
    // is found before the ingest rather than after it (a small file, read twice).
    let rating = cfg
        .score
        .config
        .as_deref()
        .map(|p| {
            let p = named("score.config", p)?;
            crate::score::RatingConfig::load(&p)?;
            Ok::<_, anyhow::Error>(p)
        })
        .transpose()?;
    // --store on the command line wins over the config's `store`, which wins over the default.
    let store_dir = match cfg.store.as_deref() {
        Some(p) if !ctx.store_given => rel(p),
        _ => ctx.store.clone(),
    };
    let store = Store::open(&store_dir)?;
    outln!("store: {}", store_dir.display())?;

    let kind = match &cfg.classify.classifier {
        Some(name) => ClassifierKind::from_str(name, true).map_err(|_| {
            anyhow::anyhow!(
                "{}: classifier {name:?} is not one of rules, bert, auto",
                args.config.display()
            )
        })?,
        None => ClassifierKind::Rules,
    };
    let classifier: std::sync::Arc<dyn crate::classify::Classifier> =
        build_classifier(kind, &models_dir(), None)?.into();
    let compression = match &cfg.compression {
        Some(name) => PartCompression::from_str(name, true).map_err(|_| {
            anyhow::anyhow!(
                "{}: compression {name:?} is not one of none, lz4, zstd",
                args.config.display()
            )
        })?,
        None => PartCompression::None,
    };
    // The rules classify each part as ingest writes it; a model classifies afterwards.
    let opts = RunOptions {
        progress: !ctx.quiet,
        classifier: matches!(kind, ClassifierKind::Rules).then(|| classifier.clone()),
        compression,
        ..Default::default()
    };
    for job in jobs {
        match job {
            Job::Replay(profile) => {
                let report = forum::replay(&store, &ctx.providers, &profile, &opts)?;
                outln!("ingest forum {}: {}", profile.name, report.counts)?;
            }
            Job::Crawl(profile, crawl) => {
                let report = forum::crawl(&store, &ctx.providers, &profile, &crawl, &opts)?;
                outln!("ingest forum {}: {}", profile.name, report.counts)?;
            }
            Job::File(spec) => {
                let counts = ingest::ingest(&store, &ctx.providers, &spec, &opts)?;
                outln!("ingest {}: {counts}", spec.path.display())?;
                super::ingest::note_left_out(ctx, &counts, &spec.products);
            }
        }
    }

    let classified = crate::classify::table::classify_store(&store, &*classifier, &|_| {})?;
    outln!("classify: {classified} ({})", classifier.name())?;

    let mut dopts = crate::detect::DetectOptions::new(&models_dir(), &super::data_dir());
    dopts.scam_lists.extend(scam_lists);
    if let Some(n) = cfg.detect.min_size {
        dopts.min_size = n;
    }
    if let Some(s) = cfg.detect.similarity {
        dopts.similarity = s;
    }
    dopts.cap = cfg.detect.cap;
    if let Some(a) = cfg.detect.alpha {
        dopts.spikes.alpha = a;
    }
    let out = rel(&cfg.report.out);
    let det = super::detect::detect_store(ctx, &store, &dopts, Some(&out.join("detect")))?;
    outln!("detect: {}", super::detect::summary(&det))?;

    let index = super::report::write(ctx, &store, &out, rating.as_deref())?;
    outln!("report: {}", index.display())?;
    Ok(())
}
