//! Lambda: the price poller (EventBridge schedule, every minute). Fetches
//! every configured fiat from every configured source, stores the median
//! and emits `price.updated` (see `satsgate::prices::poller`).

use futures::future::BoxFuture;
use satsgate::app::App;
use serde_json::Value;

/// One poll per invocation; the answer lists what was updated or kept.
fn price_poller(app: &App, _event: Value) -> BoxFuture<'_, Result<Value, String>> {
    Box::pin(async move { Ok(satsgate::prices::poller::poll_prices(app).await?.to_json()) })
}

#[tokio::main]
async fn main() -> Result<(), satsgate_functions::Error> {
    satsgate_functions::serve_scheduled("price-poller", price_poller).await
}
