//! CORS in both runtimes (API.md "Conventions"): every answer allows any
//! origin and exposes the request id and rate-limit headers; a preflight is
//! answered without a key. The browser side is tests/browser/cors_fetch.py.

use http::Method;
use satsgate::app::{App, Config};
use satsgate::clock::SystemClock;
use satsgate_e2e::{lambda_event, table, Engine, Gateway};
use std::sync::Arc;

const ORIGIN: &str = "http://shop.example";

/// The headers a preflight for a keyed, idempotent JSON POST asks for.
const PREFLIGHT: [(&str, &str); 3] = [
    ("origin", ORIGIN),
    ("access-control-request-method", "POST"),
    (
        "access-control-request-headers",
        "authorization,content-type,api-key,idempotency-key",
    ),
];

fn header<'a>(h: &'a http::HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn list(h: &http::HeaderMap, name: &str) -> Vec<String> {
    header(h, name)
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A preflight answer that lets the POST through.
fn assert_preflight_allows(status: u16, h: &http::HeaderMap) {
    assert!((200..300).contains(&status), "preflight status {status}");
    assert_eq!(header(h, "access-control-allow-origin"), "*");
    assert!(h.get("access-control-allow-credentials").is_none());
    assert!(list(h, "access-control-allow-methods").contains(&"post".to_string()));
    let allowed = list(h, "access-control-allow-headers");
    for name in [
        "authorization",
        "content-type",
        "api-key",
        "idempotency-key",
    ] {
        assert!(allowed.contains(&name.to_string()), "{name} in {allowed:?}");
    }
}

/// An actual answer a page on another origin may read.
fn assert_readable(h: &http::HeaderMap, rate_limited: bool) {
    assert_eq!(header(h, "access-control-allow-origin"), "*");
    assert!(h.get("access-control-allow-credentials").is_none());
    let exposed = list(h, "access-control-expose-headers");
    for name in [
        "x-request-id",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "retry-after",
    ] {
        assert!(exposed.contains(&name.to_string()), "{name} in {exposed:?}");
    }
    assert!(h.get("x-request-id").is_some());
    assert_eq!(h.get("x-ratelimit-limit").is_some(), rate_limited);
}

#[tokio::test]
async fn local_gateway_answers_preflights_and_allows_any_origin() {
    let gw = Gateway::start(Engine::Embedded, Config::default())
        .await
        .unwrap();
    let (_, key) = gw
        .store(serde_json::json!({"name": "Shop", "network": "regtest", "wallet": satsgate_e2e::BIP84_VPUB}))
        .await;

    let pre = gw
        .send("OPTIONS", "/v1/invoices", None, None, &PREFLIGHT)
        .await;
    assert_preflight_allows(pre.status, &pre.headers);

    let origin = [("origin", ORIGIN)];
    let public = gw.send("GET", "/v1/currencies", None, None, &origin).await;
    assert_eq!(public.status, 200);
    assert_readable(&public.headers, false);

    let created = gw
        .send(
            "POST",
            "/v1/invoices",
            Some(&key),
            Some(br#"{"amount": "0.001", "currency": "BTC"}"#.to_vec()),
            &origin,
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_readable(&created.headers, true);

    // Errors are readable too (the page can show the message).
    let refused = gw.send("GET", "/v1/invoices", None, None, &origin).await;
    assert_eq!(refused.status, 401);
    assert_readable(&refused.headers, false);
    gw.stop().await;
}

#[tokio::test]
async fn lambda_functions_answer_preflights_and_allow_any_origin() {
    let app = App::new(
        table(Engine::Embedded).await.unwrap(),
        Arc::new(SystemClock),
        Config::default(),
    );
    let preflight = || {
        let mut pre = lambda_event("invoices-create", &[]);
        *pre.method_mut() = Method::OPTIONS;
        pre.headers_mut().remove("authorization");
        for (k, v) in PREFLIGHT {
            pre.headers_mut().insert(k, v.parse().unwrap());
        }
        pre
    };
    let resp = satsgate_functions::handle(&app, "invoices-create", preflight()).await;
    assert_preflight_allows(resp.status().as_u16(), resp.headers());
    // On AWS every preflight goes to one function (template.yaml).
    let function = satsgate::edge::PREFLIGHT_FUNCTION;
    let resp = satsgate_functions::handle(&app, function, preflight()).await;
    assert_preflight_allows(resp.status().as_u16(), resp.headers());

    let mut get = lambda_event("currencies-list", &[]);
    get.headers_mut().insert("origin", ORIGIN.parse().unwrap());
    let resp = satsgate_functions::handle(&app, "currencies-list", get).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_readable(resp.headers(), false);
}
