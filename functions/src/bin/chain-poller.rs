//! Lambda: the chain poller (EventBridge schedule, every minute).

satsgate_functions::job_function!("chain-poller", |app| satsgate_functions::serve_scheduled(
    "chain-poller",
    satsgate_functions::chain_poller,
    app
));
