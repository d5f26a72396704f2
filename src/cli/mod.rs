//! Command line: parses arguments and calls the stages. One file per command.

/// `print!`/`println!` to standard output that return the write's error instead of
/// panicking: a reader that closes the pipe early (`walletwatch eval … | head`) ends the
/// command quietly with exit code 0 ([`main`] treats a broken pipe as success).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)
    }};
}
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

mod classify;
mod demo;
mod detect;
mod eval;
mod export;
mod ingest;
mod normalise;
mod report;
mod run;
mod score;
mod train;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

use crate::normalise::providers::Providers;
use crate::store::PartCompression;

/// The store commands use when `--store` is not given.
const DEFAULT_STORE: &str = "data/store";

/// The bundled alias table, used when `data/providers.toml` is not beside the working folder.
const BUNDLED_PROVIDERS: &str = include_str!("../../data/providers.toml");

/// walletwatch: complaint analytics and fraud patterns for digital wallets and payment apps.
#[derive(Debug, Parser)]
#[command(
    name = "walletwatch",
    version,
    about,
    after_help = "Examples:\n  walletwatch demo\n  walletwatch --store data/store ingest cfpb complaints.csv\n  walletwatch export --format csv --provider cash_app --excel -o cash_app.csv"
)]
pub struct Cli {
    /// The store folder (Parquet dataset, raw layer, quarantine) [default: data/store].
    #[arg(long, global = true, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Provider alias table (defaults to data/providers.toml, else the bundled copy).
    #[arg(long, global = true, value_name = "FILE")]
    pub providers: Option<PathBuf>,
    /// Log what happens (tracing) to stderr; -vv for more.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress bars or notes; results only.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest complaints into the store.
    #[command(subcommand)]
    Ingest(ingest::IngestCommand),
    /// Rebuild the complaint table from the raw layer (after changing the alias table, say).
    Normalise(normalise::Args),
    /// Export stored complaints as CSV, Parquet or NDJSON.
    Export(export::Args),
    /// Classify stored complaints (or NDJSON lines) into the categories of DESIGN.md.
    Classify(classify::Args),
    /// Score a classifier against labelled data (CFPB CSV or NDJSON with labels).
    Eval(eval::Args),
    /// Find scam indicators, campaigns, spikes and emerging terms in the classified store.
    Detect(detect::Args),
    /// Rate providers: 0–100 score, grade A–F or NR, interval, n, drivers.
    Score(score::Args),
    /// Every stage from a config file: ingest → classify → detect → report.
    Run(run::Args),
    /// Write the HTML report, summary.md and ratings.csv.
    Report(report::Args),
    /// Train the model classifier's head on labelled data (`bert` build).
    Train(train::Args),
    /// Run the pipeline on the sample bundled in data/ and write reports/demo/.
    Demo(demo::Args),
}

/// `--compression`, on every command that writes complaint parts.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct PartsArgs {
    /// Compression of the complaint parts written: none (fastest; the default), lz4 (about
    /// half the size), zstd (smallest).
    #[arg(long, value_enum, default_value_t = PartCompression::None, value_name = "CODEC")]
    pub compression: PartCompression,
}

/// Global settings every command gets.
pub struct Context {
    /// Store folder.
    pub store: PathBuf,
    /// Whether the command line named it (`--store`), which a config file's store yields to.
    pub store_given: bool,
    /// Alias table.
    pub providers: Providers,
    /// Results only.
    pub quiet: bool,
}

impl Context {
    /// Prints a note to stderr unless `--quiet`.
    pub fn note(&self, msg: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }

