//! Seed 003 (panel) face: the seed's example requests sent verbatim (base
//! URL, key and ids substituted), on both engines; every documented field
//! and its JSON type, and the documented error bodies.

mod webhook_support;

use satsgate_e2e::{lambda_call, per_engine, Engine, Reply, Shop, BIP84_VPUB};
use serde_json::{json, Value};
use webhook_support::Receiver;

/// A request as the seed's examples send it: Bearer key, JSON content type
/// and accept headers.
async fn seed(shop: &Shop, method: &str, path: &str, key: &str, body: Option<Value>) -> Reply {
    let mut headers = vec![("accept", "application/json")];
    if body.is_none() {
        headers.push(("content-type", "application/json"));
    }
    shop.gw
        .send(
            method,
            path,
            Some(key),
            body.map(|b| b.to_string().into_bytes()),
            &headers,
        )
        .await
}

fn store_body() -> Value {
    json!({"name": "Panel shop", "network": "regtest", "wallet": BIP84_VPUB})
}

async fn panel(engine: Engine) {
    let Some(shop) = Shop::open(engine, store_body()).await else {
        return;
    };
    let account = shop.gw.account_key.clone();
    let r = shop.call("GET", "/v1/stores", None).await;
    let store_id = r.body["items"][0]["id"].as_str().unwrap().to_string();

    // GET /api/v1/stores: the caller's stores (account key: its account's).
    let r = seed(&shop, "GET", "/api/v1/stores", &account, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["success"], true);
    let data = r.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["id"], store_id.as_str());
    assert_eq!(data[0]["name"], "Panel shop");
    let r = seed(&shop, "GET", "/api/v1/stores", &shop.key, None).await;
    assert_eq!(r.body["data"][0]["id"], store_id.as_str());

    // The documented 401, exactly, with its headers.
    let r = seed(&shop, "GET", "/api/v1/stores", "not-a-key", None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["message"], "Unauthenticated. Invalid API Key.");
    assert_eq!(r.header("content-type"), Some("application/json"));
    // (access-control-allow-origin comes with the CORS layer, another branch.)
    let r = shop
        .gw
        .send("GET", "/api/v1/balance-or-summary", None, None, &[])
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["message"], "Unauthenticated. Invalid API Key.");

    // Create Invoice: the seed's body verbatim, with an account key.
    let path = format!("/api/v1/stores/{store_id}/invoices");
    let example = json!({
        "amount": 0.001,
        "currency": "BTC",
        "order_id": "ORD-123",
        "buyer_email": "jdach@example.org"
    });
    let r = seed(&shop, "POST", &path, &account, Some(example.clone())).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["success"], true);
    let inv = &r.body["data"];
    let id = inv["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("inv_"));
    assert!(inv["invoice_number"].is_string());
    assert!(inv["amount"].is_number(), "amount is a number: {inv}");
    assert_eq!(inv["amount"].to_string(), "0.001");
    assert_eq!(inv["currency"], "BTC");
    assert_eq!(inv["status"], "new");
    assert_eq!(inv["order_id"], "ORD-123");
    assert_eq!(inv["buyer_email"], "jdach@example.org");
    let address = inv["address"].as_str().unwrap().to_string();
    // It is the v1 invoice itself.
    let v1 = shop.get(&id).await;
    assert_eq!(v1["amount"], "0.001");
    assert_eq!(v1["crypto_amount_sats"], 100_000);
    assert_eq!(v1["address"], address.as_str());

    // A repeated order id: the v1 rule (409), in the panel's shape.
    let r = seed(&shop, "POST", &path, &account, Some(example.clone())).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("ORD-123"));
    // Validation errors: Laravel's 422 {message, errors}.
    let r = seed(
        &shop,
        "POST",
        &path,
        &account,
        Some(json!({"amount": 0.000000001, "currency": "BTC"})),
    )
    .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert!(r.body["errors"]["amount"][0].is_string());
    assert!(r.body["message"].is_string());

    // The documented 403 on creation: a store this key may not use (another
    // account's, or none at all: the same answer, nothing to probe).
    let other = shop
        .gw
        .call("POST", "/v1/stores", Some(&account), Some(store_body()))
        .await;
    let other_key = other.body["api_key"]["key"].as_str().unwrap().to_string();
    let other_store = other.body["store"]["id"].as_str().unwrap().to_string();
    for (key, sid) in [(&other_key, store_id.as_str()), (&account, "store_nope")] {
        let r = seed(
            &shop,
            "POST",
            &format!("/api/v1/stores/{sid}/invoices"),
            key,
            Some(example.clone()),
        )
        .await;
        assert_eq!(r.status, 403);
        assert_eq!(
            r.body,
            json!({"success": false, "message": "You cannot create an invoice."})
        );
    }

    // Show Invoice, by the account key and by the store key.
    for key in [&account, &shop.key] {
        let r = seed(&shop, "GET", &format!("/api/v1/invoices/{id}"), key, None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["success"], true);
        let d = &r.body["data"];
        assert_eq!(d["id"], id.as_str());
        assert!(d["invoice_number"].is_string());
        assert!(d["amount"].is_number());
        assert_eq!(d["currency"], "BTC");
        assert_eq!(d["status"], "new");
    }
    // The documented 403: another store's key, or an unknown id.
    for (key, inv) in [(&other_key, id.as_str()), (&account, "inv_nope")] {
        let r = seed(&shop, "GET", &format!("/api/v1/invoices/{inv}"), key, None).await;
        assert_eq!(r.status, 403);
        assert_eq!(r.body, json!({"message": "This action is unauthorized."}));
    }

    // Paid in full: the seed's "paid"; confirmed: "confirmed".
    shop.pay(&id, 100_000, false).await;
    for (mine, word) in [(0, "paid"), (1, "confirmed")] {
        if mine > 0 {
            shop.mine(mine).await;
        }
        shop.poll().await;
        let path = format!("/api/v1/invoices/{id}");
        let r = seed(&shop, "GET", &path, &account, None).await;
        assert_eq!(r.body["data"]["status"], word, "{:?}", r.body);
    }

    // A fiat invoice in the other store, then the summary across both.
    let r = seed(
        &shop,
        "POST",
        &format!("/api/v1/stores/{other_store}/invoices"),
        &account,
        Some(json!({"amount": 100, "currency": "USD", "order_id": "ORD-124"})),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["data"]["amount"].to_string(), "100");
    let r = seed(&shop, "GET", "/api/v1/balance-or-summary", &account, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["success"], true);
    let d = &r.body["data"];
    assert_eq!(d["store_count"], 2);
    assert_eq!(d["invoice_count"], 2);
    assert_eq!(d["counts"]["completed"], 1);
    assert_eq!(d["counts"]["new"], 1);
    assert_eq!(d["received_sats"], 100_000);
    assert!(d["received_btc"].is_number());
    assert_eq!(d["received_btc"].to_string(), "0.001");
    // A store key sees its own store only.
    let r = seed(&shop, "GET", "/api/v1/balance-or-summary", &other_key, None).await;
    assert_eq!(
        (
            r.body["data"]["store_count"].clone(),
            r.body["data"]["received_sats"].clone()
        ),
        (json!(1), json!(0))
    );

    // Webhook test: none configured, then one receiver that takes it.
    let hook = format!("/api/v1/stores/{store_id}/webhook-test");
    let r = seed(&shop, "POST", &hook, &account, None).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(r.body["success"], false);
    let receiver = Receiver::start(vec![], None).await;
    let r = shop
        .call(
            "POST",
            "/v1/webhook-endpoints",
            Some(json!({"url": receiver.url("/hook")})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    let r = seed(&shop, "POST", &hook, &account, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["data"]["deliveries"][0]["status"], "succeeded");
    let got = receiver.got_on("/hook");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["type"], "webhook.test");
    assert!(got[0].verifies(&secret));
    let r = seed(&shop, "POST", &hook, &other_key, None).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["message"], "This action is unauthorized.");

    // The same rows as Lambda functions, from their sample events.
    let app = shop.gw.app();
    let subs = [
        ("__ACCOUNT_KEY__", account.as_str()),
        ("__STORE_ID__", store_id.as_str()),
        ("__INVOICE_ID__", id.as_str()),
    ];
    let (s, b) = lambda_call(app, "panel-stores-list", &subs).await;
    assert_eq!(
        (s, b["data"].as_array().map(Vec::len)),
        (200, Some(2)),
        "{b}"
    );
    let (s, b) = lambda_call(app, "panel-invoices-get", &subs).await;
    assert_eq!((s, &b["data"]["status"]), (200, &json!("confirmed")), "{b}");
    let (s, b) = lambda_call(app, "panel-invoices-create", &subs).await;
    assert_eq!(s, 409, "the sample's order id is used already: {b}");
    let (s, b) = lambda_call(app, "panel-summary", &subs).await;
    assert_eq!((s, &b["data"]["invoice_count"]), (200, &json!(2)), "{b}");
    let (s, b) = lambda_call(app, "panel-webhook-test", &subs).await;
    assert_eq!((s, &b["success"]), (200, &json!(true)), "{b}");

    shop.gw.stop().await;
}

per_engine!(panel);
