//! An invoice paid on the sandbox chain, end to end in satsgate-local with
//! its jobs: signed deliveries in event order to a real receiver, both to an
//! endpoint and to the invoice's own webhook_url; and simulate-webhook.

mod webhook_support;

use satsgate_e2e::{per_engine, table, Engine, Shop};
use serde_json::json;
use std::time::Duration;
use webhook_support::{app, config, fast_settings, QueueKind, Receiver};

async fn sandbox_payment_produces_signed_deliveries_in_order(engine: Engine) {
    let Some(t) = table(engine).await else {
        return;
    };
    let a = app(t, config(fast_settings(QueueKind::Table), true), None);
    satsgate::prices::poller::poll_prices(&a).await.unwrap();
    let shop = Shop::serve(a, true, None).await;
    let receiver = Receiver::start(vec![], None).await;

    let endpoint = shop
        .call(
            "POST",
            "/v1/webhook-endpoints",
            Some(json!({"url": receiver.url("/hooks"), "events": ["invoice.*", "payment.*"]})),
        )
        .await;
    assert_eq!(endpoint.status, 201, "{endpoint}");
    let secret = endpoint.body["secret"].as_str().unwrap().to_string();
    let own = shop
        .call(
            "POST",
            "/v1/webhook-endpoints/invoice_url/rotate-secret",
            Some(json!({})),
        )
        .await;
    assert_eq!(own.status, 200, "{own}");
    let own_secret = own.body["secret"].as_str().unwrap().to_string();

    let inv = shop
        .call("POST", "/v1/invoices", Some(json!({"amount": "10.00", "currency": "USD", "webhook_url": receiver.url("/order-42")})))
        .await;
    assert_eq!(inv.status, 201, "{inv}");
    let id = inv.body["id"].as_str().unwrap().to_string();
    let sats = inv.body["crypto_amount_sats"].as_u64().unwrap();
    let r = shop
        .call(
            "POST",
            "/v1/sandbox/payments",
            Some(json!({"invoice_id": id, "amount_sats": sats})),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = shop
        .call("POST", "/v1/sandbox/blocks", Some(json!({"count": 1})))
        .await;
    assert_eq!(r.status, 201);

    let expected = [
        "invoice.created",
        "payment.received",
        "invoice.updated",
        "invoice.paid",
        "payment.confirmed",
        "invoice.updated",
        "invoice.completed",
    ];
    for (path, secret) in [("/hooks", &secret), ("/order-42", &own_secret)] {
        let got = receiver
            .wait_for(path, expected.len(), Duration::from_secs(20))
            .await;
        let types: Vec<String> = got
            .iter()
            .map(|r| r.json()["type"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            types, expected,
            "{path}: every event, in order ({engine:?})"
        );
        for r in &got {
            assert!(
                r.verifies(secret),
                "{path}: signature verifies with the endpoint secret"
            );
            assert_eq!(r.json()["data"]["invoice"]["id"], id.as_str());
            assert_eq!(r.header("idempotency-key"), r.event_id());
        }
        // The log records them all as delivered.
    }
    let log = shop
        .call(
            "GET",
            &format!(
                "/v1/webhook-endpoints/{}/deliveries?limit=100",
                endpoint.body["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    let items = log.body["items"].as_array().unwrap();
    assert_eq!(items.len(), expected.len());
    assert!(items.iter().all(|d| d["status"] == "succeeded"), "{log}");

    // simulate-webhook: a signed event as if the invoice were expired; nothing changes.
    let sim = shop
        .call(
            "POST",
            "/v1/sandbox/simulate-webhook",
            Some(json!({"invoice_id": id, "status": "expired"})),
        )
        .await;
    assert_eq!(sim.status, 200, "{sim}");
    assert_eq!(sim.body["event"]["type"], "invoice.expired");
    assert_eq!(sim.body["deliveries"], 2);
    let got = receiver
        .wait_for("/hooks", expected.len() + 1, Duration::from_secs(20))
        .await;
    let last = got.last().unwrap().json();
    assert_eq!(last["type"], "invoice.expired");
    assert_eq!(last["data"]["simulated"], true);
    assert_eq!(last["data"]["invoice"]["status"], "expired");
    let now = shop.call("GET", &format!("/v1/invoices/{id}"), None).await;
    assert_eq!(
        now.body["status"], "completed",
        "simulation changes nothing"
    );
    let e = shop
        .call(
            "POST",
            "/v1/sandbox/simulate-webhook",
            Some(json!({"invoice_id": id, "status": "paid"})),
        )
        .await;
    assert_eq!(e.status, 400, "{e}");
    receiver.stop();
    shop.stop().await;
}
per_engine!(
    sandbox_payment_produces_signed_deliveries_in_order,
    flavor = "multi_thread",
    worker_threads = 4
);
