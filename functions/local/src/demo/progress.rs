//! Progress on the terminal while a long step runs; nothing is drawn when
//! standard error is not a terminal (CI logs, tests).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over a known number of rows.
pub fn rows(label: &str, total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "  {prefix:<22} [{bar:30}] {pos:>7}/{len:7} rows  {per_sec:>12}  {elapsed_precise}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(label.to_owned());
    bar
}

/// A spinner with the time spent, for steps that report only at their end.
pub fn spinner(label: &str) -> ProgressBar {
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(
        ProgressStyle::with_template("  {spinner} {prefix:<22} {elapsed_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.set_prefix(label.to_owned());
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}
