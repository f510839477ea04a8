//! Prices, rates, conversion and quotes over real HTTP, on both engines:
//! the poller against local stand-ins for three exchanges, staleness with a
//! manual clock, quotes that expire and are used once, and the Lambda
//! sample events of these functions.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use satsgate::app::{App, Config};
use satsgate::clock::{Clock, ManualClock};
use satsgate::prices::poller::poll_prices;
use satsgate::prices::quotes::{quote_for_invoice, QUOTE_VALID_SECS};
use satsgate::prices::{Bitstamp, Coinbase, Fiat, Kraken, PriceFeed};
use satsgate_e2e::{lambda_call, lambda_event, per_engine, table, Engine, Gateway, BIP84_VPUB};
use serde_json::{json, Value};
use std::sync::Arc;

fn config(fiats: &[Fiat], min_sources: usize) -> Config {
    Config {
        allow_insecure_urls: true,
        fiats: fiats.to_vec(),
        price_min_sources: min_sources,
        ..Config::default()
    }
}

/// A gateway on `engine` with this clock, config and (or the sandbox) feeds.
async fn start(
    engine: Engine,
    clock: &ManualClock,
    config: Config,
    feeds: Option<Vec<Arc<dyn PriceFeed>>>,
) -> Option<Gateway> {
    let table = table(engine).await?;
    let mut app = App::new(table, Arc::new(clock.clone()), config);
    if let Some(feeds) = feeds {
        app = app.with_price_feeds(feeds);
    }
    let app = Arc::new(app);
    let (_, _, account_key) = satsgate::account::create_account(&*app.table, "Prices", app.now())
        .await
        .expect("account");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let running = satsgate_local::start(app, listener).await.expect("start");
    eprintln!("engine: {engine:?}");
    Some(Gateway {
        running,
        account_key,
        http: reqwest::Client::new(),
    })
}

fn now_clock() -> ManualClock {
    ManualClock::new(satsgate::clock::SystemClock.now())
}

async fn poll(gw: &Gateway) {
    poll_prices(&gw.running.app).await.expect("poll prices");
}

