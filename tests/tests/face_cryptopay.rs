//! Seed 004 (CryptoPay) face: the seed's example requests sent verbatim
//! (base URL, key and ids substituted), on both engines; the envelope, the
//! error body, pagination, payment orders with nonces, transactions,
//! merchant wallets, webhook endpoints and the UNSUPPORTED refusals.

use satsgate_e2e::{lambda_call, per_engine, Engine, Gateway, Reply, Shop, BIP84_TPUB, BIP84_VPUB};
use serde_json::{json, Value};

/// A call with the login token.
async fn cp(gw: &Gateway, token: &str, method: &str, path: &str, body: Value) -> Reply {
    gw.call(method, path, Some(token), Some(body)).await
}

/// `POST /api/payment-orders/` with the login token.
async fn new_order(gw: &Gateway, token: &str, body: Value) -> Reply {
    cp(gw, token, "POST", "/api/payment-orders/", body).await
}

/// `GET` with the login token.
async fn get(gw: &Gateway, token: &str, path: &str) -> Reply {
    gw.call("GET", path, Some(token), None).await
}

/// The success envelope: `{success: true, data, message, timestamp}`.
fn data(r: &Reply, status: u16) -> Value {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.body["success"], true, "{:?}", r.body);
    assert!(r.body["message"].is_string(), "{:?}", r.body);
    let ts = r.body["timestamp"].as_str().expect("timestamp");
    assert!(satsgate::clock::parse_rfc3339(ts).is_ok(), "{ts}");
    r.body["data"].clone()
}

/// The error body: `{success: false, error: {code, message, details}, timestamp}`.
fn error(r: &Reply, status: u16, code: &str) -> Value {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.body["success"], false, "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], code, "{:?}", r.body);
    assert!(r.body["error"]["message"].is_string());
    assert!(r.body["error"]["details"].is_object());
    assert!(r.body["timestamp"].is_string());
    r.body["error"]["details"].clone()
}

/// The seed's list shape.
fn page(r: &Reply) -> Value {
    let d = data(r, 200);
    assert!(d["count"].is_u64(), "{d}");
    assert!(d["results"].is_array(), "{d}");
    assert!(d["next"].is_string() || d["next"].is_null());
    assert!(d["previous"].is_string() || d["previous"].is_null());
    d
}

