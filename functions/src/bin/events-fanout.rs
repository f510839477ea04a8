//! Lambda: the events fan-out (DynamoDB Streams on event items, and a
//! schedule that sweeps the outbox). See `satsgate_functions::webhooks`.

#[tokio::main]
async fn main() -> Result<(), satsgate_functions::Error> {
    satsgate_functions::serve_scheduled(
        "events-fanout",
        satsgate_functions::webhooks::events_fanout,
    )
    .await
}
