//! Lambda: the price poller (EventBridge schedule, every minute). Fetches
//! every configured fiat from every configured source, stores the median
//! and emits `price.updated` (see `satsgate::prices::poller`).

use futures::future::BoxFuture;
use satsgate::app::App;
use serde_json::Value;

/// One poll per invocation; the answer lists what was updated or kept.
fn price_poller(app: &App, _event: Value) -> BoxFuture<'_, Result<Value, String>> {
    use satsgate::metrics::{count, POLLER_ERRORS, PRICES_UPDATED, PRICE_SOURCE_FAILURES};
    Box::pin(async move {
        let report = satsgate::prices::poller::poll_prices(app)
            .await
            .inspect_err(|_| count(&[(POLLER_ERRORS, 1)]))?;
        count(&[
            (PRICES_UPDATED, report.updated.len() as u64),
            (PRICE_SOURCE_FAILURES, report.failed_sources.len() as u64),
            (POLLER_ERRORS, 0),
        ]);
        Ok(report.to_json())
    })
}

satsgate_functions::job_function!("price-poller", |app| satsgate_functions::serve_scheduled(
    "price-poller",
    price_poller,
    app
));
