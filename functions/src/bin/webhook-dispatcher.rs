//! Lambda: the webhook dispatcher (SQS trigger, partial batch responses).
//! See `satsgate_functions::webhooks`.

satsgate_functions::job_function!("webhook-dispatcher", |app| {
    satsgate_functions::serve_scheduled(
        "webhook-dispatcher",
        satsgate_functions::webhooks::webhook_dispatcher,
        app,
    )
});
