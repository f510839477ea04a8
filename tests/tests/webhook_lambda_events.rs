//! The Lambda path of webhooks with the sample events in events/: every
//! webhook route through lambda_http and its function (both engines), the
//! DynamoDB Streams record through `events-fanout`, the scheduled sweep,
//! and the SQS record through `webhook-dispatcher` with a partial batch
//! response (table-backed queue and SQS on moto_server).

mod webhook_support;

use satsgate::app::App;
use satsgate::queue::Queue;
use satsgate_e2e::{per_engine, table, Engine};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use webhook_support::*;

fn sample(name: &str, subs: &[(&str, &str)]) -> String {
    let path = format!("{}/../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("sample event {path}"));
    for (k, v) in subs {
        text = text.replace(k, v);
    }
    text
}

async fn call(app: &App, function: &str, subs: &[(&str, &str)]) -> (u16, Value) {
    let event = lambda_http::request::from_str(&sample(function, subs))
        .expect("lambda_http parses the sample event");
    let resp = satsgate_functions::handle(app, function, event).await;
    let status = resp.status().as_u16();
    let body = match resp.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, body)
}

async fn store(app: &App) -> (String, String) {
    let (_, _, key) = satsgate::account::create_account(&*app.table, "Lambda", app.now())
        .await
        .unwrap();
    let (s, b) = call(app, "stores-create", &[("__ACCOUNT_KEY__", &key)]).await;
    assert_eq!(s, 201, "{b}");
    (
        b["store"]["id"].as_str().unwrap().to_string(),
        b["api_key"]["key"].as_str().unwrap().to_string(),
    )
}

async fn every_webhook_route_sample_runs_through_its_function(engine: Engine) {
    let Some(t) = table(engine).await else {
        return;
    };
    let rx = Receiver::start(vec![], None).await;
    let hook = rx.url("/hook");
    let app = app(t, config(fast_settings(QueueKind::Table), true), None);
    let (_, key) = store(&app).await;
    let mut subs: Vec<(&str, String)> = vec![
        ("__STORE_KEY__", key),
        ("https://hooks.example.com/satsgate", hook.clone()),
    ];
    let refs = |s: &Vec<(&'static str, String)>| {
        s.iter().map(|(a, b)| (*a, b.clone())).collect::<Vec<_>>()
    };
    let run = |app: &App, f: &'static str, s: Vec<(&'static str, String)>| {
        let app = app.clone();
        async move {
            let r: Vec<(&str, &str)> = s.iter().map(|(a, b)| (*a, b.as_str())).collect();
            call(&app, f, &r).await
        }
    };
    let (s, b) = run(&app, "webhook-endpoints-create", refs(&subs)).await;
    assert_eq!(s, 201, "{engine:?}: {b}");
    assert_eq!(b["events"], json!(["invoice.paid", "invoice.completed"]));
    assert_eq!(b["url"], hook);
    subs.push(("__ENDPOINT_ID__", b["id"].as_str().unwrap().to_string()));
    for f in [
        "webhook-endpoints-list",
        "webhook-endpoints-get",
        "webhook-endpoints-update",
        "webhook-endpoints-rotate-secret",
    ] {
        let (s, b) = run(&app, f, refs(&subs)).await;
        assert_eq!(s, 200, "{engine:?} {f}: {b}");
    }
    let (s, b) = run(&app, "webhook-endpoints-test", refs(&subs)).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("succeeded")), "{b}");
    let (s, b) = run(&app, "webhook-deliveries-list", refs(&subs)).await;
    assert_eq!(s, 200, "{b}");
    subs.push((
        "__DELIVERY_ID__",
        b["items"][0]["id"].as_str().unwrap().to_string(),
    ));
    let (s, b) = run(&app, "webhook-deliveries-get", refs(&subs)).await;
    assert_eq!(
        (s, b["event_type"].as_str()),
        (200, Some("webhook.test")),
        "{b}"
    );
    let (s, b) = run(&app, "webhook-deliveries-redeliver", refs(&subs)).await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = run(&app, "webhook-endpoints-delete", refs(&subs)).await;
    assert_eq!(s, 200, "{b}");
    // A function serves only its own route.
    let ev = lambda_http::request::from_str(&sample("webhook-endpoints-list", &[])).unwrap();
    assert_eq!(
        satsgate_functions::handle(&app, "webhook-endpoints-get", ev)
            .await
            .status()
            .as_u16(),
        404
    );
    rx.stop();
}
per_engine!(
    every_webhook_route_sample_runs_through_its_function,
    flavor = "multi_thread",
    worker_threads = 2
);

