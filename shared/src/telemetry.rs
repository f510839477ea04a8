//! Structured logs: JSON lines on Lambda (CloudWatch), readable text locally.

/// Install the global subscriber once; `filter` (`Config::log_filter`,
/// `RUST_LOG`; default info) is a level, or `target=level` pairs
/// (`info,satsgate::webhooks=debug`): a plain target/level list, no regular
/// expressions to compile.
pub fn init(json: bool, filter: Option<&str>) {
    use std::io::IsTerminal;
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = filter
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let fmt = tracing_subscriber::fmt::layer().with_target(false);
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if json {
        registry
            .with(fmt.json().flatten_event(true).without_time())
            .try_init()
    } else {
        // Locally logs go to stderr (stdout carries the keys and the address),
        // coloured only on a terminal.
        registry
            .with(
                fmt.compact()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::stderr().is_terminal()),
            )
            .try_init()
    };
}
