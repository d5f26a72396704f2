//! Progress bars: shown on a terminal, never in a pipe or with `--quiet`.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar for `total` units drawn with `template`, hidden unless `enabled` and stderr is a
/// terminal.
fn styled(total: u64, enabled: bool, what: &str, template: &str) -> ProgressBar {
    if !enabled || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(what.to_string());
    bar
}

/// A byte-count progress bar for `total` bytes, hidden unless `enabled` and stderr is a terminal.
pub fn bar(total: u64, enabled: bool, what: &str) -> ProgressBar {
    styled(
        total,
        enabled,
        what,
        "{prefix} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
}

/// A progress bar counting `total` items (`unit`: "files", "complaints"), hidden unless
/// `enabled` and stderr is a terminal.
pub fn counter(total: u64, enabled: bool, what: &str, unit: &str) -> ProgressBar {
    styled(
        total,
        enabled,
        what,
        &format!("{{prefix}} [{{bar:40}}] {{pos}}/{{len}} {unit} eta {{eta}}"),
    )
}