/// A regtest store; returns its id and store key.
async fn store(gw: &Gateway) -> (String, String) {
    let body = json!({"name": "Shop", "network": "regtest", "wallet": BIP84_VPUB});
    let r = gw
        .call("POST", "/v1/stores", Some(&gw.account_key), Some(body))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    (
        r.body["store"]["id"].as_str().unwrap().to_string(),
        r.body["api_key"]["key"].as_str().unwrap().to_string(),
    )
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind exchange");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// Coinbase answering 500, Kraken and Bitstamp answering USD and EUR.
async fn exchanges() -> Vec<Arc<dyn PriceFeed>> {
    let coinbase = serve(
        Router::new()
            .fallback(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error") }),
    )
    .await;
    let kraken = serve(Router::new().route(
        "/0/public/Ticker",
        get(|| async {
            Json(json!({"error": [], "result": {
                "XXBTZUSD": {"a": ["64130.0", "1", "1.000"], "c": ["64123.45", "0.0011"]},
                "XXBTZEUR": {"a": ["59010.0", "1", "1.000"], "c": ["59000.01", "0.0011"]}
            }}))
        }),
    ))
    .await;
    let bitstamp = serve(Router::new().route(
        "/api/v2/ticker/{pair}/",
        get(|Path(pair): Path<String>| async move {
            let last = if pair == "btcusd" {
                "64125.56"
            } else {
                "59000.02"
            };
            Json(json!({"timestamp": "1700000000", "last": last, "bid": "1", "ask": "2"}))
        }),
    ))
    .await;
    let client = reqwest::Client::new();
    vec![
        Arc::new(Coinbase::new(client.clone(), coinbase)),
        Arc::new(Kraken::new(client.clone(), kraken)),
        Arc::new(Bitstamp::new(client, bitstamp)),
    ]
}

async fn median_of_three_exchanges_with_one_failing_is_exact(engine: Engine) {
    let clock = now_clock();
    let Some(gw) = start(
        engine,
        &clock,
        config(&[Fiat::USD, Fiat::EUR], 2),
        Some(exchanges().await),
    )
    .await
    else {
        return;
    };
    let report = poll_prices(&gw.running.app).await.expect("poll");
    assert_eq!(report.failed_sources.len(), 1);
    assert_eq!(report.failed_sources[0].0, "coinbase");
    assert_eq!(report.updated.len(), 2);

    let r = gw.call("GET", "/v1/prices", None, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let usd = &r.body["prices"][0];
    assert_eq!(usd["base"], "USD");
    assert_eq!(
        usd["value"], "64124.505",
        "(64123.45 + 64125.56) / 2 to the last digit"
    );
    assert_eq!(usd["source"], "median of kraken, bitstamp");
    assert_eq!(r.body["prices"][1]["value"], "59000.015");

    let r = gw.call("GET", "/v1/rates", None, None).await;
    assert_eq!(
        r.body["rates"],
        json!({"USD": "64124.505", "EUR": "59000.015"})
    );

    // 1 BTC -> USD is exact at that odd price; USD -> BTC takes cents
    // only (never rounded silently) and rounds up to the satoshi.
    let r = gw
        .call("GET", "/v1/convert?from=BTC&to=USD&amount=1", None, None)
        .await;
    assert_eq!(r.body["base_value"], "64124.505");
    let r = gw
        .call(
            "GET",
            "/v1/convert?from=USD&to=BTC&amount=64124.505",
            None,
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "validation_error"),
        "{:?}",
        r.body
    );
    let r = gw
        .call(
            "GET",
            "/v1/convert?from=USD&to=BTC&amount=64124.51",
            None,
            None,
        )
        .await;
    assert_eq!(r.body["base_value"], "1.00000008", "{:?}", r.body);
    gw.stop().await;
}
per_engine!(median_of_three_exchanges_with_one_failing_is_exact);

async fn public_price_endpoints_before_and_after_the_first_poll(engine: Engine) {
    let clock = now_clock();
    let Some(gw) = start(engine, &clock, config(&Fiat::defaults(), 1), None).await else {
        return;
    };
    for path in [
        "/v1/prices",
        "/v1/rates",
        "/v1/convert?from=BTC&to=USD&amount=1",
    ] {
        let r = gw.call("GET", path, None, None).await;
        assert_eq!(
            (r.status, r.code()),
            (503, "rate_unavailable"),
            "{path}: {:?}",
            r.body
        );
        assert!(r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the price poller has not run"));
    }
    poll(&gw).await;
    let at = satsgate::clock::rfc3339(clock.now());

    let r = gw.call("GET", "/v1/prices", None, None).await;
    assert_eq!(r.status, 200);
    let prices = r.body["prices"].as_array().unwrap();
    assert_eq!(prices.len(), 7);
    assert_eq!(
        prices[0],
        json!({"currency": "BTC", "base": "USD", "value": "65000.00", "updated_at": at, "source": "sandbox"})
    );
    assert_eq!(prices[3]["base"], "JPY");
    assert_eq!(prices[3]["value"], "9750000");

    let r = gw.call("GET", "/v1/rates", None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["base"], "BTC");
    assert_eq!(r.body["updated_at"], at.as_str());
    assert_eq!(r.body["rates"]["USD"], "65000.00");
    assert_eq!(r.body["rates"]["EUR"], "60000.00");
    assert_eq!(r.body["rates"].as_object().unwrap().len(), 7);

    let r = gw.call("GET", "/v1/currencies", None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["crypto"],
        json!([{"code": "BTC", "name": "Bitcoin", "decimals": 8, "networks": ["regtest"]}])
    );
    let fiat = r.body["fiat"].as_array().unwrap();
    assert_eq!(fiat.len(), 7);
    assert_eq!(
        fiat[0],
        json!({"code": "USD", "name": "US Dollar", "decimals": 2})
    );
    assert_eq!(
        fiat[3],
        json!({"code": "JPY", "name": "Japanese Yen", "decimals": 0})
    );

    // Public: a key is not needed, and unknown parameters are named.
    let r = gw.call("GET", "/v1/prices?currency=USD", None, None).await;
    assert_eq!((r.status, r.code()), (400, "validation_error"));
    assert_eq!(
        r.body["error"]["details"]["currency"][0],
        "unknown query parameter"
    );
    gw.stop().await;
}
per_engine!(public_price_endpoints_before_and_after_the_first_poll);

async fn convert_both_directions_and_errors(engine: Engine) {
    let clock = now_clock();
    let Some(gw) = start(engine, &clock, config(&Fiat::defaults(), 1), None).await else {
        return;
    };
    poll(&gw).await;
    let at = satsgate::clock::rfc3339(clock.now());

    let r = gw
        .call("GET", "/v1/convert?from=BTC&to=USD&amount=1", None, None)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"quote_currency": "BTC", "base_currency": "USD", "quote_value": "1.00000000",
               "base_value": "65000.00", "quote_value_sats": 100_000_000u64, "rate": "65000.00", "timestamp": at})
    );
    // Fiat -> BTC rounds up to the satoshi: 10 EUR at 60000 is 16666.67 sats.
    let r = gw
        .call("GET", "/v1/convert?from=eur&to=btc&amount=10", None, None)
        .await;
    assert_eq!(
        (
            r.body["base_value"].as_str(),
            r.body["base_value_sats"].as_u64()
        ),
        (Some("0.00016667"), Some(16667))
    );
    assert_eq!(r.body["quote_value"], "10.00");
    // And back: within one satoshi's rounding of the start.
    let r = gw
        .call(
            "GET",
            "/v1/convert?from=BTC&to=EUR&amount=0.00016667",
            None,
            None,
        )
        .await;
    assert_eq!(r.body["base_value"], "10.0002");
    let r = gw
        .call(
            "GET",
            "/v1/convert?from=BTC&to=JPY&amount=0.00012345",
            None,
            None,
        )
        .await;
    let yen = r.body["base_value"].as_str().unwrap().to_string();
    assert_eq!(yen, "1203.6375");
    let r = gw
        .call("GET", "/v1/convert?from=JPY&to=BTC&amount=1204", None, None)
        .await;
    assert_eq!(r.body["base_value_sats"], 12349, "{:?}", r.body);

    for (query, field) in [
        ("from=BTC&to=XYZ&amount=1", "to"),
        ("from=DOGE&to=USD&amount=1", "from"),
        ("from=USD&to=EUR&amount=1", "to"),
        ("from=BTC&to=USD", "amount"),
        ("from=BTC&to=USD&amount=abc", "amount"),
        ("from=BTC&to=USD&amount=0.000000001", "amount"),
        ("from=BTC&to=USD&amount=-1", "amount"),
        ("from=JPY&to=BTC&amount=1203.6375", "amount"),
        ("to=USD&amount=1", "from"),
    ] {
        let r = gw
            .call("GET", &format!("/v1/convert?{query}"), None, None)
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "validation_error"),
            "{query}: {:?}",
            r.body
        );
        assert!(
            r.body["error"]["details"][field].is_array(),
            "{query} names `{field}`: {:?}",
            r.body
        );
    }
    let r = gw
        .call("GET", "/v1/convert?from=BTC&to=XYZ&amount=1", None, None)
        .await;
    assert!(r.body["error"]["details"]["to"][0]
        .as_str()
        .unwrap()
        .starts_with("unsupported currency `XYZ`; supported: BTC, USD"));
    gw.stop().await;
}
per_engine!(convert_both_directions_and_errors);

