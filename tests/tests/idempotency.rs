//! `Idempotency-Key` after a crash, on both engines (issue 8, item 5): the
//! in-flight record is left exactly as a request that died would leave it,
//! and time moves on a manual clock. The key is not locked for 24 h: after
//! the lease a retry runs again, and an effect that committed is replayed.

use satsgate::account::ApiKeyRecord;
use satsgate::auth::hash_key;
use satsgate::dispatch::{
    lease_update, request_fingerprint, Ctx, IdempotencyLease, Principal, IDEMPOTENCY_LEASE_SECS,
};
use satsgate::http::Request;
use satsgate::records::from_item;
use satsgate::schema;
use satsgate_e2e::{per_engine, Engine, Shop, BIP84_VPUB};
use serde_json::json;
use std::collections::BTreeMap;

const BODY: &str = r#"{"amount": "0.001", "currency": "BTC"}"#;

/// The request as the pipeline sees it (for its fingerprint).
fn request(body: &str) -> Request {
    let mut req = Request::new(http::Method::POST, "/v1/invoices");
    req.headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    req.body = body.as_bytes().to_vec().into();
    req
}

/// Leave the record a request holding `idem_key` writes when it starts, as
/// if it then crashed; returns the lease it held.
async fn crashed_request(shop: &Shop, idem_key: &str, body: &str) -> IdempotencyLease {
    let app = shop.gw.app();
    let record = schema::idempotency(&hash_key(&shop.key), idem_key);
    let token = format!("crashed-{idem_key}");
    let fp = request_fingerprint(&request(body));
    let now = app.now().unix_timestamp();
    app.table
        .update(&record, lease_update(&fp, &token, now), None)
        .await
        .expect("in-flight record");
    IdempotencyLease { record, token }
}

async fn post(shop: &Shop, idem_key: &str, body: &str) -> satsgate_e2e::Reply {
    let headers = [("idempotency-key", idem_key)];
    shop.gw
        .send(
            "POST",
            "/v1/invoices",
            Some(&shop.key),
            Some(body.as_bytes().to_vec()),
            &headers,
        )
        .await
}

async fn invoice_count(shop: &Shop) -> usize {
    let r = shop.call("GET", "/v1/invoices?limit=100", None).await;
    r.body["items"].as_array().expect("a list").len()
}

async fn a_crashed_request_does_not_lock_its_idempotency_key(engine: Engine) {
    let store = json!({"name": "Idem", "network": "regtest", "wallet": BIP84_VPUB});
    let Some(shop) = Shop::open(engine, store).await else {
        return;
    };
    let lease = time::Duration::seconds(IDEMPOTENCY_LEASE_SECS);

    // Crashed before its effect: held while the lease lasts, then run again.
    crashed_request(&shop, "crash-before", BODY).await;
    let r = post(&shop, "crash-before", BODY).await;
    assert_eq!(
        (r.status, r.code()),
        (409, "conflict"),
        "{engine:?}: {:?}",
        r.body
    );
    shop.clock().advance(lease - time::Duration::seconds(1));
    let r = post(&shop, "crash-before", BODY).await;
    assert_eq!(r.status, 409, "still within the lease: {:?}", r.body);
    shop.clock().advance(time::Duration::seconds(2));
    let r = post(&shop, "crash-before", BODY).await;
    assert_eq!(
        r.status, 201,
        "{engine:?}: lease over, runs again: {:?}",
        r.body
    );
    assert_eq!(r.header("idempotent-replayed"), None);
    let first = r.body["id"].clone();
    let r = post(&shop, "crash-before", BODY).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.header("idempotent-replayed"), Some("true"));
    assert_eq!(r.body["id"], first, "its answer is kept as usual");
    // Another body under that key is still a conflict.
    let r = post(
        &shop,
        "crash-before",
        r#"{"amount": "0.002", "currency": "BTC"}"#,
    )
    .await;
    assert_eq!(r.code(), "idempotency_conflict", "{:?}", r.body);
    assert_eq!(invoice_count(&shop).await, 1);

    // Crashed after its effect committed (the handler ran to the end, the
    // pipeline never wrote the answer): the retry replays that invoice,
    // before and after the lease ends, and never makes a second one.
    let held = crashed_request(&shop, "crash-after", BODY).await;
    let app = shop.gw.app();
    let key_item = app
        .table
        .get(&schema::api_key(&hash_key(&shop.key)))
        .await
        .unwrap()
        .expect("key record");
    let key: ApiKeyRecord = from_item(key_item).unwrap();
    let store_item = app
        .table
        .get(&schema::store(key.store_id.as_deref().unwrap()))
        .await
        .unwrap()
        .expect("store record");
    let cx = Ctx {
        app,
        req: request(BODY),
        params: BTreeMap::new(),
        principal: Some(Principal {
            key,
            store: Some(from_item(store_item).unwrap()),
        }),
        request_id: "req_crashed".into(),
        idempotency: Some(held),
    };
    let made = satsgate::handlers::invoices::create(cx)
        .await
        .expect("the effect commits");
    let made: serde_json::Value = serde_json::from_slice(&made.body_bytes()).unwrap();
    let made_id = made["id"].clone();
    assert_eq!(invoice_count(&shop).await, 2);
    let r = post(&shop, "crash-after", BODY).await;
    assert_eq!(r.status, 201, "{engine:?}: {:?}", r.body);
    assert_eq!(r.header("idempotent-replayed"), Some("true"));
    assert_eq!(r.body["id"], made_id);
    shop.clock().advance(lease + time::Duration::seconds(1));
    let r = post(&shop, "crash-after", BODY).await;
    assert_eq!((r.status, &r.body["id"]), (201, &made_id), "{:?}", r.body);
    assert_eq!(invoice_count(&shop).await, 2, "no second invoice");
    shop.gw.stop().await;
}
per_engine!(
    a_crashed_request_does_not_lock_its_idempotency_key,
    flavor = "multi_thread",
    worker_threads = 4
);
