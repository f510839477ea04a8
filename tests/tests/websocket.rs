//! The WebSocket protocol (API.md "WebSocket", seed 000) with a real
//! WebSocket client against satsgate-local, and the AWS side: the
//! `ws-*` Lambda handlers on raw API Gateway events and `ApiGatewayPush`
//! against a fake @connections endpoint (content, 410 Gone) and moto_server.

use futures::{SinkExt, StreamExt};
use satsgate::app::{App, Config};
use satsgate::clock::SystemClock;
use satsgate::events::Event;
use satsgate::push::Push;
use satsgate::ws::aws::{on_connect, on_disconnect, on_message, ApiGatewayPush};
use satsgate::ws::Topic;
use satsgate_e2e::{per_engine, table, Engine, Gateway, BIP84_VPUB};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn ws_url(gw: &Gateway, path: &str) -> String {
    gw.running.url().replacen("http://", "ws://", 1) + path
}

async fn connect(url: &str, bearer: Option<&str>) -> Result<Ws, WsError> {
    let mut req = url.into_client_request().unwrap();
    if let Some(k) = bearer {
        req.headers_mut()
            .insert("Authorization", format!("Bearer {k}").parse().unwrap());
    }
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

async fn send_raw(ws: &mut Ws, text: &str) {
    ws.send(Message::Text(text.to_string().into()))
        .await
        .unwrap();
}

/// The next JSON text frame (5 s at most).
async fn recv(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("socket open")
            .expect("frame");
        if let Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).expect("JSON frame");
        }
    }
}

/// Send a request and return its reply (pushed frames before it are
/// skipped: replies carry `status`, pushes are `{type, data}` only).
async fn ask(ws: &mut Ws, v: Value) -> Value {
    send(ws, v).await;
    loop {
        let f = recv(ws).await;
        if f.get("status").is_some() {
            return f;
        }
    }
}

/// Frames until (and without) the reply to a ping: what was pushed.
async fn pushed_until_pong(ws: &mut Ws) -> Vec<Value> {
    send(ws, json!({"action": "ping"})).await;
    let mut out = Vec::new();
    loop {
        let f = recv(ws).await;
        if f["action"] == "ping" {
            return out;
        }
        out.push(f);
    }
}

async fn gateway(engine: Engine) -> Option<Gateway> {
    let t = table(engine).await?;
    let app = App::new(
        t,
        Arc::new(SystemClock),
        Config {
            allow_insecure_urls: true,
            ..Config::default()
        },
    );
    satsgate::prices::poller::poll_prices(&app)
        .await
        .expect("sandbox prices");
    Some(Gateway::start_app(app).await)
}