async fn stale_price_blocks_fiat_pricing_but_not_btc_invoices(engine: Engine) {
    let clock = now_clock();
    let Some(gw) = start(engine, &clock, config(&Fiat::defaults(), 1), None).await else {
        return;
    };
    let (_, key) = store(&gw).await;
    poll(&gw).await;
    advance(&clock, 14 * 60);

    let age = "14 minutes old (limit 10 minutes)";
    for path in [
        "/v1/prices",
        "/v1/rates",
        "/v1/convert?from=BTC&to=USD&amount=1",
    ] {
        let r = gw.call("GET", path, None, None).await;
        assert_eq!((r.status, r.code()), (503, "rate_unavailable"), "{path}");
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(age),
            "{path}: {:?}",
            r.body
        );
    }
    let r = gw
        .call(
            "POST",
            "/v1/quotes",
            Some(&key),
            Some(json!({"amount": "10", "currency": "USD"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (503, "rate_unavailable"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with(&format!("the BTC/USD price is {age}")));

    let r = gw
        .call(
            "POST",
            "/v1/invoices",
            Some(&key),
            Some(json!({"amount": "10", "currency": "USD"})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (503, "rate_unavailable"),
        "{:?}",
        r.body
    );
    assert!(r.body["error"]["message"].as_str().unwrap().contains(age));
    let r = gw
        .call(
            "POST",
            "/v1/invoices",
            Some(&key),
            Some(json!({"amount": "0.0001", "currency": "BTC"})),
        )
        .await;
    assert_eq!(r.status, 201, "a BTC invoice needs no rate: {:?}", r.body);

    // A fresh poll brings everything back.
    poll(&gw).await;
    let r = gw
        .call(
            "POST",
            "/v1/invoices",
            Some(&key),
            Some(json!({"amount": "10", "currency": "USD"})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    gw.stop().await;
}
per_engine!(stale_price_blocks_fiat_pricing_but_not_btc_invoices);

/// Moves the clock on by `secs` seconds.
fn advance(clock: &ManualClock, secs: u64) {
    clock.set(clock.now() + std::time::Duration::from_secs(secs));
}

async fn quotes_hold_the_rate_expire_and_are_used_once(engine: Engine) {
    let clock = now_clock();
    let Some(gw) = start(engine, &clock, config(&Fiat::defaults(), 1), None).await else {
        return;
    };
    let (store_id, key) = store(&gw).await;
    let (other_store, _) = store(&gw).await;
    poll(&gw).await;
    let app = gw.running.app.clone();
    let quote = |body: Value| {
        let gw = &gw;
        let key = key.clone();
        async move { gw.call("POST", "/v1/quotes", Some(&key), Some(body)).await }
    };

    let r = quote(json!({"amount": "10", "currency": "USD", "crypto_currency": "BTC", "accept_zero_conf": true})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let q = r.body.clone();
    assert!(q["id"].as_str().unwrap().starts_with("quo_"));
    assert_eq!(q["rate"], "65000.00");
    assert_eq!(
        (q["amount"].as_str(), q["currency"].as_str()),
        (Some("10.00"), Some("USD"))
    );
    assert_eq!(
        (
            q["crypto_amount"].as_str(),
            q["crypto_amount_sats"].as_u64()
        ),
        (Some("0.00015385"), Some(15385))
    );
    // The sandbox chain's estimate for 1 block is 20 sat/vB (no 2-block target): 141 vB.
    assert_eq!(
        (q["network_fee"].as_str(), q["network_fee_sats"].as_u64()),
        (Some("0.00002820"), Some(2820))
    );
    assert_eq!(q["network_fee_source"], "estimate");
    assert_eq!(
        (
            q["total_crypto_amount"].as_str(),
            q["total_crypto_amount_sats"].as_u64()
        ),
        (Some("0.00018205"), Some(18205))
    );
    assert_eq!(q["accept_zero_conf"], true);
    let expires = satsgate::clock::rfc3339(
        clock.now() + std::time::Duration::from_secs(QUOTE_VALID_SECS as u64),
    );
    assert_eq!(q["expires_at"], expires.as_str());
    let qid = q["id"].as_str().unwrap().to_string();

    // Claimed twice in the table directly: the second transaction fails.
    let (record, op) = quote_for_invoice(&app, &store_id, &qid)
        .await
        .expect("usable");
    assert_eq!(record.sats.to_sat(), 15385);
    let (_, op2) = quote_for_invoice(&app, &store_id, &qid)
        .await
        .expect("not yet claimed");
    app.table.transact(vec![op]).await.expect("first claim");
    assert!(app
        .table
        .transact(vec![op2])
        .await
        .expect_err("second claim")
        .is_condition_failed());
    let e = quote_for_invoice(&app, &store_id, &qid)
        .await
        .map_err(satsgate::error::ApiError::from)
        .expect_err("used");
    assert_eq!(e.status, 409);
    // Another store never sees it.
    let e = quote_for_invoice(&app, &other_store, &qid)
        .await
        .map_err(satsgate::error::ApiError::from)
        .expect_err("other store");
    assert_eq!(e.status, 404);

    // Through the invoice API: one invoice per quote.
    let r = quote(json!({"amount": "25", "currency": "EUR"})).await;
    let qid2 = r.body["id"].as_str().unwrap().to_string();
    let sats2 = r.body["total_crypto_amount_sats"].clone();
    let r = gw
        .call(
            "POST",
            "/v1/invoices",
            Some(&key),
            Some(json!({"quote_id": qid2})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["crypto_amount_sats"], sats2);
    let inv = r.body["id"].as_str().unwrap().to_string();
    let r = gw
        .call(
            "POST",
            "/v1/invoices",
            Some(&key),
            Some(json!({"quote_id": qid2})),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "conflict"));
    assert_eq!(
        r.body["error"]["message"],
        format!("quote {qid2} was already used by invoice {inv}")
    );

    // Quotes expire after five minutes.
    let r = quote(json!({"amount": "5", "currency": "GBP"})).await;
    let qid3 = r.body["id"].as_str().unwrap().to_string();
    let expires3 = r.body["expires_at"].as_str().unwrap().to_string();
    advance(&clock, QUOTE_VALID_SECS as u64);
    let r = gw
        .call(
            "POST",
            "/v1/invoices",
            Some(&key),
            Some(json!({"quote_id": qid3})),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "conflict"), "{:?}", r.body);
    assert_eq!(
        r.body["error"]["message"],
        format!("quote {qid3} expired at {expires3}; request a new quote")
    );

    // Validation and auth.
    let r = quote(json!({"amount": "1.001", "currency": "XYZ", "crypto_currency": "ETH"})).await;
    assert_eq!((r.status, r.code()), (400, "validation_error"));
    let details = r.body["error"]["details"].as_object().unwrap();
    assert!(
        details.contains_key("currency") && details.contains_key("crypto_currency"),
        "{details:?}"
    );
    let r = gw
        .call(
            "POST",
            "/v1/quotes",
            Some(&gw.account_key),
            Some(json!({"amount": "1", "currency": "USD"})),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = gw
        .call(
            "POST",
            "/v1/quotes",
            None,
            Some(json!({"amount": "1", "currency": "USD"})),
        )
        .await;
    assert_eq!(r.status, 401);
    gw.stop().await;
}
per_engine!(quotes_hold_the_rate_expire_and_are_used_once);

async fn sample_events_run_through_the_price_functions(engine: Engine) {
    let Some(t) = table(engine).await else {
        return;
    };
    let app = App::new(t, Arc::new(satsgate::clock::SystemClock), Config::default());
    let (_, _, account_key) = satsgate::account::create_account(&*app.table, "Lambda", app.now())
        .await
        .unwrap();
    let (s, b) = lambda_call(&app, "stores-create", &[("__ACCOUNT_KEY__", &account_key)]).await;
    assert_eq!(s, 201, "{b}");
    let store_key = b["api_key"]["key"].as_str().unwrap().to_string();

    // The scheduled event is an EventBridge "Scheduled Event".
    let text = std::fs::read_to_string(format!(
        "{}/../events/price-poller.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let ev: lambda_http::aws_lambda_events::event::cloudwatch_events::CloudWatchEvent =
        serde_json::from_str(&text).unwrap();
    assert_eq!(
        (ev.detail_type.as_deref(), ev.source.as_deref()),
        (Some("Scheduled Event"), Some("aws.events"))
    );
    poll_prices(&app).await.expect("poll");

    for f in ["currencies-list", "prices-list", "rates-list", "convert"] {
        let (s, b) = lambda_call(&app, f, &[]).await;
        assert_eq!(s, 200, "{f}: {b}");
    }
    let (_, b) = lambda_call(&app, "convert", &[]).await;
    assert_eq!(b["base_value"], "65000.00");
    let (s, b) = lambda_call(&app, "quotes-create", &[("__STORE_KEY__", &store_key)]).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["amount"], "19.99");
    // A function only serves its own route.
    let resp =
        satsgate_functions::handle(&app, "prices-list", lambda_event("rates-list", &[])).await;
    assert_eq!(resp.status().as_u16(), 404);
}
per_engine!(sample_events_run_through_the_price_functions);
