//! Lambda: the chain poller (EventBridge schedule, every minute).

#[tokio::main]
async fn main() -> Result<(), satsgate_functions::Error> {
    satsgate_functions::serve_scheduled("chain-poller", satsgate_functions::chain_poller).await
}