async fn cryptopay(engine: Engine) {
    let Some(shop) = Shop::open(
        engine,
        json!({"name": "CryptoPay shop", "network": "regtest", "wallet": BIP84_VPUB}),
    )
    .await
    else {
        return;
    };
    let gw = &shop.gw;

    // Login, verbatim: POST /api/auth/login {"username", "password"}.
    let seed_user = |path: &'static str, key: Option<String>, password: &'static str| {
        let body = json!({"username": "your-username", "password": password});
        async move { gw.call("POST", path, key.as_deref(), Some(body)).await }
    };
    let r = seed_user("/v1/users", Some(gw.account_key.clone()), "your-password").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = seed_user("/api/auth/login", None, "your-password").await;
    let token = data(&r, 200)["token"].as_str().unwrap().to_string();
    let r = seed_user("/api/auth/login", None, "wrong-password").await;
    error(&r, 401, "UNAUTHORIZED");
    // Without a key, and a validation error, in the seed's error shape.
    let r = gw.call("GET", "/api/payment-orders/", None, None).await;
    error(&r, 401, "UNAUTHORIZED");

    // The token is a Bearer key: the account's merchant wallets (stores).
    let r = get(gw, &token, "/api/merchant-wallets/").await;
    let d = page(&r);
    assert_eq!(d["count"], 1);
    let wallet = &d["results"][0];
    assert_eq!(wallet["blockchain"], "bitcoin");
    let store_id = wallet["id"].as_str().unwrap().to_string();
    assert!(
        wallet["address"].as_str().unwrap().contains("vpub")
            || wallet["address"].as_str().unwrap().starts_with("wpkh(")
    );
    // Rate limit headers on every authenticated answer.
    for h in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        assert!(r.header(h).is_some(), "{h}");
    }

    // The seed's JavaScript example verbatim: USDC on Base is UNSUPPORTED.
    let nonce = 1_732_900_000_123u64;
    let example = json!({
        "amount": "100.00",
        "currency": "USDC",
        "blockchain": "base",
        "order_info": json!({"product": "Premium Plan"}).to_string(),
        "nonce": nonce
    });
    let r = new_order(gw, &token, example.clone()).await;
    let details = error(&r, 400, "UNSUPPORTED");
    assert!(details["blockchain"][0].as_str().unwrap().contains("base"));
    let mut usdc_on_bitcoin = example.clone();
    usdc_on_bitcoin["blockchain"] = json!("bitcoin");
    let r = new_order(gw, &token, usdc_on_bitcoin).await;
    let details = error(&r, 400, "UNSUPPORTED");
    assert!(details["currency"][0].as_str().unwrap().contains("USDC"));

    // The same order in USD on bitcoin: created.
    let mut order = example.clone();
    order["currency"] = json!("USD");
    order["blockchain"] = json!("bitcoin");
    let r = new_order(gw, &token, order.clone()).await;
    let o = data(&r, 201);
    let order_id = o["id"].as_str().unwrap().to_string();
    assert_eq!(o["amount"], "100.00");
    assert_eq!(o["currency"], "USD");
    assert_eq!(o["blockchain"], "bitcoin");
    assert_eq!(
        o["order_info"],
        json!({"product": "Premium Plan"}).to_string()
    );
    assert_eq!(o["nonce"], nonce);
    assert_eq!(o["status"], "pending");
    assert_eq!(o["merchant_wallet"], store_id.as_str());
    assert!(o["payment_address"].as_str().unwrap().starts_with("bcrt1"));
    let sats = o["crypto_amount_sats"].as_u64().unwrap();
    // It is the v1 invoice.
    assert_eq!(shop.get(&order_id).await["amount"], "100.00");
    // A repeated nonce is refused.
    let r = new_order(gw, &token, order.clone()).await;
    let details = error(&r, 409, "DUPLICATE_NONCE");
    assert!(details["nonce"][0].is_string());
    // Validation errors list every bad field.
    let r = new_order(
        gw,
        &token,
        json!({"amount": "abc", "currency": "USD", "nonce": [1]}),
    )
    .await;
    let details = error(&r, 400, "VALIDATION_ERROR");
    assert!(
        details["amount"][0].is_string() && details["nonce"][0].is_string(),
        "{details}"
    );

    let r = get(gw, &token, &format!("/api/payment-orders/{order_id}/")).await;
    assert_eq!(data(&r, 200)["id"], order_id.as_str());
    let r = get(gw, &token, "/api/payment-orders/inv_nope/").await;
    error(&r, 404, "NOT_FOUND");

    // Pagination, verbatim: GET /api/payment-orders/?page=2&page_size=50.
    for n in 0..51u64 {
        let r = gw
            .call(
                "POST",
                "/api/payment-orders/",
                Some(&shop.key),
                Some(json!({"amount": "0.0001", "currency": "BTC", "nonce": n})),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    let r = get(gw, &token, "/api/payment-orders/?page=2&page_size=50").await;
    let d = page(&r);
    assert_eq!(d["count"], 52);
    assert_eq!(d["results"].as_array().unwrap().len(), 2);
    assert_eq!(d["next"], Value::Null);
    assert_eq!(d["previous"], "/api/payment-orders/?page=1&page_size=50");
    // Oldest last: the first order is the last result.
    assert_eq!(d["results"][1]["id"], order_id.as_str());
    let r = get(gw, &token, "/api/payment-orders/?page=1&page_size=50").await;
    assert_eq!(page(&r)["next"], "/api/payment-orders/?page=2&page_size=50");
    let r = get(gw, &token, "/api/payment-orders/?page=0").await;
    error(&r, 400, "VALIDATION_ERROR");

    // Transactions: the order paid on the sandbox chain.
    let paid = shop.pay(&order_id, sats, false).await;
    let txid = paid["txid"].as_str().unwrap().to_string();
    shop.mine(1).await;
    shop.poll().await;
    let r = get(gw, &token, "/api/transactions/").await;
    let d = page(&r);
    assert_eq!(d["count"], 1);
    let t = &d["results"][0];
    assert_eq!(t["hash"], txid.as_str());
    assert_eq!(t["blockchain"], "bitcoin");
    assert_eq!(t["payment_order_id"], order_id.as_str());
    assert_eq!(t["amount_sats"], sats);
    assert_eq!(t["confirmations"], 1);
    let r = get(gw, &token, &format!("/api/transactions/{txid}/")).await;
    assert_eq!(data(&r, 200)["hash"], txid.as_str());
    let r = get(
        gw,
        &token,
        &format!("/api/transactions/{}/", "00".repeat(32)),
    )
    .await;
    error(&r, 404, "NOT_FOUND");
    let r = get(gw, &token, &format!("/api/payment-orders/{order_id}/")).await;
    let o = data(&r, 200);
    assert_eq!(o["status"], "completed");
    assert_eq!(o["transactions"][0], txid.as_str());

    // Merchant wallets: add one, refuse another chain, rename, bad xpub.
    let r = cp(gw, &token, "POST", "/api/merchant-wallets/", json!({"blockchain": "bitcoin", "network": "regtest", "address": BIP84_TPUB, "label": "Second"})).await;
    let w = data(&r, 201);
    let second = w["id"].as_str().unwrap().to_string();
    assert_eq!(w["label"], "Second");
    assert!(w["api_key"]["key"].is_string());
    let second_path = format!("/api/merchant-wallets/{second}/");
    let r = cp(
        gw,
        &token,
        "POST",
        "/api/merchant-wallets/",
        json!({"blockchain": "base", "address": "0xabc"}),
    )
    .await;
    error(&r, 400, "UNSUPPORTED");
    let r = gw
        .call(
            "POST",
            "/api/merchant-wallets/",
            Some(&shop.key),
            Some(json!({"blockchain": "bitcoin", "address": BIP84_TPUB})),
        )
        .await;
    error(&r, 403, "FORBIDDEN");
    let r = cp(gw, &token, "PUT", &second_path, json!({"label": "Renamed"})).await;
    assert_eq!(data(&r, 200)["label"], "Renamed");
    let r = cp(
        gw,
        &token,
        "PUT",
        &second_path,
        json!({"address": "xprv-nonsense"}),
    )
    .await;
    let details = error(&r, 400, "VALIDATION_ERROR");
    assert!(details["address"][0].is_string(), "{details}");
    // With two wallets, an account-wide order must name one.
    let r = new_order(
        gw,
        &token,
        json!({"amount": "5", "currency": "USD", "nonce": 99}),
    )
    .await;
    let details = error(&r, 400, "VALIDATION_ERROR");
    assert!(details["merchant_wallet"][0].is_string());
    let r = new_order(
        gw,
        &token,
        json!({"amount": "5", "currency": "USD", "nonce": 99, "merchant_wallet": second}),
    )
    .await;
    assert_eq!(data(&r, 201)["merchant_wallet"], second.as_str());

    // Webhook endpoints: create (store named), list, update.
    let r = cp(
        gw,
        &token,
        "POST",
        &format!("/api/webhook-endpoints/?merchant_wallet={store_id}"),
        json!({"url": "http://127.0.0.1:9/hook", "events": ["invoice.completed"]}),
    )
    .await;
    let e = data(&r, 201);
    let hook = e["id"].as_str().unwrap().to_string();
    let hook_path = format!("/api/webhook-endpoints/{hook}/");
    assert!(e["secret"].is_string());
    let r = get(gw, &token, "/api/webhook-endpoints/").await;
    let d = page(&r);
    assert_eq!(d["count"], 1);
    assert_eq!(d["results"][0]["merchant_wallet"], store_id.as_str());
    assert!(d["results"][0].get("secret").is_none());
    let r = cp(
        gw,
        &token,
        "PUT",
        &hook_path,
        json!({"description": "orders"}),
    )
    .await;
    assert_eq!(data(&r, 200)["description"], "orders");
    let r = cp(gw, &token, "PUT", &hook_path, json!({"url": "ftp://x"})).await;
    error(&r, 400, "VALIDATION_ERROR");
    let r = cp(
        gw,
        &token,
        "PUT",
        "/api/webhook-endpoints/whk_nope/",
        json!({}),
    )
    .await;
    error(&r, 404, "NOT_FOUND");

    // The same rows as Lambda functions, from their sample events.
    let app = gw.app();
    let subs = [
        ("__ACCOUNT_KEY__", token.as_str()),
        ("__INVOICE_ID__", order_id.as_str()),
        ("__TXID__", txid.as_str()),
        ("__STORE_ID__", second.as_str()),
        ("__WEBHOOK_ID__", hook.as_str()),
        ("__WALLET__", BIP84_TPUB),
    ];
    for (f, status) in [
        ("cryptopay-orders-list", 200),
        ("cryptopay-orders-get", 200),
        ("cryptopay-transactions-list", 200),
        ("cryptopay-transactions-get", 200),
        ("cryptopay-wallets-list", 200),
        ("cryptopay-wallets-update", 200),
        ("cryptopay-wallets-create", 201),
        ("cryptopay-webhooks-list", 200),
        ("cryptopay-webhooks-update", 200),
        // Three wallets now: the sample order names none.
        ("cryptopay-orders-create", 400),
        // The sample's https URL does not resolve here.
        ("cryptopay-webhooks-create", 400),
        // The sample's user does not exist.
        ("cryptopay-login", 401),
    ] {
        let (s, b) = lambda_call(app, f, &subs).await;
        assert_eq!(s, status, "{f}: {b}");
        assert!(b["timestamp"].is_string(), "{f}: {b}");
    }
    shop.gw.stop().await;
}

per_engine!(cryptopay);
