//! `GET /v1/openapi.json` in both runtimes: the document of the route table,
//! no key needed. (Its content is checked against the route table in
//! `satsgate::openapi`'s unit tests; schemathesis runs over it in
//! scripts/test, tests/schemathesis/run.py.)

use satsgate::app::{App, Config};
use satsgate::clock::SystemClock;
use satsgate_e2e::{lambda_call, table, Engine, Gateway};
use serde_json::Value;
use std::sync::Arc;

fn operation_ids(doc: &Value) -> Vec<String> {
    let mut ids: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn both_runtimes_serve_the_document_without_a_key() {
    let mut functions: Vec<String> = satsgate::routes::ROUTES
        .iter()
        .map(|r| r.function.to_string())
        .collect();
    functions.sort();

    let gw = Gateway::start(Engine::Embedded, Config::default())
        .await
        .unwrap();
    let r = gw.call("GET", "/v1/openapi.json", None, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body["openapi"], "3.1.0");
    assert_eq!(operation_ids(&r.body), functions);
    // Request bodies are described by their request types.
    let create = &r.body["paths"]["/v1/invoices"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"]["allOf"][0];
    assert_eq!(create["additionalProperties"], false, "{create}");
    assert!(create["properties"]["order_id"].is_object(), "{create}");
    gw.stop().await;

    let app = App::new(
        table(Engine::Embedded).await.unwrap(),
        Arc::new(SystemClock),
        Config::default(),
    );
    let (status, doc) = lambda_call(&app, "openapi", &[]).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(operation_ids(&doc), functions);
}
