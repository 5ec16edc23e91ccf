//! Tracing set-up: JSON lines in Lambda (CloudWatch Logs Insights parses
//! them), readable text on a terminal.

use tracing_subscriber::EnvFilter;

/// Whether the process runs inside AWS Lambda.
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
}

/// Installs the global subscriber once; later calls do nothing. The level
/// comes from `RUST_LOG` (default `info`).
pub fn init() {
    init_with_default("info");
}

/// As `init`, with another level when `RUST_LOG` is unset (a command that
/// prints its own report keeps the logs to warnings).
pub fn init_with_default(level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let installed = if in_lambda() {
        // Lambda stamps each line itself; the request id comes from the span.
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .without_time()
            .with_target(false)
            .try_init()
    } else {
        builder.with_target(false).try_init()
    };
    drop(installed); // already installed by an earlier call: nothing to do
}
