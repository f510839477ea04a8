//! Seed 000's HTTP "current prices" (`GET /prices`, as the anypay server
//! serves it): numbers, `updatedAt`, `source`; errors in its shape.

use satsgate::app::{App, Config};
use satsgate::clock::SystemClock;
use satsgate_e2e::{lambda_call, table, Engine, Gateway};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn current_prices_in_the_seed_shape() {
    let t = table(Engine::Embedded).await.unwrap();
    let app = App::new(t, Arc::new(SystemClock), Config::default());
    let gw = Gateway::start_app(app).await;
    // No price polled yet: seed 000's error shape (and the v1 error object).
    let r = gw.call("GET", "/prices", None, None).await;
    assert_eq!(r.status, 503, "{:?}", r.body);
    assert_eq!(r.body["status"], "error");
    assert!(r.body["message"].as_str().unwrap().contains("price"));

    satsgate::prices::poller::poll_prices(gw.app())
        .await
        .unwrap();
    let r = gw.call("GET", "/prices", None, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let usd = r.body["prices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["base"] == "USD")
        .expect("a USD price")
        .clone();
    assert_eq!(usd["currency"], "BTC");
    assert!(usd["value"].is_number(), "{usd}");
    assert_eq!(usd["value"].to_string(), "65000.00", "exact, not a float");
    assert!(usd["updatedAt"].is_string(), "{usd}");
    assert_eq!(usd["source"], "sandbox");
    // the same figures as v1, which keeps decimal strings
    let v1 = gw.call("GET", "/v1/prices", None, None).await;
    assert_eq!(v1.body["prices"][0]["value"], "65000.00");
    gw.stop().await;

    // and as a Lambda function, from its sample event
    let t = table(Engine::Embedded).await.unwrap();
    let app = App::new(t, Arc::new(SystemClock), Config::default());
    satsgate::prices::poller::poll_prices(&app).await.unwrap();
    let (s, b) = lambda_call(&app, "anypay-prices", &[]).await;
    assert_eq!(s, 200, "{b}");
    assert!(b["prices"][0]["value"].is_number());
}
