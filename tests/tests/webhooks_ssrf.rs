//! The SSRF guard through the API, on satsgate-local with its jobs: link-local
//! and cloud metadata addresses are refused as webhook URLs in every mode
//! (also with insecure URLs allowed), at save and at send; IPv6 forms that
//! carry an IPv4 address are judged as that address; an invoice's
//! `webhook_url` gets exactly the check an endpoint's `url` gets.

mod webhook_support;

use satsgate_e2e::{table, Engine, Reply, Shop};
use serde_json::{json, Value};
use std::time::Duration;
use webhook_support::*;

async fn open(insecure: bool) -> Shop {
    let t = table(Engine::Embedded).await.expect("embedded table");
    let settings = fast_settings(QueueKind::Table);
    Shop::serve(app(t, config(settings, insecure), None), true, None).await
}

/// Create a BTC invoice with this `webhook_url`.
async fn invoice_with(shop: &Shop, url: &str) -> Reply {
    shop.call(
        "POST",
        "/v1/invoices",
        Some(json!({"amount": "0.001", "currency": "BTC", "webhook_url": url})),
    )
    .await
}

/// The refusal message for `url` as an endpoint's `url` and as an invoice's
/// `webhook_url` (both must be 400 validation errors with the same message).
async fn refusal(shop: &Shop, url: &str) -> String {
    let r = shop
        .call("POST", "/v1/webhook-endpoints", Some(json!({"url": url})))
        .await;
    assert_eq!(r.status, 400, "endpoint {url}: {r}");
    assert_eq!(r.body["error"]["code"], "validation_error", "{r}");
    let endpoint = r.body["error"]["details"]["url"][0]
        .as_str()
        .unwrap()
        .to_string();
    let r = invoice_with(shop, url).await;
    assert_eq!(r.status, 400, "invoice {url}: {r}");
    assert_eq!(r.body["error"]["code"], "validation_error", "{r}");
    let invoice = r.body["error"]["details"]["webhook_url"][0]
        .as_str()
        .unwrap();
    assert_eq!(invoice, endpoint, "the same check for {url}");
    endpoint
}

const METADATA: [(&str, &str); 8] = [
    ("http://169.254.169.254/latest/meta-data/iam/", "link-local"),
    ("http://169.254.170.2/v2/credentials", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "cloud metadata"),
    ("http://100.100.100.200/latest/meta-data/", "cloud metadata"),
    (
        "http://metadata.google.internal/computeMetadata/v1/",
        "metadata",
    ),
    ("http://[::ffff:169.254.169.254]/", "IPv4-mapped link-local"),
    ("http://[64:ff9b::a9fe:a9fe]/", "NAT64 link-local"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_and_link_local_urls_are_refused_even_with_insecure_urls() {
    let shop = open(true).await;
    for (url, why) in METADATA {
        let msg = refusal(&shop, url).await;
        assert!(msg.contains(why), "{url}: {msg}");
    }
    // Insecure mode still adds loopback and private receivers.
    for url in [
        "http://127.0.0.1:9/x",
        "http://10.0.0.1/x",
        "http://[::ffff:0:7f00:1]/x",
    ] {
        let r = shop
            .call("POST", "/v1/webhook-endpoints", Some(json!({"url": url})))
            .await;
        assert_eq!(r.status, 201, "{url}: {r}");
        let r = invoice_with(&shop, url).await;
        assert_eq!(r.status, 201, "{url}: {r}");
    }
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv4_carrying_ipv6_forms_and_invoice_urls_are_checked_like_endpoints() {
    let shop = open(false).await;
    for (url, why) in [
        ("https://[::ffff:0:7f00:1]/", "IPv4-translated loopback"),
        ("https://[::ffff:127.0.0.1]/", "IPv4-mapped loopback"),
        ("https://[::127.0.0.1]/", "IPv4-compatible loopback"),
        ("https://[2002:7f00:1::]/", "6to4 loopback"),
        ("https://[64:ff9b::7f00:1]/", "NAT64 loopback"),
        (
            "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
            "Teredo loopback",
        ),
        ("https://[::ffff:0:c0a8:101]/", "IPv4-translated private"),
        ("https://localhost/x", "localhost"),
        ("https://127.0.0.1/x", "loopback"),
        ("http://hooks.example.com/x", "https"),
    ] {
        let msg = refusal(&shop, url).await;
        assert!(msg.contains(why), "{url}: {msg}");
    }
    for (url, why) in METADATA {
        let msg = refusal(&shop, &url.replacen("http:", "https:", 1)).await;
        assert!(msg.contains(why), "{url}: {msg}");
    }
    // A public address in the same forms is fine for both.
    let url = "https://[::ffff:0:5db8:d822]/hook";
    let r = invoice_with(&shop, url).await;
    assert_eq!(r.status, 201, "{r}");
    assert_eq!(r.body["webhook_url"], url);
    shop.stop().await;
}

/// The first attempt logged for the built-in `invoice_url` endpoint.
async fn first_attempt(shop: &Shop) -> Value {
    eventually(Duration::from_secs(20), "an attempt is logged", || async {
        shop.deliveries("invoice_url")
            .await
            .first()
            .is_some_and(|d| !d["attempts"].as_array().unwrap().is_empty())
    })
    .await;
    shop.deliveries("invoice_url").await[0]["attempts"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_metadata_url_is_refused_at_send_in_insecure_mode() {
    // URLs saved before the guard (or by a bug) are checked again at send.
    for url in [
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
    ] {
        let shop = open(true).await;
        write_event(
            &*shop.app().table,
            &shop.store_id,
            "invoice.created",
            "inv_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b7",
            Some(url),
        )
        .await;
        let attempt = first_attempt(&shop).await;
        let error = attempt["error"].as_str().unwrap_or_default();
        assert!(
            error.starts_with("refused") && error.contains("link-local"),
            "{url}: {attempt}"
        );
        assert!(attempt["status_code"].is_null(), "{attempt}");
        shop.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_mode_delivers_to_a_loopback_name_through_the_guarded_resolver() {
    let shop = open(true).await;
    let rx = Receiver::start(vec![], None).await;
    let url = format!("http://localhost:{}/inv", rx.addr.port());
    write_event(
        &*shop.app().table,
        &shop.store_id,
        "invoice.created",
        "inv_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b8",
        Some(&url),
    )
    .await;
    let got = rx.wait_for("/inv", 1, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 1);
    rx.stop();
    shop.stop().await;
}