async fn protocol_invoices_and_pushed_events(engine: Engine) {
    let Some(gw) = gateway(engine).await else {
        return;
    };
    let (store_id, key) = gw
        .store(json!({"name": "WS shop", "network": "regtest", "wallet": BIP84_VPUB}))
        .await;
    let mut shop = connect(&ws_url(&gw, "/ws"), Some(&key))
        .await
        .expect("keyed connect");

    // Seed 000's pong: type, status and a unix timestamp (a number).
    let pong = ask(&mut shop, json!({"action": "ping"})).await;
    assert_eq!(
        (&pong["type"], &pong["status"]),
        (&json!("pong"), &json!("success")),
        "{pong}"
    );
    let ts = pong["timestamp"]
        .as_i64()
        .expect("unix seconds as a number");
    assert!((ts - time::OffsetDateTime::now_utc().unix_timestamp()).abs() < 60);

    let prices = ask(&mut shop, json!({"action": "list_prices"})).await;
    assert_eq!(prices["status"], "success", "{prices}");
    let usd = prices["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["base"] == "USD")
        .expect("USD price")
        .clone();
    assert_eq!(usd["currency"], "BTC");
    assert!(usd["value"].is_number(), "{usd}");
    assert_eq!(usd["value"].as_f64(), Some(65000.0));
    for f in ["id", "createdAt", "updatedAt"] {
        assert!(usd[f].is_string(), "{f} in {usd}");
    }

    let conv = ask(&mut shop, json!({"action": "convert_price", "quote_currency": "BTC", "base_currency": "USD", "quote_value": 1})).await;
    assert_eq!(conv["status"], "success", "{conv}");
    let d = &conv["data"];
    assert_eq!(
        (d["quote_currency"].as_str(), d["base_currency"].as_str()),
        (Some("BTC"), Some("USD"))
    );
    assert_eq!(d["quote_value"].as_f64(), Some(1.0));
    assert_eq!(d["base_value"].as_f64(), Some(65000.0));
    assert!(d["timestamp"].is_string());

    let created = ask(
        &mut shop,
        json!({"action": "create_invoice", "amount": 10, "currency": "USD", "account_id": store_id,
               "memo": "Payment for services", "redirect_url": "https://example.com/return"}),
    )
    .await;
    assert_eq!(created["status"], "success", "{created}");
    let inv = created["data"]["invoice"].clone();
    let id = inv["uid"].as_str().unwrap().to_string();
    assert_eq!(inv["id"], id.as_str());
    assert_eq!(inv["amount"].as_f64(), Some(10.0));
    assert!(inv["amount"].is_number());
    assert_eq!(inv["currency"], "USD");
    assert_eq!(inv["status"], "unpaid");
    assert_eq!(inv["state"], "new");
    assert_eq!(inv["crypto_amount_sats"], 15385);
    for f in ["address", "payment_uri", "created_at", "expires_at"] {
        assert!(inv[f].is_string(), "{f} in {inv}");
    }
    let rest = gw
        .call("GET", &format!("/v1/invoices/{id}"), Some(&key), None)
        .await;
    assert_eq!(rest.status, 200, "the WebSocket invoice is a REST invoice");
    assert_eq!(rest.body["memo"], "Payment for services");

    // The seed's own example, verbatim: `account_id: 1` is ignored (the
    // key decides the store), and the invoice echoes what it was given.
    let seed = ask(
        &mut shop,
        json!({"action": "create_invoice", "amount": 1000, "currency": "USD", "account_id": 1,
               "webhook_url": "https://example.com/webhook", "redirect_url": "https://example.com/return",
               "memo": "Payment for services"}),
    )
    .await;
    assert_eq!(seed["status"], "success", "{seed}");
    let s_inv = &seed["data"]["invoice"];
    assert!(
        s_inv["uid"].is_string() && s_inv["amount"].is_number(),
        "{s_inv}"
    );
    assert_eq!(s_inv["amount"].as_f64(), Some(1000.0));
    for (k, v) in [
        ("webhook_url", "https://example.com/webhook"),
        ("redirect_url", "https://example.com/return"),
        ("memo", "Payment for services"),
        ("status", "unpaid"),
        ("currency", "USD"),
    ] {
        assert_eq!(s_inv[k], v, "{k} in {s_inv}");
    }
    for f in ["created_at", "createdAt", "updatedAt", "uri"] {
        assert!(s_inv[f].is_string(), "{f} in {s_inv}");
    }
    let seed_id = s_inv["uid"].as_str().unwrap();
    assert!(s_inv["uri"].as_str().unwrap().starts_with("pay:?r=http"));
    assert!(s_inv["uri"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/r/{seed_id}")));
    let opt = &s_inv["payment_options"][0];
    assert_eq!(
        (&opt["chain"], &opt["currency"]),
        (&json!("BTC"), &json!("BTC"))
    );
    assert!(opt["amount"].is_number() && opt["fee"].is_number(), "{opt}");
    assert_eq!(opt["outputs"][0]["address"], s_inv["address"]);
    assert!(opt["outputs"][0]["amount"].is_number());
    // cancel_invoice {uid}
    let cancelled = ask(
        &mut shop,
        json!({"action": "cancel_invoice", "uid": seed_id}),
    )
    .await;
    assert_eq!(cancelled["status"], "success", "{cancelled}");
    assert_eq!(cancelled["data"]["invoice"]["status"], "cancelled");
    let again = ask(
        &mut shop,
        json!({"action": "cancel_invoice", "uid": seed_id}),
    )
    .await;
    assert_eq!(again["status"], "error", "{again}");
    let none = ask(
        &mut shop,
        json!({"action": "cancel_invoice", "uid": "inv_nope"}),
    )
    .await;
    assert_eq!(none["status"], "error", "{none}");

    let fetched = ask(&mut shop, json!({"action": "fetch_invoice", "id": id})).await;
    assert_eq!(fetched["status"], "success");
    assert_eq!(fetched["data"]["uid"], id.as_str());
    assert_eq!(fetched["data"]["status"], "unpaid");

    let sub = ask(
        &mut shop,
        json!({"action": "subscribe", "type": "account", "id": store_id}),
    )
    .await;
    assert_eq!(
        sub,
        json!({"status": "success", "message": format!("Subscribed to account {store_id}"), "action": "subscribe"})
    );

    // A keyless client on `/` (where seed-000 clients connect).
    let mut buyer = connect(&ws_url(&gw, "/"), None)
        .await
        .expect("keyless connect on /");
    let f = ask(&mut buyer, json!({"action": "fetch_invoice", "id": id})).await;
    assert_eq!(f["data"]["uid"], id.as_str(), "{f}");
    let no = ask(
        &mut buyer,
        json!({"action": "create_invoice", "amount": 10, "currency": "USD"}),
    )
    .await;
    assert_eq!(no["status"], "error");
    let sub = ask(
        &mut buyer,
        json!({"action": "subscribe", "type": "invoice", "id": id}),
    )
    .await;
    assert_eq!(sub["message"], format!("Subscribed to invoice {id}"));
    // Prices only for those who ask.
    let sub = ask(&mut buyer, json!({"action": "subscribe", "type": "prices"})).await;
    assert_eq!(sub["message"], "Subscribed to prices", "{sub}");
    let mut other = connect(&ws_url(&gw, "/ws"), None).await.unwrap();
    let addr = inv["address"].as_str().unwrap();
    let sub = ask(
        &mut other,
        json!({"action": "subscribe", "type": "address", "id": addr}),
    )
    .await;
    assert_eq!(sub["message"], format!("Subscribed to address {addr}"));

    // Pay in full on the sandbox chain, then run the fan-out once.
    let paid = gw
        .call(
            "POST",
            "/v1/sandbox/payments",
            Some(&key),
            Some(json!({"invoice_id": id, "amount_sats": 15385})),
        )
        .await;
    assert_eq!(paid.status, 201, "{:?}", paid.body);
    satsgate::webhooks::fanout::sweep_outbox(gw.app(), None)
        .await
        .expect("fan-out");

    let frames = pushed_until_pong(&mut buyer).await;
    let kinds: Vec<&str> = frames
        .iter()
        .map(|f| f["type"].as_str().unwrap_or("?"))
        .collect();
    // invoice.created too: the fan-out ran after the subscription.
    assert_eq!(
        kinds,
        [
            "price.updated",
            "invoice.created",
            "payment.received",
            "invoice.updated"
        ],
        "{frames:#?}"
    );
    let price = &frames[0]["data"]["prices"][0];
    assert!(price["value"].is_number(), "{price}");
    let pay = &frames[2]["data"];
    assert_eq!(pay["invoice_id"], id.as_str());
    assert_eq!(pay["amount_sats"], 15385);
    assert!(pay["amount"].is_number());
    assert_eq!(pay["invoice"]["status"], "paid");
    let upd = &frames[3]["data"];
    assert_eq!(upd["id"], id.as_str());
    assert_eq!(upd["status"], "paid");
    assert_eq!(upd["state"], "pending");
    assert!(upd["updated_at"].is_string());

    let frames = pushed_until_pong(&mut other).await;
    let kinds: Vec<&str> = frames
        .iter()
        .map(|f| f["type"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        kinds,
        ["invoice.created", "payment.received", "invoice.updated"],
        "address subscriber: no price.updated, it did not ask"
    );

    // The account subscriber also hears of the seed-example invoice
    // (created, then cancelled); these are the paid invoice's frames.
    let frames: Vec<Value> = pushed_until_pong(&mut shop)
        .await
        .into_iter()
        .filter(|f| {
            let d = &f["data"];
            [&d["uid"], &d["id"], &d["invoice_id"]].contains(&&json!(id))
        })
        .collect();
    let kinds: Vec<&str> = frames
        .iter()
        .map(|f| f["type"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        kinds,
        ["invoice.created", "payment.received", "invoice.updated"],
        "account subscriber"
    );
    assert_eq!(frames[0]["data"]["uid"], id.as_str());

    // Unsubscribed: no more invoice pushes.
    let un = ask(
        &mut buyer,
        json!({"action": "unsubscribe", "type": "invoice", "id": id}),
    )
    .await;
    assert_eq!(un["message"], format!("Unsubscribed from invoice {id}"));
    let r = gw
        .call(
            "POST",
            "/v1/sandbox/blocks",
            Some(&key),
            Some(json!({"count": 1})),
        )
        .await;
    assert_eq!(r.status, 201);
    satsgate::webhooks::fanout::sweep_outbox(gw.app(), None)
        .await
        .unwrap();
    assert!(pushed_until_pong(&mut buyer).await.is_empty());
    let frames = pushed_until_pong(&mut shop).await;
    assert!(
        frames
            .iter()
            .any(|f| f["type"] == "invoice.updated" && f["data"]["state"] == "completed"),
        "{frames:#?}"
    );

    gw.stop().await;
}
per_engine!(
    protocol_invoices_and_pushed_events,
    flavor = "multi_thread",
    worker_threads = 4
);

#[tokio::test]
async fn bad_requests_get_error_replies_and_the_socket_stays_open() {
    let gw = gateway(Engine::Embedded).await.unwrap();
    let mut ws = connect(&ws_url(&gw, "/ws"), None).await.unwrap();
    send_raw(&mut ws, "{not json").await;
    let r = recv(&mut ws).await;
    assert_eq!(r["status"], "error");
    assert!(
        r["message"].as_str().unwrap().contains("malformed JSON"),
        "{r}"
    );
    for (req, needle) in [
        (json!({"action": "fly"}), "unknown action `fly`"),
        (json!({"no": "action"}), "missing field `action`"),
        (json!({"action": "fetch_invoice"}), "missing field `id`"),
        (
            json!({"action": "convert_price", "quote_currency": "BTC", "base_currency": "USD"}),
            "missing field `quote_value`",
        ),
        (
            json!({"action": "subscribe", "type": "planet", "id": "x"}),
            "unknown subscription type `planet`",
        ),
        (
            json!({"action": "subscribe", "type": "account", "id": "acct_1"}),
            "need an API key",
        ),
        (
            json!({"action": "fetch_invoice", "id": "inv_nope"}),
            "not found",
        ),
        (
            json!({"action": "convert_price", "quote_currency": "XXX", "base_currency": "USD", "quote_value": 1}),
            "quote_currency",
        ),
    ] {
        let r = ask(&mut ws, req.clone()).await;
        assert_eq!(r["status"], "error", "{req} -> {r}");
        assert!(
            r["message"].as_str().unwrap().contains(needle),
            "{req} -> {r}"
        );
    }
    send_raw(&mut ws, "[1,2]").await;
    assert_eq!(recv(&mut ws).await["status"], "error");
    assert_eq!(
        ask(&mut ws, json!({"action": "ping"})).await["status"],
        "success",
        "still open"
    );
    gw.stop().await;
}

#[tokio::test]
async fn bad_keys_are_refused_at_connect_and_plain_gets_reach_the_api() {
    let gw = gateway(Engine::Embedded).await.unwrap();
    for (url, bearer) in [
        (ws_url(&gw, "/ws?token=sgs_not_a_key"), None),
        (ws_url(&gw, "/ws"), Some("sgs_not_a_key")),
        (ws_url(&gw, "/"), Some("sgs_not_a_key")),
    ] {
        match connect(&url, bearer).await {
            Err(WsError::Http(resp)) => assert_eq!(resp.status().as_u16(), 401, "{url}"),
            Err(e) => panic!("{url}: expected 401, got {e}"),
            Ok(_) => panic!("{url}: a bad key must be refused"),
        }
    }
    let (_, key) = gw
        .store(json!({"name": "Shop", "network": "regtest", "wallet": BIP84_VPUB}))
        .await;
    let mut ws = connect(&ws_url(&gw, &format!("/ws?token={key}")), None)
        .await
        .expect("good ?token=");
    let r = ask(
        &mut ws,
        json!({"action": "create_invoice", "amount": "0.001", "currency": "BTC"}),
    )
    .await;
    assert_eq!(r["status"], "success", "{r}");
    let plain = gw.call("GET", "/", None, None).await;
    assert_eq!(
        plain.status, 404,
        "plain GET / is the API's 404: {:?}",
        plain.body
    );
    assert_eq!(plain.body["error"]["code"], "not_found");
    assert_eq!(gw.call("GET", "/v1/health", None, None).await.status, 200);
    gw.stop().await;
}

// ---- AWS: Lambda handlers and ApiGatewayPush ----

fn ws_event(route: &str, conn: &str, body: Option<&str>, headers: Value, query: Value) -> Value {
    json!({
        "requestContext": {"routeKey": route, "eventType": "MESSAGE", "connectionId": conn, "stage": "prod",
                           "domainName": "abc.execute-api.us-east-1.amazonaws.com", "identity": {"sourceIp": "203.0.113.9"}},
        "headers": headers, "queryStringParameters": query, "body": body, "isBase64Encoded": false,
    })
}

/// Posts a fake @connections endpoint received: (connection id, frame).
type Posts = Arc<Mutex<Vec<(String, Value)>>>;

/// A fake @connections endpoint: records posts; `gone-*` ids answer 410.
/// `body` sent on connection `c-2` through the Lambda `$default` handler: its reply.
async fn say(app: &App, body: &str) -> Value {
    let r = on_message(
        app,
        &ws_event("$default", "c-2", Some(body), json!({}), Value::Null),
    )
    .await;
    serde_json::from_str(r["body"].as_str().unwrap()).unwrap()
}

async fn fake_connections() -> (String, Posts) {
    use axum::extract::{Path, State};
    let seen: Posts = Arc::default();
    async fn post(
        State(seen): State<Posts>,
        Path(id): Path<String>,
        body: axum::body::Bytes,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        if id.starts_with("gone") {
            return (
                http::StatusCode::GONE,
                [("x-amzn-errortype", "GoneException")],
                "{\"message\":\"gone\"}",
            )
                .into_response();
        }
        seen.lock()
            .unwrap()
            .push((id, serde_json::from_slice(&body).unwrap()));
        http::StatusCode::OK.into_response()
    }
    let app = axum::Router::new()
        .route("/prod/@connections/{id}", axum::routing::post(post))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/prod", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test]
async fn lambda_handlers_keep_connections_and_subscriptions_in_the_table() {
    let app = App::in_memory();
    satsgate::prices::poller::poll_prices(&app).await.unwrap();
    let (_, _, account_key) = satsgate::account::create_account(&*app.table, "T", app.now())
        .await
        .unwrap();
    let r = on_connect(
        &app,
        &ws_event(
            "$connect",
            "c-bad",
            None,
            json!({}),
            json!({"token": "sga_wrong"}),
        ),
    )
    .await;
    assert_eq!(r["statusCode"], 401, "{r}");
    let r = on_connect(
        &app,
        &ws_event(
            "$connect",
            "c-1",
            None,
            json!({"Authorization": format!("Bearer {account_key}")}),
            Value::Null,
        ),
    )
    .await;
    assert_eq!(r["statusCode"], 200, "{r}");
    let r = on_connect(
        &app,
        &ws_event("$connect", "c-2", None, json!({}), Value::Null),
    )
    .await;
    assert_eq!(r["statusCode"], 200);
    let r = say(
        &app,
        r#"{"action":"subscribe","type":"invoice","id":"inv_x"}"#,
    )
    .await;
    assert_eq!(r["message"], "Subscribed to invoice inv_x");
    let r = say(&app, "{oops").await;
    assert_eq!(r["status"], "error");
    let r = say(&app, r#"{"action":"list_prices"}"#).await;
    assert!(r["data"][0]["value"].is_number(), "{r}");
    let subs = satsgate::ws::aws::subscribers(&*app.table, &Topic::Invoice("inv_x".into()))
        .await
        .unwrap();
    assert_eq!(subs, ["c-2"]);
    let all = satsgate::ws::aws::subscribers(&*app.table, &Topic::Prices)
        .await
        .unwrap();
    assert!(all.is_empty(), "nobody asked for prices yet: {all:?}");
    let r = say(&app, r#"{"action":"subscribe","type":"prices"}"#).await;
    assert_eq!(r["message"], "Subscribed to prices");
    let all = satsgate::ws::aws::subscribers(&*app.table, &Topic::Prices)
        .await
        .unwrap();
    assert_eq!(
        all,
        ["c-2"],
        "only a connection that asked gets price.updated"
    );

    // Pushes: c-2 hears invoice inv_x; a gone connection is forgotten.
    let (url, seen) = fake_connections().await;
    let push = ApiGatewayPush::for_emulator(app.table.clone(), &url);
    satsgate::ws::aws::add_subscription(&app, "gone-1", &Topic::Invoice("inv_x".into()))
        .await
        .unwrap();
    let ev = Event::new(
        satsgate::events::EventKind::InvoiceUpdated,
        "st_1",
        Some("inv_x"),
        json!({"invoice": {"id": "inv_x", "status": "pending", "updated_at": "2024-01-01T00:00:00Z", "address": "bcrt1qx"}}),
        app.now(),
    );
    push.push(&ev).await;
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "c-2");
    assert_eq!(
        got[0].1,
        json!({"type": "invoice.updated", "data": {"id": "inv_x", "status": "paid", "state": "pending", "updated_at": "2024-01-01T00:00:00Z"}})
    );
    let subs = satsgate::ws::aws::subscribers(&*app.table, &Topic::Invoice("inv_x".into()))
        .await
        .unwrap();
    assert_eq!(
        subs,
        ["c-2"],
        "the gone connection's subscription is deleted"
    );
    push.push(&Event::new(
        satsgate::events::EventKind::InvoicePaid,
        "st_1",
        Some("inv_x"),
        ev.data.clone(),
        app.now(),
    ))
    .await;
    assert_eq!(seen.lock().unwrap().len(), 1, "one status change, one push");

    let r = on_disconnect(
        &app,
        &ws_event("$disconnect", "c-2", None, json!({}), Value::Null),
    )
    .await;
    assert_eq!(r["statusCode"], 200);
    assert!(
        satsgate::ws::aws::subscribers(&*app.table, &Topic::Invoice("inv_x".into()))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        satsgate::ws::aws::subscribers(&*app.table, &Topic::Prices)
            .await
            .unwrap()
            .is_empty(),
        "c-2's price subscription went with it"
    );
}

#[tokio::test]
async fn api_gateway_push_posts_through_moto() {
    let Some(endpoint) = satsgate_e2e::moto_endpoint() else {
        return;
    };
    let app = App::in_memory();
    let push = ApiGatewayPush::for_emulator(app.table.clone(), &endpoint);
    push.post(
        "conn-moto-1",
        r#"{"type":"price.updated","data":{"prices":[]}}"#,
    )
    .await
    .expect("moto accepts post_to_connection");
    satsgate::ws::aws::add_subscription(&app, "conn-moto-2", &Topic::Prices)
        .await
        .unwrap();
    let n = push
        .push_frame(
            &[Topic::Prices],
            &json!({"type": "price.updated", "data": {"prices": []}}),
        )
        .await;
    assert_eq!(n, 1);
}

#[test]
fn template_declares_the_websocket_api() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let t: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(format!("{root}/template.yaml")).unwrap())
            .unwrap();
    let res = &t["Resources"];
    assert_eq!(
        res["WebSocketApi"]["Properties"]["ProtocolType"].as_str(),
        Some("WEBSOCKET")
    );
    assert_eq!(
        res["WebSocketApi"]["Properties"]["RouteSelectionExpression"].as_str(),
        Some("$request.body.action")
    );
    for (route, function, binary) in [
        ("WsConnectRoute", "WsConnectFunction", "ws-connect"),
        ("WsDisconnectRoute", "WsDisconnectFunction", "ws-disconnect"),
        ("WsDefaultRoute", "WsDefaultFunction", "ws-default"),
    ] {
        assert!(res[route]["Properties"]["RouteKey"]
            .as_str()
            .unwrap()
            .starts_with('$'));
        assert_eq!(
            res[function]["Properties"]["CodeUri"].as_str(),
            Some(format!("target/lambda/{binary}/").as_str())
        );
        assert!(
            std::path::Path::new(&format!("{root}/functions/src/bin/{binary}.rs")).exists(),
            "{binary}"
        );
    }
    assert_eq!(
        res["WebSocketStage"]["Properties"]["AutoDeploy"].as_bool(),
        Some(true)
    );
    let env = &res["EventsFanoutFunction"]["Properties"]["Environment"]["Variables"];
    assert!(
        !env["WEBSOCKET_CALLBACK_URL"].is_null(),
        "the fan-out pushes through @connections"
    );
}

/// Send one request and read the very next frame.
async fn send_then_read(ws: &mut Ws, v: Value) -> Value {
    send(ws, v).await;
    recv(ws).await
}

/// An anypay-style client sends one request and reads the very next frame
/// as its reply: nothing it did not ask for may come in between (prices
/// are polled meanwhile, but this client never subscribed to them).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_send_then_read_client_gets_each_reply_next() {
    let Some(gw) = gateway(Engine::Embedded).await else {
        return;
    };
    let (_, key) = gw
        .store(json!({"name": "Anypay client", "network": "regtest", "wallet": BIP84_VPUB}))
        .await;
    let mut ws = connect(&ws_url(&gw, "/"), Some(&key)).await.unwrap();
    let r = send_then_read(&mut ws, json!({"action": "ping"})).await;
    assert_eq!(r["type"], "pong", "{r}");
    // New prices are published while the client works: not its business.
    satsgate::prices::poller::poll_prices(gw.app())
        .await
        .unwrap();
    satsgate::webhooks::fanout::sweep_outbox(gw.app(), None)
        .await
        .unwrap();
    let r = send_then_read(&mut ws, json!({"action": "list_prices"})).await;
    assert_eq!(
        (r["status"].as_str(), r["action"].as_str()),
        (Some("success"), Some("list_prices")),
        "{r}"
    );
    let r = send_then_read(
        &mut ws,
        json!({"action": "create_invoice", "amount": 1000, "currency": "USD", "account_id": 1}),
    )
    .await;
    assert_eq!(r["action"], "create_invoice", "{r}");
    let uid = r["data"]["invoice"]["uid"].as_str().unwrap().to_string();
    let r = send_then_read(&mut ws, json!({"action": "fetch_invoice", "id": uid})).await;
    assert_eq!(
        (r["action"].as_str(), r["data"]["uid"].as_str()),
        (Some("fetch_invoice"), Some(uid.as_str())),
        "{r}"
    );
    let r = send_then_read(
        &mut ws,
        json!({"action": "subscribe", "type": "invoice", "id": uid}),
    )
    .await;
    assert_eq!(r["message"], format!("Subscribed to invoice {uid}"), "{r}");
    let r = send_then_read(&mut ws, json!({"action": "cancel_invoice", "uid": uid})).await;
    assert_eq!(
        (r["action"].as_str(), r["status"].as_str()),
        (Some("cancel_invoice"), Some("success")),
        "{r}"
    );
    // Its own subscription's push comes when the fan-out runs, after the reply.
    satsgate::webhooks::fanout::sweep_outbox(gw.app(), None)
        .await
        .unwrap();
    // (the fan-out had not run since the invoice was made: created, then cancelled)
    let created = recv(&mut ws).await;
    assert_eq!(created["type"], "invoice.created", "{created}");
    let pushed = recv(&mut ws).await;
    assert_eq!(pushed["type"], "invoice.updated", "{pushed}");
    assert_eq!(pushed["data"]["status"], "cancelled");
    gw.stop().await;
}
