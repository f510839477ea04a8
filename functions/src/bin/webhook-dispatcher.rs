//! Lambda: the webhook dispatcher (SQS trigger, partial batch responses).
//! See `satsgate_functions::webhooks`.

#[tokio::main]
async fn main() -> Result<(), satsgate_functions::Error> {
    satsgate_functions::serve_scheduled(
        "webhook-dispatcher",
        satsgate_functions::webhooks::webhook_dispatcher,
    )
    .await
}
