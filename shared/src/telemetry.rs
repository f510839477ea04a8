//! Structured logs: JSON lines on Lambda (CloudWatch), readable text locally.

/// Install the global subscriber once; `RUST_LOG` filters (default info).
pub fn init(json: bool) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if json {
        builder.json().flatten_event(true).without_time().try_init()
    } else {
        // Locally logs go to stderr (stdout carries the keys and the address),
        // coloured only on a terminal.
        builder
            .compact()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
    };
}
