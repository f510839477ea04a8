//! Money over HTTP: amounts are refused rather than rounded, an invoice made
//! from a quote asks for the quote's total and honours `accept_zero_conf`,
//! and `payment.confirmed` waits for the speed policy (issue 8, items 2-4).

use satsgate_e2e::{per_engine, Engine, Shop, BIP84_VPUB};
use serde_json::{json, Value};

fn regtest_store() -> Value {
    json!({"name": "Money shop", "network": "regtest", "wallet": BIP84_VPUB})
}

/// `r` is a 400 `validation_error` whose details name `field`.
fn assert_refused(r: &satsgate_e2e::Reply, field: &str, what: &str) {
    r.assert_refused(field, what);
}

#[tokio::test]
async fn amounts_are_refused_not_rounded() {
    let shop = Shop::open(Engine::Embedded, regtest_store()).await.unwrap();
    let over_precise_btc = "0.000010000000000000000000000009";
    let huge_btc = "99999999.999999999999999999999999";
    let over_precise_usd = "10.0000000000000000000000000001";
    let trillion: Value = serde_json::from_str("1000000000000").unwrap();
    for (amount, currency) in [
        (json!(over_precise_btc), "BTC"),
        (json!(huge_btc), "BTC"),
        (json!("1000000000000"), "BTC"),
        (trillion.clone(), "BTC"),
        (json!("21000000.00000001"), "BTC"),
        (json!("0.000000001"), "BTC"),
        (json!("0"), "BTC"),
        (json!("-0.001"), "BTC"),
        (json!(over_precise_usd), "USD"),
        (serde_json::from_str(over_precise_usd).unwrap(), "USD"),
        (json!("10.001"), "USD"),
        (json!("1500.5"), "JPY"),
    ] {
        let body = json!({"amount": amount, "currency": currency});
        let r = shop.call("POST", "/v1/invoices", Some(body.clone())).await;
        assert_refused(&r, "amount", &format!("invoice {body}"));
    }
    // Trailing zeros are not extra precision; the stored amount keeps the
    // currency's decimals.
    let inv = shop
        .invoice(json!({"amount": "10.000", "currency": "USD"}))
        .await;
    assert_eq!(inv["amount"], "10.00");
    let inv = shop
        .invoice(json!({"amount": "1500", "currency": "JPY"}))
        .await;
    assert_eq!(inv["amount"], "1500");

    // Archived imports.
    let import = |amount: Value, currency: &str, extra: Value| {
        let mut body = json!({"order_id": format!("old-{amount}-{currency}"), "amount": amount,
            "currency": currency, "created_at": "2024-01-01"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    for (body, field) in [
        (import(json!("0"), "BTC", json!({})), "amount"),
        (import(json!("0"), "USD", json!({})), "amount"),
        (import(json!("-5"), "USD", json!({})), "amount"),
        (import(json!(over_precise_btc), "BTC", json!({})), "amount"),
        (import(json!("0.000000001"), "BTC", json!({})), "amount"),
        (import(json!("10.001"), "USD", json!({})), "amount"),
        (
            import(json!("10"), "USD", json!({"crypto_amount": "0"})),
            "crypto_amount",
        ),
        (
            import(json!("10"), "USD", json!({"crypto_amount": huge_btc})),
            "crypto_amount",
        ),
    ] {
        let r = shop
            .call("POST", "/v1/invoices/archived", Some(body.clone()))
            .await;
        assert_refused(&r, field, &format!("import {body}"));
    }
    let r = shop
        .call(
            "POST",
            "/v1/invoices/archived",
            Some(import(json!("0.001"), "BTC", json!({}))),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["crypto_amount_sats"], 100_000);

    // Quotes.
    for amount in [json!(over_precise_usd), json!("0"), json!("10.001")] {
        let body = json!({"amount": amount, "currency": "USD"});
        let r = shop.call("POST", "/v1/quotes", Some(body.clone())).await;
        assert_refused(&r, "amount", &format!("quote {body}"));
    }

    // Conversions, both directions.
    for query in [
        format!("from=BTC&to=USD&amount={over_precise_btc}"),
        format!("from=BTC&to=USD&amount={huge_btc}"),
        format!("from=USD&to=BTC&amount={over_precise_usd}"),
        "from=USD&to=BTC&amount=10.001".to_string(),
        "from=JPY&to=BTC&amount=0.5".to_string(),
        "from=USD&to=BTC&amount=0".to_string(),
    ] {
        let r = shop
            .public("GET", &format!("/v1/convert?{query}"), None)
            .await;
        assert_refused(&r, "amount", &query);
    }
    shop.gw.stop().await;
}

fn count(types: &[String], kind: &str) -> usize {
    types.iter().filter(|t| *t == kind).count()
}

/// Items 2 and 4 on each engine, one shop per engine.
async fn settlement_rules(engine: Engine) {
    let Some(shop) = Shop::open(engine, regtest_store()).await else {
        return;
    };
    invoice_from_a_quote_asks_for_the_total_and_settles_on_zero_conf(&shop).await;
    payment_confirmed_waits_for_the_speed_policy(&shop).await;
    shop.gw.stop().await;
}
per_engine!(
    settlement_rules,
    flavor = "multi_thread",
    worker_threads = 4
);

async fn invoice_from_a_quote_asks_for_the_total_and_settles_on_zero_conf(shop: &Shop) {
    let quote = |accept: bool| async move {
        let body = json!({"amount": "10", "currency": "USD", "accept_zero_conf": accept});
        let r = shop.call("POST", "/v1/quotes", Some(body)).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body
    };
    let from_quote = |q: Value| async move { shop.invoice(json!({"quote_id": q["id"]})).await };

    // Zero-conf quote: the invoice asks for amount + network fee, and a
    // non-RBF payment of that total settles it unconfirmed.
    let q = quote(true).await;
    let total = q["total_crypto_amount_sats"].as_u64().unwrap();
    let fee = q["network_fee_sats"].as_u64().unwrap();
    assert!(fee > 0, "{q}");
    let inv = from_quote(q.clone()).await;
    assert_eq!(inv["crypto_amount_sats"], total, "{inv}");
    assert_eq!(inv["crypto_amount"], q["total_crypto_amount"]);
    assert_eq!(inv["speed_policy"], "zero_conf");
    let id = inv["id"].as_str().unwrap();
    // The quote's crypto amount alone (without the fee) is not enough.
    shop.pay(id, total - fee, false).await;
    assert_eq!(shop.get(id).await["status"], "paid_partial");
    shop.pay(id, fee, false).await;
    assert_eq!(
        shop.get(id).await["status"],
        "completed",
        "zero-conf accepted"
    );
    let types = shop.event_types(id).await;
    assert_eq!(count(&types, "payment.confirmed"), 2, "{types:?}");

    // An RBF payment waits for a block even on a zero-conf quote.
    let inv = from_quote(quote(true).await).await;
    let id = inv["id"].as_str().unwrap();
    shop.pay(id, inv["crypto_amount_sats"].as_u64().unwrap(), true)
        .await;
    assert_eq!(shop.get(id).await["status"], "pending");
    assert_eq!(count(&shop.event_types(id).await, "payment.confirmed"), 0);
    shop.mine(1).await;
    assert_eq!(shop.get(id).await["status"], "completed");

    // Without accept_zero_conf: the store's policy (one_conf).
    let inv = from_quote(quote(false).await).await;
    assert_eq!(inv["speed_policy"], "one_conf");
    let id = inv["id"].as_str().unwrap();
    shop.pay(id, inv["crypto_amount_sats"].as_u64().unwrap(), false)
        .await;
    assert_eq!(shop.get(id).await["status"], "pending");
}

async fn payment_confirmed_waits_for_the_speed_policy(shop: &Shop) {
    // A confirmed partial payment is not `payment.confirmed`.
    let inv = shop
        .invoice(json!({"amount": "0.001", "currency": "BTC", "speed_policy": "two_conf"}))
        .await;
    let id = inv["id"].as_str().unwrap();
    shop.pay(id, 40_000, false).await;
    shop.mine(2).await;
    let types = shop.event_types(id).await;
    assert_eq!(count(&types, "payment.confirmed"), 0, "{types:?}");
    // The rest: at its first confirmation (of two) still nothing.
    shop.pay(id, 60_000, false).await;
    shop.mine(1).await;
    let types = shop.event_types(id).await;
    assert_eq!(
        count(&types, "payment.confirmed"),
        1,
        "the partial one, with 3 confirmations, now counts: {types:?}"
    );
    assert_eq!(shop.get(id).await["status"], "pending");
    shop.mine(1).await;
    let types = shop.event_types(id).await;
    assert_eq!(count(&types, "payment.confirmed"), 2, "{types:?}");
    assert_eq!(shop.get(id).await["status"], "completed");
    // More blocks: exactly once per payment.
    shop.mine(3).await;
    let types = shop.event_types(id).await;
    assert_eq!(count(&types, "payment.confirmed"), 2, "{types:?}");
}
