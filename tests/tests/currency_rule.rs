//! One currency rule for stores, invoices, quotes and faces: BTC or a fiat
//! of `FIATS`. With `FIATS=USD` a store cannot choose EUR, a store left
//! with EUR (chosen before the gateway dropped it) gets a clear error on
//! invoices relying on it, and a store created without a default gets one
//! the gateway accepts.

use satsgate::app::{App, Config};
use satsgate::clock::SystemClock;
use satsgate::prices::Fiat;
use satsgate_e2e::{per_engine, table, Engine, Gateway, Reply, BIP84_VPUB};
use serde_json::{json, Value};
use std::sync::Arc;

/// A gateway over `table` accepting these fiats, prices polled.
async fn gateway(table: Arc<dyn satsgate::table::Table>, fiats: &[Fiat]) -> Gateway {
    let app = App::new(
        table,
        Arc::new(SystemClock),
        Config {
            allow_insecure_urls: true,
            fiats: fiats.to_vec(),
            ..Config::default()
        },
    );
    satsgate::prices::poller::poll_prices(&app)
        .await
        .expect("sandbox prices");
    Gateway::start_app(app).await
}

fn store(default_currency: Option<&str>) -> Value {
    let mut body = json!({"name": "Rule shop", "network": "regtest", "wallet": BIP84_VPUB});
    if let Some(c) = default_currency {
        body["default_currency"] = json!(c);
    }
    body
}

fn message(r: &Reply) -> &str {
    r.body["error"]["message"].as_str().unwrap_or_default()
}

async fn one_currency_rule(engine: Engine) {
    let Some(t) = table(engine).await else {
        return;
    };
    let usd_only = gateway(t.clone(), &[Fiat::USD]).await;
    let acct = usd_only.account_key.clone();

    // Stores: EUR is refused on create and on update, in any case.
    let r = usd_only
        .call("POST", "/v1/stores", Some(&acct), Some(store(Some("EUR"))))
        .await;
    r.assert_refused("default_currency", "EUR with FIATS=USD");
    assert!(message(&r).contains("supported: BTC, USD"), "{:?}", r.body);
    let r = usd_only
        .call("POST", "/v1/stores", Some(&acct), Some(store(None)))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["store"]["default_currency"], "USD");
    let id = r.body["store"]["id"].as_str().unwrap().to_string();
    let r = usd_only
        .call(
            "PATCH",
            &format!("/v1/stores/{id}"),
            Some(&acct),
            Some(json!({"default_currency": "eur"})),
        )
        .await;
    r.assert_refused("default_currency", "update to EUR with FIATS=USD");
    let r = usd_only
        .call(
            "PATCH",
            &format!("/v1/stores/{id}"),
            Some(&acct),
            Some(json!({"default_currency": "btc"})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["default_currency"], "BTC");

    // A store that chose EUR while the gateway accepted it...
    let all = gateway(t.clone(), &Fiat::defaults()).await;
    let (_, eur_key) = all.store(store(Some("EUR"))).await;
    all.stop().await;

    // ...is told why an invoice relying on its default is refused, and can
    // still price in an accepted currency.
    let r = usd_only
        .call(
            "POST",
            "/v1/invoices",
            Some(&eur_key),
            Some(json!({"amount": "10"})),
        )
        .await;
    r.assert_refused("currency", "invoice in the store's EUR default");
    assert!(message(&r).contains("default currency"), "{:?}", r.body);
    for (body, field) in [
        (json!({"amount": "10", "currency": "EUR"}), "currency"),
        (
            json!({"order_id": "old", "amount": "10", "currency": "EUR", "created_at": "2024-01-01"}),
            "currency",
        ),
    ] {
        let path = if body.get("order_id").is_some() {
            "/v1/invoices/archived"
        } else {
            "/v1/invoices"
        };
        let r = usd_only
            .call("POST", path, Some(&eur_key), Some(body.clone()))
            .await;
        r.assert_refused(field, &format!("{path} {body}"));
    }
    let r = usd_only
        .call(
            "POST",
            "/v1/quotes",
            Some(&eur_key),
            Some(json!({"amount": "10", "currency": "EUR"})),
        )
        .await;
    r.assert_refused("currency", "quote in EUR with FIATS=USD");
    let r = usd_only
        .call(
            "POST",
            "/v1/invoices",
            Some(&eur_key),
            Some(json!({"amount": "10", "currency": "USD"})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["currency"], "USD");
    usd_only.stop().await;

    // Without USD, a store left without a default gets the first fiat.
    let eur_only = gateway(t, &[Fiat::EUR]).await;
    let r = eur_only
        .call(
            "POST",
            "/v1/stores",
            Some(&eur_only.account_key.clone()),
            Some(store(None)),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["store"]["default_currency"], "EUR");
    let key = r.body["api_key"]["key"].as_str().unwrap().to_string();
    let r = eur_only
        .call(
            "POST",
            "/v1/invoices",
            Some(&key),
            Some(json!({"amount": "5"})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["currency"], "EUR");
    eur_only.stop().await;
}

per_engine!(one_currency_rule);