    /// The provider id a user's `name` means: an id or alias of the alias table, else a
    /// provider id some stored complaint has (`stored` says which), else an error with the
    /// table's closest names, so that a typo is not an empty answer.
    pub fn provider_id(&self, name: &str, stored: impl Fn(&str) -> bool) -> anyhow::Result<String> {
        if let Some(e) = self.providers.find(name) {
            return Ok(e.id.clone());
        }
        let id = self.providers.canonical_id(name);
        if stored(&id) {
            return Ok(id);
        }
        if stored(name) {
            return Ok(name.to_string());
        }
        let mut known = self.providers.suggest(name);
        known.truncate(3);
        anyhow::bail!(
            "unknown provider {name:?}: no id or alias in the provider table, and no stored complaint has it; did you mean: {}?",
            known.join(", ")
        )
    }
}

/// A folder of the repository: `./<name>` when it holds `marker`, else the one beside the
/// sources.
fn repo_dir(name: &str, marker: &str) -> PathBuf {
    let local = Path::new(name);
    if local.join(marker).exists() {
        local.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
    }
}

/// The repository's `data/` folder: `./data` when present, else the one beside the sources.
pub fn data_dir() -> PathBuf {
    repo_dir("data", "providers.toml")
}

/// The repository's `models/` folder: `./models` when it holds the rules, else the one
/// beside the sources.
pub fn models_dir() -> PathBuf {
    repo_dir("models", "rules/rules.toml")
}

/// The rules classifier of the repository's models, shareable with ingest's writer.
fn rules_classifier() -> anyhow::Result<std::sync::Arc<dyn crate::classify::Classifier>> {
    Ok(crate::classify::build_classifier(
        crate::classify::ClassifierKind::Rules,
        &models_dir(),
        None,
    )?
    .into())
}

fn load_providers(path: Option<&Path>) -> anyhow::Result<Providers> {
    match path {
        Some(p) => Ok(Providers::load(p)?),
        None => {
            let local = Path::new("data/providers.toml");
            if local.exists() {
                Ok(Providers::load(local)?)
            } else {
                Ok(Providers::parse(
                    BUNDLED_PROVIDERS,
                    "bundled data/providers.toml",
                )?)
            }
        }
    }
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => return,
        1 => tracing::Level::INFO,
        2 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .init();
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || e.to_string().contains("Broken pipe")
    })
}

/// Runs the command line; exit codes: 0 ok, 1 error, 2 bad usage.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if matches!(cli.command, Command::Demo(_)) && cli.store.is_some() {
        // The demo clears its store before every run: a store named with --store is not
        // one to clear.
        let _ = Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "`demo` keeps its own store in <OUT>/store and clears it on every run; move it with `demo --out DIR`, not --store",
            )
            .print();
        return ExitCode::from(2);
    }
    init_tracing(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {}", error_line(&e));
            ExitCode::from(1)
        }
    }
}

/// An error and its causes on one line, each cause once: most errors here already name
/// their cause in their own message (`x.csv: cannot open: Is a directory`), which `{:#}`
/// would repeat.
pub(crate) fn error_line(e: &anyhow::Error) -> String {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !line.contains(&cause) {
            line.push_str(": ");
            line.push_str(&cause);
        }
    }
    line
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let providers = load_providers(cli.providers.as_deref())?;
    let ctx = Context {
        store_given: cli.store.is_some(),
        store: cli.store.unwrap_or_else(|| PathBuf::from(DEFAULT_STORE)),
        providers,
        quiet: cli.quiet,
    };
    match cli.command {
        Command::Ingest(cmd) => ingest::run(&ctx, cmd),
        Command::Normalise(args) => normalise::run(&ctx, args),
        Command::Export(args) => export::run(&ctx, args),
        Command::Classify(args) => classify::run(&ctx, args),
        Command::Eval(args) => eval::run(&ctx, args),
        Command::Train(args) => train::run(&ctx, args),
        Command::Detect(args) => detect::run(&ctx, args),
        Command::Score(args) => score::run(&ctx, args),
        Command::Report(args) => report::run(&ctx, args),
        Command::Run(args) => run::run(&ctx, args),
        Command::Demo(args) => demo::run(&ctx, args),
    }
}