/// Stream record -> events-fanout -> queue -> SQS record -> webhook-dispatcher.
async fn stream_to_dispatcher(kind: QueueKind) {
    let Some(t) = table(Engine::Embedded).await else {
        return;
    };
    let queue: Arc<dyn Queue> = match kind {
        QueueKind::Table => Arc::new(satsgate::queue::local::TableQueue::new(
            t.clone(),
            Arc::new(satsgate::clock::SystemClock),
            "webhooks",
        )),
        QueueKind::Sqs => match sqs_queue(50).await {
            Some(q) => Arc::new(q),
            None => return,
        },
    };
    let app = app(t, config(fast_settings(kind), true), Some(queue.clone()));
    let (store_id, key) = store(&app).await;
    let rx = Receiver::start(vec![], None).await;
    let shop_key = [
        ("__STORE_KEY__", key.as_str()),
        ("https://hooks.example.com/satsgate", &rx.url("/hook")),
    ];
    let (s, created) = call(&app, "webhook-endpoints-create", &shop_key).await;
    assert_eq!(s, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();

    // The stream record of an event item (as invoices write it).
    let event_id = satsgate::ids::new_id(satsgate::ids::IdKind::Event);
    let inv_url = rx.url("/inv");
    let record = sample(
        "events-fanout",
        &[
            ("__STORE_ID__", &store_id),
            ("__EVENT_ID__", &event_id),
            ("__INVOICE_WEBHOOK_URL__", &inv_url),
        ],
    );
    let parsed: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_str(&record).expect("a DynamoDB Streams event");
    let image =
        satsgate::table::dynamo::from_attrs(parsed.records[0].change.new_image.clone().into())
            .unwrap();
    assert_eq!(image["data"]["invoice"]["crypto_amount_sats"], json!(31175));
    app.table.put(image, None).await.unwrap();
    assert_eq!(outbox(&*app.table).await, vec![event_id.clone()]);
    let out =
        satsgate_functions::webhooks::events_fanout(&app, serde_json::from_str(&record).unwrap())
            .await
            .unwrap();
    assert_eq!(out["batchItemFailures"], json!([]), "{out}");
    assert_eq!(
        out["deliveries"], 2,
        "the endpoint (invoice.paid) and the invoice's webhook_url: {out}"
    );
    assert!(
        outbox(&*app.table).await.is_empty(),
        "the event left the outbox"
    );
    let sweep = satsgate_functions::webhooks::events_fanout(
        &app,
        serde_json::from_str(&sample("events-fanout-sweep", &[])).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(sweep["swept"], 0);

    // The queue now holds one message per target: dispatch them as SQS records.
    let mut msgs = Vec::new();
    for _ in 0..20 {
        msgs.extend(
            queue
                .receive(10, Duration::from_secs(30), Duration::from_secs(1))
                .await
                .unwrap(),
        );
        if msgs.len() >= 2 {
            break;
        }
    }
    assert_eq!(msgs.len(), 2);
    let to_sqs = |m: &satsgate::queue::Message| -> Value {
        let b: Value = serde_json::from_str(&m.body).unwrap();
        let s = |k: &str| b[k].as_str().unwrap().to_string();
        let text = sample(
            "webhook-dispatcher",
            &[
                ("__MESSAGE_ID__", &m.id),
                ("__RECEIPT__", &m.receipt),
                ("__DELIVERY_ID__", &s("delivery_id")),
                ("__STORE_ID__", &s("store_id")),
                ("__TARGET__", &s("target")),
                ("__ENDPOINT_ID__", &s("endpoint_id")),
            ],
        );
        serde_json::from_str(&text).unwrap()
    };
    let hook_msg = msgs
        .iter()
        .find(|m| !m.body.contains("invoice_url"))
        .unwrap();
    let inv_msg = msgs
        .iter()
        .find(|m| m.body.contains("invoice_url"))
        .unwrap();
    let out = satsgate_functions::webhooks::webhook_dispatcher(&app, to_sqs(hook_msg))
        .await
        .unwrap();
    assert_eq!(
        out["batchItemFailures"],
        json!([]),
        "{kind:?}: delivered: {out}"
    );
    let got = rx.wait_for("/hook", 1, Duration::from_secs(5)).await;
    assert_eq!(got[0].event_id(), event_id);
    assert!(got[0].verifies(&secret));

    // A 500: reported as a batch item failure and hidden until its retry.
    rx.set_default(Mode::Status(500));
    let out = satsgate_functions::webhooks::webhook_dispatcher(&app, to_sqs(inv_msg))
        .await
        .unwrap();
    assert_eq!(
        out["batchItemFailures"],
        json!([{"itemIdentifier": inv_msg.id}]),
        "{kind:?}: {out}"
    );
    let d: Value = serde_json::from_str(&inv_msg.body).unwrap();
    let item = app
        .table
        .get(&satsgate::schema::webhook_delivery(
            &store_id,
            d["delivery_id"].as_str().unwrap(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (item["status"].as_str(), item["attempt_count"].as_u64()),
        (Some("pending"), Some(1))
    );
    assert!(item["next_attempt_at"].is_string());
    rx.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_record_and_sqs_record_samples_run_through_their_functions() {
    stream_to_dispatcher(QueueKind::Table).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_record_and_sqs_record_samples_run_through_their_functions_on_sqs() {
    stream_to_dispatcher(QueueKind::Sqs).await;
}
