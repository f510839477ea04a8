//! The Lambda path: each sample API Gateway event in events/ goes through
//! lambda_http's own event parsing and the function's handler, on the
//! DynamoDB engine (moto_server) and the embedded engine.

use satsgate::app::{App, Config};
use satsgate::clock::SystemClock;
use satsgate_e2e::{lambda_call, lambda_event, per_engine, table, Engine};
use serde_json::Value;
use std::sync::Arc;

async fn every_sample_event_runs_through_its_function(engine: Engine) {
    let Some(t) = table(engine).await else {
        return;
    };
    let app = App::new(t, Arc::new(SystemClock), Config::default());
    let (_, _, key) = satsgate::account::create_account(&*app.table, "Lambda", app.now())
        .await
        .unwrap();
    let mut subs = vec![("__ACCOUNT_KEY__", key.clone())];
    let sub = |s: &Vec<(&'static str, String)>| {
        s.iter().map(|(a, b)| (*a, b.clone())).collect::<Vec<_>>()
    };

    let (s, b) = lambda_call(&app, "health", &[]).await;
    assert_eq!((s, &b["status"]), (200, &Value::from("ok")));
    let owned = sub(&subs);
    let refs: Vec<(&str, &str)> = owned.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let (s, b) = lambda_call(&app, "stores-create", &refs).await;
    assert_eq!(s, 201, "{b}");
    subs.push((
        "__STORE_ID__",
        b["store"]["id"].as_str().unwrap().to_string(),
    ));
    let owned = sub(&subs);
    let refs: Vec<(&str, &str)> = owned.iter().map(|(a, b)| (*a, b.as_str())).collect();
    for f in [
        "stores-list",
        "stores-get",
        "stores-update",
        "api-keys-list",
    ] {
        let (s, b) = lambda_call(&app, f, &refs).await;
        assert_eq!(s, 200, "{f}: {b}");
    }
    let (s, b) = lambda_call(&app, "api-keys-create", &refs).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["allowed_ips"][0], "198.51.100.0/24");
    let key_id = b["id"].as_str().unwrap().to_string();
    let mut refs2 = refs.clone();
    refs2.push(("__KEY_ID__", key_id.as_str()));
    let (s, b) = lambda_call(&app, "api-keys-delete", &refs2).await;
    assert_eq!(s, 200, "{b}");

    // A function only serves its own route.
    let resp = satsgate_functions::handle(&app, "stores-get", lambda_event("health", &[])).await;
    assert_eq!(resp.status().as_u16(), 404);
}
per_engine!(every_sample_event_runs_through_its_function);

#[tokio::test]
async fn source_ip_comes_from_the_request_context() {
    let app = App::new(
        table(satsgate_e2e::Engine::Embedded).await.unwrap(),
        Arc::new(SystemClock),
        Config::default(),
    );
    let (_, _, key) = satsgate::account::create_account(&*app.table, "Lambda", app.now())
        .await
        .unwrap();
    let (_, b) = lambda_call(&app, "stores-create", &[("__ACCOUNT_KEY__", &key)]).await;
    let store_id = b["store"]["id"].as_str().unwrap().to_string();
    // A key allowed only from 198.51.100.0/24 works from the event's 198.51.100.7 ...
    let (_, created) = lambda_call(
        &app,
        "api-keys-create",
        &[("__ACCOUNT_KEY__", &key), ("__STORE_ID__", &store_id)],
    )
    .await;
    let limited = created["key"].as_str().unwrap().to_string();
    let store_key_event = |ip: &str| {
        let mut e = lambda_event(
            "stores-get",
            &[("__ACCOUNT_KEY__", &limited), ("__STORE_ID__", &store_id)],
        );
        if ip != "198.51.100.7" {
            let text = std::fs::read_to_string(format!(
                "{}/../events/stores-get.json",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap();
            let text = text
                .replace("__ACCOUNT_KEY__", &limited)
                .replace("__STORE_ID__", &store_id)
                .replace("198.51.100.7", ip);
            e = lambda_http::request::from_str(&text).unwrap();
        }
        e
    };
    let ok = satsgate_functions::handle(&app, "stores-get", store_key_event("198.51.100.7")).await;
    assert_eq!(ok.status().as_u16(), 200);
    // ... and is refused from elsewhere.
    let refused =
        satsgate_functions::handle(&app, "stores-get", store_key_event("203.0.113.9")).await;
    assert_eq!(refused.status().as_u16(), 403);
}
