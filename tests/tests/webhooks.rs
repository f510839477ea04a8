//! Webhooks end to end in satsgate-local (in-process, with its jobs): events
//! written into the outbox as invoices write them reach a real HTTP
//! receiver on loopback, signed, in order; retries back off; a receiver
//! that never answers ends `failed` and in the dead-letter queue;
//! redeliver; endpoints CRUD and secrets; the SSRF guard; a restart loses
//! nothing. Each delivery test runs on the embedded engine with the
//! table-backed queue, on DynamoDB (moto_server) with the table-backed
//! queue, and with SQS (moto_server).

mod webhook_support;

use satsgate::queue::Queue;
use satsgate_e2e::{table, Engine, Shop, ShopIds};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use webhook_support::*;

const SETUPS: [(Engine, QueueKind); 3] = [
    (Engine::Embedded, QueueKind::Table),
    (Engine::Dynamo, QueueKind::Table),
    (Engine::Embedded, QueueKind::Sqs),
];

/// A shop on that engine and queue, or None when moto_server is not set up.
async fn shop(
    engine: Engine,
    kind: QueueKind,
    settings: satsgate::webhooks::Settings,
    insecure: bool,
) -> Option<(Shop, Arc<dyn Queue>)> {
    let t = table(engine).await?;
    let queue: Arc<dyn Queue> = match kind {
        QueueKind::Table => Arc::new(satsgate::queue::local::TableQueue::new(
            t.clone(),
            Arc::new(satsgate::clock::SystemClock),
            "webhooks",
        )),
        QueueKind::Sqs => Arc::new(sqs_queue(50).await?),
    };
    let app = app(t, config(settings, insecure), Some(queue.clone()));
    Some((Shop::serve(app, true, None).await, queue))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliveries_are_signed_and_in_event_order() {
    for (engine, kind) in SETUPS {
        let Some((shop, _)) = shop(engine, kind, fast_settings(kind), true).await else {
            continue;
        };
        let rx = Receiver::start(vec![], None).await;
        let (hook, hook_secret) = shop.endpoint(&rx.url("/hook"), json!(["*"])).await;
        let (_paid_only, _) = shop
            .endpoint(&rx.url("/paid"), json!(["invoice.paid"]))
            .await;
        let inv_secret = shop.invoice_url_secret().await;
        let inv = "inv_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4";
        let inv_url = rx.url("/inv");
        let mut written = vec![];
        for kind in [
            "invoice.created",
            "invoice.updated",
            "payment.received",
            "invoice.paid",
            "invoice.completed",
        ] {
            written.push(
                write_event(
                    &*shop.app().table,
                    &shop.store_id,
                    kind,
                    inv,
                    Some(&inv_url),
                )
                .await
                .id,
            );
        }
        let wait = Duration::from_secs(30);
        let to_hook = rx.wait_for("/hook", 5, wait).await;
        let to_inv = rx.wait_for("/inv", 5, wait).await;
        let to_paid = rx.wait_for("/paid", 1, wait).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            rx.got().len(),
            11,
            "{engine:?}/{kind:?}: each event once per target, nothing else"
        );
        let ids = |got: &[Received]| got.iter().map(Received::event_id).collect::<Vec<_>>();
        assert_eq!(
            ids(&to_hook),
            written,
            "{engine:?}/{kind:?}: the endpoint gets the events in order"
        );
        assert_eq!(
            ids(&to_inv),
            written,
            "{engine:?}/{kind:?}: the invoice's webhook_url too"
        );
        assert_eq!(
            ids(&to_paid),
            vec![written[3].clone()],
            "the filter lets only invoice.paid through"
        );
        for r in &to_hook {
            assert!(
                r.verifies(&hook_secret),
                "signature verifies with the endpoint secret: {}",
                r.header("satsgate-signature")
            );
            assert!(!r.verifies(&inv_secret), "and not with another secret");
            assert!(
                r.header("user-agent").starts_with("satsgate-webhooks/"),
                "{}",
                r.header("user-agent")
            );
            assert_eq!(r.header("content-type"), "application/json");
            assert_eq!(r.header("satsgate-event-id"), r.event_id());
            assert_eq!(
                r.header("idempotency-key"),
                r.event_id(),
                "the event id is the idempotency key"
            );
            let body = r.json();
            assert_eq!(body["object"], "event");
            assert_eq!(body["data"]["invoice"]["id"], inv);
            assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
        }
        for r in &to_inv {
            assert!(
                r.verifies(&inv_secret),
                "invoice webhook_url deliveries verify with the invoice_url secret"
            );
        }
        assert_eq!(to_hook[3].json()["type"], "invoice.paid");

        // The delivery log.
        let ds = shop.deliveries(&hook).await;
        assert_eq!(ds.len(), 5);
        let mut newest_first = written.clone();
        newest_first.reverse();
        assert_eq!(
            ds.iter()
                .map(|d| d["event_id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>(),
            newest_first
        );
        for d in &ds {
            assert_eq!(d["status"], "succeeded", "{d}");
            assert_eq!(d["attempts"].as_array().unwrap().len(), 1);
            assert_eq!(d["attempts"][0]["status_code"], 200);
            assert!(d["attempts"][0]["duration_ms"].is_u64());
            assert!(d["id"].as_str().unwrap().starts_with("dlv_"));
            assert_eq!(d["next_attempt_at"], Value::Null);
            assert_eq!(d["url"], rx.url("/hook"));
        }
        assert_eq!(shop.deliveries("invoice_url").await.len(), 5);
        eventually(Duration::from_secs(5), "outbox drained", || async {
            outbox(&*shop.app().table).await.is_empty()
        })
        .await;
        rx.stop();
        shop.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failures_are_retried_with_growing_backoff_until_delivered() {
    for (engine, kind) in SETUPS {
        let Some((shop, _)) = shop(engine, kind, retry_settings(kind), true).await else {
            continue;
        };
        let rx = Receiver::start(
            vec![Mode::Status(500), Mode::Status(500), Mode::Status(500)],
            Some(Mode::Status(200)),
        )
        .await;
        let (hook, secret) = shop
            .endpoint(&rx.url("/hook"), json!(["invoice.paid"]))
            .await;
        let evt = write_event(
            &*shop.app().table,
            &shop.store_id,
            "invoice.paid",
            "inv_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b5",
            None,
        )
        .await;
        let got = rx.wait_for("/hook", 4, Duration::from_secs(60)).await;
        let d = shop.deliveries(&hook).await.remove(0);
        let d = shop
            .wait_delivery(
                d["id"].as_str().unwrap(),
                "succeeded",
                Duration::from_secs(10),
            )
            .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let got_after = rx.got_on("/hook");
        assert_eq!(
            got_after.len(),
            4,
            "{engine:?}/{kind:?}: delivered exactly on the 4th attempt, then no more"
        );
        assert!(
            got.iter()
                .all(|r| r.event_id() == evt.id && r.verifies(&secret)),
            "same event, signed, every time"
        );
        let gaps: Vec<Duration> = got.windows(2).map(|w| w[1].at - w[0].at).collect();
        let first = retry_settings(kind).retry_delays[0];
        assert!(
            gaps[0] >= first.mul_f64(0.85),
            "{engine:?}/{kind:?}: backoff before the 2nd attempt: {gaps:?}"
        );
        assert!(
            gaps[1] > gaps[0] && gaps[2] > gaps[1],
            "{engine:?}/{kind:?}: each wait longer than the last: {gaps:?}"
        );
        let codes: Vec<u64> = d["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["status_code"].as_u64().unwrap())
            .collect();
        assert_eq!(codes, vec![500, 500, 500, 200], "{d}");
        assert_eq!(d["attempts"][0]["error"], "HTTP 500");
        assert_eq!(d["attempts"][3]["error"], Value::Null);
        rx.stop();
        shop.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_receiver_that_never_answers_ends_failed_in_the_dlq_and_redeliver_sends_again() {
    for (engine, kind) in SETUPS {
        let settings = satsgate::webhooks::Settings {
            retry_delays: match kind {
                QueueKind::Table => vec![Duration::from_millis(100); 3],
                QueueKind::Sqs => vec![Duration::from_secs(1); 3],
            },
            timeout: Duration::from_millis(700),
            jitter: 0.0,
        };
        let Some((shop, queue)) = shop(engine, kind, settings, true).await else {
            continue;
        };
        let rx = Receiver::start(vec![], Some(Mode::Hang)).await;
        let (hook, secret) = shop.endpoint(&rx.url("/hook"), json!(["*"])).await;
        let evt = write_event(
            &*shop.app().table,
            &shop.store_id,
            "invoice.expired",
            "inv_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b6",
            None,
        )
        .await;
        rx.wait_for("/hook", 1, Duration::from_secs(30)).await;
        let id = shop.deliveries(&hook).await[0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let d = shop
            .wait_delivery(&id, "failed", Duration::from_secs(60))
            .await;
        let attempts = d["attempts"].as_array().unwrap();
        assert_eq!(
            attempts.len(),
            4,
            "{engine:?}/{kind:?}: every scheduled attempt was made: {d}"
        );
        for a in attempts {
            assert_eq!(a["status_code"], Value::Null);
            assert!(a["error"].as_str().unwrap().contains("timed out"), "{a}");
            assert!(a["duration_ms"].as_u64().unwrap() >= 600, "{a}");
        }
        assert_eq!(d["next_attempt_at"], Value::Null);
        eventually(
            Duration::from_secs(10),
            "the message is in the dead-letter queue",
            || async {
                queue
                    .dead_letters(10)
                    .await
                    .unwrap()
                    .iter()
                    .any(|m| m.body.contains(&id))
            },
        )
        .await;
        assert_eq!(rx.got_on("/hook").len(), 4, "no attempt after giving up");

        // The receiver is fixed: redeliver sends the same event again.
        rx.set_default(Mode::Status(204));
        let again = shop
            .call(
                "POST",
                &format!("/v1/webhook-deliveries/{id}/redeliver"),
                None,
            )
            .await;
        assert_eq!(again.status, 201, "{again}");
        assert_eq!(again.body["redelivery_of"], id.as_str());
        assert_eq!(again.body["event_id"], evt.id.as_str());
        assert_ne!(again.body["id"], id.as_str());
        let done = shop
            .wait_delivery(
                again.body["id"].as_str().unwrap(),
                "succeeded",
                Duration::from_secs(20),
            )
            .await;
        assert_eq!(done["attempts"][0]["status_code"], 204);
        let last = rx.got_on("/hook").pop().unwrap();
        assert_eq!(
            last.event_id(),
            evt.id,
            "the same event id, so the receiver can de-duplicate"
        );
        assert!(last.verifies(&secret));
        let r = shop
            .call(
                "POST",
                "/v1/webhook-deliveries/dlv_00000000000000000000000000000000/redeliver",
                None,
            )
            .await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (404, Some("not_found"))
        );
        rx.stop();
        shop.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn endpoints_crud_test_and_secret_rotation() {
    let Some((shop, _)) = shop(
        Engine::Embedded,
        QueueKind::Table,
        fast_settings(QueueKind::Table),
        true,
    )
    .await
    else {
        return;
    };
    let rx = Receiver::start(vec![], None).await;
    let created = shop
        .call("POST", "/v1/webhook-endpoints", Some(json!({"url": rx.url("/a"), "events": ["invoice.*", "payment.received"], "description": "orders"})))
        .await;
    assert_eq!(created.status, 201, "{created}");
    let id = created.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("whk_"));
    let secret = created.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(
        created.body["events"],
        json!(["invoice.*", "payment.received"])
    );
    assert_eq!(created.body["description"], "orders");
    assert!(created.body["created_at"].is_string());

    // Defaults and validation.
    let r = shop
        .call(
            "POST",
            "/v1/webhook-endpoints",
            Some(json!({"url": rx.url("/b")})),
        )
        .await;
    assert_eq!((r.status, &r.body["events"]), (201, &json!(["*"])));
    let r = shop
        .call(
            "POST",
            "/v1/webhook-endpoints",
            Some(json!({"url": rx.url("/c"), "events": ["invoice.payed"]})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["code"], "validation_error");
    assert!(
        r.body["error"]["details"]["events"][0]
            .as_str()
            .unwrap()
            .contains("invoice.payed"),
        "{r}"
    );
    let r = shop
        .call(
            "POST",
            "/v1/webhook-endpoints",
            Some(json!({"events": ["*"], "secret": "mine"})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["error"]["details"]["url"].is_array()
            && r.body["error"]["details"]["secret"].is_array(),
        "{r}"
    );
    let r = shop
        .call(
            "POST",
            "/v1/webhook-endpoints",
            Some(json!({"url": "ftp://example.com/"})),
        )
        .await;
    assert_eq!(r.status, 400, "{r}");

    // Read: never the secret.
    let list = shop.call("GET", "/v1/webhook-endpoints", None).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
    assert!(list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e.get("secret").is_none()));
    let one = shop
        .call("GET", &format!("/v1/webhook-endpoints/{id}"), None)
        .await;
    assert_eq!(one.status, 200);
    assert!(one.body.get("secret").is_none());
    assert_eq!(one.body["url"], rx.url("/a"));
    let r = shop
        .call(
            "GET",
            "/v1/webhook-endpoints/whk_00000000000000000000000000000000",
            None,
        )
        .await;
    assert_eq!(r.status, 404);

    // Update.
    let r = shop
        .call(
            "PATCH",
            &format!("/v1/webhook-endpoints/{id}"),
            Some(json!({"events": ["*"], "description": null, "url": rx.url("/a2")})),
        )
        .await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.body["events"], json!(["*"]));
    assert_eq!(r.body["description"], Value::Null);
    assert_eq!(r.body["url"], rx.url("/a2"));
    let r = shop
        .call(
            "PATCH",
            &format!("/v1/webhook-endpoints/{id}"),
            Some(json!({"events": ["nope"]})),
        )
        .await;
    assert_eq!(r.status, 400);

    // Test: one signed webhook.test delivery, answered synchronously.
    let d = shop
        .call("POST", &format!("/v1/webhook-endpoints/{id}/test"), None)
        .await;
    assert_eq!(d.status, 200, "{d}");
    assert_eq!(d.body["status"], "succeeded");
    assert_eq!(d.body["event_type"], "webhook.test");
    let got = rx.wait_for("/a2", 1, Duration::from_secs(5)).await;
    assert_eq!(got[0].json()["type"], "webhook.test");
    assert_eq!(got[0].json()["data"]["webhook_endpoint"]["id"], id.as_str());
    assert!(got[0].verifies(&secret));
    assert_eq!(
        shop.deliveries(&id).await[0]["id"],
        d.body["id"],
        "the test is in the delivery log"
    );

    // Rotation: new secret once; the old one keeps signing for a while.
    let rot = shop
        .call(
            "POST",
            &format!("/v1/webhook-endpoints/{id}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(rot.status, 200, "{rot}");
    let new_secret = rot.body["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    assert!(rot.body["previous_secret_expires_at"].is_string());
    shop.call("POST", &format!("/v1/webhook-endpoints/{id}/test"), None)
        .await;
    let got = rx.wait_for("/a2", 2, Duration::from_secs(5)).await;
    assert!(
        got[1].verifies(&new_secret) && got[1].verifies(&secret),
        "both secrets verify during the overlap"
    );
    assert_eq!(
        got[1].header("satsgate-signature").matches("v1=").count(),
        2
    );
    let rot2 = shop
        .call(
            "POST",
            &format!("/v1/webhook-endpoints/{id}/rotate-secret"),
            Some(json!({"previous_secret_expires_in_hours": 0})),
        )
        .await;
    assert_eq!(rot2.status, 200);
    let newest = rot2.body["secret"].as_str().unwrap().to_string();
    shop.call("POST", &format!("/v1/webhook-endpoints/{id}/test"), None)
        .await;
    let got = rx.wait_for("/a2", 3, Duration::from_secs(5)).await;
    assert!(
        got[2].verifies(&newest) && !got[2].verifies(&new_secret),
        "the old secret is dropped at once when asked"
    );

    // A failing test is reported, not retried.
    rx.set_default(Mode::Status(503));
    let d = shop
        .call("POST", &format!("/v1/webhook-endpoints/{id}/test"), None)
        .await;
    assert_eq!((d.status, d.body["status"].as_str()), (200, Some("failed")));
    assert_eq!(d.body["attempts"][0]["status_code"], 503);

    // The built-in invoice_url endpoint.
    let r = shop
        .call("GET", "/v1/webhook-endpoints/invoice_url", None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        (r.body["id"].as_str(), &r.body["url"]),
        (Some("invoice_url"), &Value::Null)
    );
    let r = shop
        .call(
            "PATCH",
            "/v1/webhook-endpoints/invoice_url",
            Some(json!({"url": rx.url("/x")})),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = shop
        .call("DELETE", "/v1/webhook-endpoints/invoice_url", None)
        .await;
    assert_eq!(r.status, 400);
    let r = shop
        .call("POST", "/v1/webhook-endpoints/invoice_url/test", None)
        .await;
    assert_eq!(r.status, 400);

    // Delete.
    let r = shop
        .call("DELETE", &format!("/v1/webhook-endpoints/{id}"), None)
        .await;
    assert_eq!((r.status, &r.body["deleted"]), (200, &json!(true)));
    let r = shop
        .call("GET", &format!("/v1/webhook-endpoints/{id}"), None)
        .await;
    assert_eq!(r.status, 404);
    let r = shop
        .call(
            "GET",
            &format!("/v1/webhook-endpoints/{id}/deliveries"),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    rx.stop();
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_ssrf_guard_refuses_private_addresses_at_create_and_at_send() {
    let Some((shop, _)) = shop(
        Engine::Embedded,
        QueueKind::Table,
        fast_settings(QueueKind::Table),
        false,
    )
    .await
    else {
        return;
    };
    for (url, why) in [
        ("http://10.0.0.1/hook", "https"),
        ("https://10.0.0.1/hook", "private"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://[::1]:8443/hook", "loopback"),
        ("https://[::ffff:192.168.0.1]/hook", "IPv4-mapped private"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://localhost/hook", "localhost"),
        ("https://[fd12::1]/", "private"),
        ("https://224.0.0.1/", "multicast"),
        ("https://0.0.0.0/", "unspecified"),
    ] {
        let r = shop
            .call("POST", "/v1/webhook-endpoints", Some(json!({"url": url})))
            .await;
        assert_eq!(r.status, 400, "{url}: {r}");
        let msg = r.body["error"]["details"]["url"][0]
            .as_str()
            .unwrap_or_default();
        assert!(msg.contains(why), "{url}: {msg}");
    }
    let r = shop
        .call(
            "POST",
            "/v1/webhook-endpoints",
            Some(json!({"url": "https://hooks.example.com/x"})),
        )
        .await;
    assert_eq!(
        r.status, 201,
        "a public https URL is fine (names that do not resolve yet too): {r}"
    );

    // At send time: an invoice webhook_url on loopback is refused, logged, not fetched.
    let rx = Receiver::start(vec![], None).await;
    let url = format!("https://127.0.0.1:{}/inv", rx.addr.port());
    write_event(
        &*shop.app().table,
        &shop.store_id,
        "invoice.created",
        "inv_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b7",
        Some(&url),
    )
    .await;
    let mut first = Value::Null;
    eventually(
        Duration::from_secs(20),
        "a refused attempt is logged",
        || {
            let shop = &shop;
            async move {
                shop.deliveries("invoice_url")
                    .await
                    .first()
                    .is_some_and(|d| !d["attempts"].as_array().unwrap().is_empty())
            }
        },
    )
    .await;
    for d in shop.deliveries("invoice_url").await {
        first = d["attempts"][0].clone();
    }
    assert!(
        first["error"].as_str().unwrap().starts_with("refused"),
        "{first}"
    );
    assert!(
        first["error"].as_str().unwrap().contains("loopback"),
        "{first}"
    );
    assert!(rx.got().is_empty(), "nothing reached the private address");
    rx.stop();
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stopping_before_fan_out_or_dispatch_loses_no_event() {
    let dir = std::env::temp_dir().join(format!(
        "satsgate-webhooks-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let open = |jobs: bool, existing: Option<ShopIds>| {
        let dir = dir.clone();
        async move {
            let t = Arc::new(satsgate::table::sqlite::SqliteTable::open(&dir).unwrap());
            Shop::serve(
                app(t, config(fast_settings(QueueKind::Table), true), None),
                jobs,
                existing,
            )
            .await
        }
    };
    let rx = Receiver::start(vec![], None).await;

    // 1. The state change is committed, then the gateway stops before any fan-out.
    let shop = open(false, None).await;
    let ids = shop.ids();
    let (_, secret) = shop.endpoint(&rx.url("/hook"), json!(["*"])).await;
    let e1 = write_event(
        &*shop.app().table,
        &shop.store_id,
        "invoice.paid",
        "inv_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b8",
        None,
    )
    .await;
    shop.stop().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(rx.got().is_empty());

    // 2. Restarted: e1 is fanned out (delivery and queue message stored), then
    //    e2 is committed, and the gateway stops before dispatching or fanning out.
    let shop = open(false, Some(ids.clone())).await;
    assert_eq!(
        outbox(&*shop.app().table).await,
        vec![e1.id.clone()],
        "e1 survived in the outbox"
    );
    assert_eq!(
        satsgate::webhooks::sweep_outbox(shop.app(), None)
            .await
            .unwrap(),
        1
    );
    let e2 = write_event(
        &*shop.app().table,
        &shop.store_id,
        "invoice.completed",
        "inv_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b8",
        None,
    )
    .await;
    assert_eq!(
        outbox(&*shop.app().table).await,
        vec![e2.id.clone()],
        "e1 left the outbox, e2 is in it"
    );
    shop.stop().await;
    assert!(rx.got().is_empty());

    // 3. A new process on the same data dir delivers both, in order.
    let shop = open(true, Some(ids)).await;
    let got = rx.wait_for("/hook", 2, Duration::from_secs(20)).await;
    assert_eq!(
        got.iter().map(Received::event_id).collect::<Vec<_>>(),
        vec![e1.id.clone(), e2.id.clone()]
    );
    assert!(got.iter().all(|r| r.verifies(&secret)));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.got().len(), 2, "exactly once each");
    assert!(outbox(&*shop.app().table).await.is_empty());
    shop.stop().await;
    rx.stop();
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn enqueue_event_fans_out_one_event_and_is_idempotent() {
    let Some((shop, queue)) = shop(
        Engine::Embedded,
        QueueKind::Table,
        fast_settings(QueueKind::Table),
        true,
    )
    .await
    else {
        return;
    };
    let rx = Receiver::start(vec![], None).await;
    shop.endpoint(&rx.url("/hook"), json!(["invoice.paid"]))
        .await;
    let now = time::OffsetDateTime::now_utc();
    let inv = json!({"invoice": {"id": "inv_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b9", "webhook_url": rx.url("/inv")}});
    let event = satsgate::events::Event::new(
        satsgate::events::EventKind::InvoicePaid,
        &shop.store_id,
        Some("inv_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b9"),
        inv,
        now,
    );
    let app = shop.app();
    assert_eq!(
        satsgate::webhooks::enqueue_event(app, &event)
            .await
            .unwrap(),
        2,
        "the endpoint and the invoice's webhook_url"
    );
    assert_eq!(
        satsgate::webhooks::enqueue_event(app, &event)
            .await
            .unwrap(),
        2
    );
    rx.wait_for("/hook", 1, Duration::from_secs(10)).await;
    rx.wait_for("/inv", 1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        rx.got().len(),
        2,
        "enqueueing the same event twice delivers once per target"
    );
    let other = satsgate::events::Event::new(
        satsgate::events::EventKind::InvoiceCreated,
        &shop.store_id,
        None,
        json!({"invoice": {"id": "inv_x", "webhook_url": null}}),
        now,
    );
    assert_eq!(
        satsgate::webhooks::enqueue_event(app, &other)
            .await
            .unwrap(),
        0,
        "no matching endpoint, no webhook_url"
    );
    let _ = queue;
    rx.stop();
    shop.stop().await;
}
