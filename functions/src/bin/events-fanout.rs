//! Lambda: the events fan-out (DynamoDB Streams on event items, and a
//! schedule that sweeps the outbox). See `satsgate_functions::webhooks`.

satsgate_functions::job_function!("events-fanout", |app| satsgate_functions::serve_scheduled(
    "events-fanout",
    satsgate_functions::webhooks::events_fanout,
    app
));
