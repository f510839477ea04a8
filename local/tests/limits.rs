//! satsgate-local's limits (README "Limits") with real clients: raw TCP
//! sockets for slow and malformed requests, reqwest for a normal client,
//! tokio-tungstenite for the WebSocket, and the binary under a low
//! open-files limit.

use futures::{SinkExt, StreamExt};
use satsgate::app::{App, Config};
use satsgate_local::{Limits, Running, WsLimits};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const VPUB: &str = "vpub5Y6cjg78GGuNLsaPhmYsiw4gYX3HoQiRBiSwDaBXKUafCt9bNwWQiitDk5VZ5BVxYnQdwoTyXSs2JHRPAgjAvtbBrf8ZhDYe2jWAqvZVnsc";

async fn start(app: App, limits: Limits) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    satsgate_local::start_limited(Arc::new(app), listener, limits)
        .await
        .unwrap()
}

/// An answer read off a raw socket.
#[derive(Debug)]
struct Raw {
    status: u16,
    head: String,
    body: Value,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The API's error envelope with this status and a request id.
    fn assert_envelope(&self, status: u16) {
        assert_eq!(self.status, status, "{self:?}");
        assert!(
            self.body["error"]["code"].is_string() && self.body["error"]["message"].is_string(),
            "{self:?}"
        );
        assert!(
            self.header("x-request-id")
                .is_some_and(|v| v.starts_with("req_")),
            "{self:?}"
        );
    }
}

fn parse(bytes: &[u8]) -> Raw {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    Raw {
        status,
        head: head.to_string(),
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

/// Read until the server closes the socket (or `within` passes).
async fn read_all(s: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(within, s.read_to_end(&mut out)).await;
    out
}

/// Send `bytes` on a new connection and read the answer (one answer: the
/// requests send `Connection: close` or make the server close).
async fn raw(addr: SocketAddr, bytes: &[u8]) -> Raw {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    parse(&read_all(&mut s, Duration::from_secs(10)).await)
}

async fn account_key(app: &App) -> String {
    satsgate::account::create_account(&*app.table, "Limits", app.now())
        .await
        .unwrap()
        .2
}

#[tokio::test]
async fn every_http_error_answer_has_the_envelope_and_a_request_id() {
    let app = App::in_memory();
    let key = account_key(&app).await;
    let gw = start(app, Limits::default()).await;
    let addr = gw.addr;

    // Refused by hyper's parser (bad request line, bad header, a URI or a
    // head too large for it): no handler runs.
    raw(addr, b"GARBAGE\r\n\r\n").await.assert_envelope(400);
    raw(
        addr,
        b"GET /v1/health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    )
    .await
    .assert_envelope(400);
    let huge_uri = format!(
        "GET /v1/health?q={} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(70_000)
    );
    raw(addr, huge_uri.as_bytes()).await.assert_envelope(414);
    let huge_head = format!(
        "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "b".repeat(200_000)
    );
    raw(addr, huge_head.as_bytes()).await.assert_envelope(431);
    // Our own URI limit (8 KiB).
    let long_uri = format!(
        "GET /v1/health?q={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(10_000)
    );
    raw(addr, long_uri.as_bytes()).await.assert_envelope(414);

    let http = reqwest::Client::new();
    let url = gw.url();
    let answer = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        let id = r
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body: Value = r.json().await.unwrap_or(Value::Null);
        (status, id, body)
    };
    let checks = [
        // body over 64 KiB
        http.post(format!("{url}/v1/stores"))
            .bearer_auth(&key)
            .body(vec![b' '; 70_000]),
        // malformed JSON, sent as the wrong content type
        http.post(format!("{url}/v1/stores"))
            .bearer_auth(&key)
            .header("content-type", "text/plain")
            .body("name=shop"),
        // the router: no such path, wrong method
        http.get(format!("{url}/v1/nothing-here")),
        http.delete(format!("{url}/v1/health")),
        // a WebSocket upgrade with a bad key, and a broken upgrade
        http.get(format!("{url}/ws?token=nope"))
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        http.get(format!("{url}/ws"))
            .header("connection", "upgrade")
            .header("upgrade", "websocket"),
    ];
    let expected = [413, 400, 404, 405, 401, 400];
    for (req, want) in checks.into_iter().zip(expected) {
        let (status, id, body) = answer(req.send().await.unwrap()).await;
        assert_eq!(status, want, "{body}");
        assert!(body["error"]["code"].is_string(), "{status}: {body}");
        assert!(
            id.is_some_and(|v| v.starts_with("req_")),
            "{status}: no X-Request-Id"
        );
    }
    gw.stop().await;
}

#[tokio::test]
async fn slow_heads_and_bodies_get_408_and_idle_sockets_are_closed() {
    let limits = Limits {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(2),
        ..Limits::default()
    };
    let gw = start(App::in_memory(), limits).await;
    let addr = gw.addr;

    // A head that never ends: 408 in the envelope, then the socket closes.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let got = read_all(&mut s, Duration::from_secs(10)).await;
    parse(&got).assert_envelope(408);
    assert!(started.elapsed() < Duration::from_secs(5));

    // A head in time, a body that never ends.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /v1/stores HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"na")
        .await
        .unwrap();
    let got = read_all(&mut s, Duration::from_secs(10)).await;
    parse(&got).assert_envelope(408);

    // A socket that sends nothing is closed after the idle timeout ...
    let mut idle = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let got = read_all(&mut idle, Duration::from_secs(10)).await;
    assert!(got.is_empty());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(6),
        "{waited:?}"
    );

    // ... and so is a kept-alive one after its answer; a head that takes
    // longer than the header timeout in total is fine while the idle
    // time before it is what passes.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut first = vec![0u8; 4096];
    let n = s.read(&mut first).await.unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    s.write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let n = s.read(&mut first).await.unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    assert!(read_all(&mut s, Duration::from_secs(10)).await.is_empty());
    assert!(started.elapsed() < Duration::from_secs(6));
    gw.stop().await;
}

#[tokio::test]
async fn sockets_past_the_connection_limit_wait_and_others_are_served() {
    let limits = Limits {
        max_connections: 20,
        header_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(2),
        ..Limits::default()
    };
    let gw = start(App::in_memory(), limits).await;
    let addr = gw.addr;
    // 60 idle sockets and 20 slowloris ones (a header byte every 300 ms).
    let mut idle = Vec::new();
    for _ in 0..60 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        slow.push(tokio::spawn(async move {
            let _ = s.write_all(b"GET /v1/health HTTP/1.1\r\n").await;
            for _ in 0..100 {
                if s.write_all(b"X-A: b\r\n").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }));
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let r = http
        .get(format!("{}/v1/health", gw.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The slow writers were cut off by the header timeout.
    for t in slow {
        tokio::time::timeout(Duration::from_secs(30), t)
            .await
            .unwrap()
            .unwrap();
    }
    gw.stop().await;
}

/// The binary under an open-files limit of 128 and 300 idle sockets:
/// it keeps answering (without a connection limit, accept fails with
/// `Too many open files` and nobody is served).
#[tokio::test]
async fn the_binary_survives_more_idle_sockets_than_open_files() {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 128 && exec \"$0\" --memory --listen 127.0.0.1:0")
        .arg(env!("CARGO_BIN_EXE_satsgate-local"))
        .env_remove("TABLE_NAME")
        .env("SATSGATE_MAX_CONNECTIONS", "64")
        .env("SATSGATE_HEADER_TIMEOUT_SECS", "1")
        .env("SATSGATE_IDLE_TIMEOUT_SECS", "2")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("satsgate-local exited early").unwrap();
        if let Some(u) = line.strip_prefix("listening on ") {
            break u.to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let addr: SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(40))
        .build()
        .unwrap();
    let served = http.get(format!("{url}/v1/health")).send().await;
    let alive = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(alive, "satsgate-local exited");
    assert_eq!(served.expect("a normal client is served").status(), 200);
}

#[tokio::test]
async fn allowlist_refusals_do_not_use_up_the_rate_limit() {
    let app = App::in_memory();
    let app = App::new(
        app.table.clone(),
        app.clock.clone(),
        Config {
            rate_limit_per_minute: 3,
            ..app.config.clone()
        },
    );
    let key = account_key(&app).await;
    let gw = start(app, Limits::default()).await;
    let http = reqwest::Client::new();
    let url = gw.url();
    let r = http
        .post(format!("{url}/v1/stores"))
        .bearer_auth(&key)
        .json(
            &json!({"name": "Shop", "network": "regtest", "wallet": VPUB,
                      "api_allowed_ips": ["10.1.2.3"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let store_id = created["store"]["id"].as_str().unwrap().to_string();
    let store_key = created["api_key"]["key"].as_str().unwrap().to_string();
    let list_invoices = || async {
        http.get(format!("{url}/v1/invoices"))
            .bearer_auth(&store_key)
            .send()
            .await
            .unwrap()
    };
    for _ in 0..6 {
        assert_eq!(list_invoices().await.status(), 403);
    }
    let r = http
        .patch(format!("{url}/v1/stores/{store_id}"))
        .bearer_auth(&key)
        .json(&json!({"api_allowed_ips": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = list_invoices().await;
    assert_eq!(r.status(), 200, "refused calls used up the rate limit");
    assert_eq!(r.headers()["x-ratelimit-remaining"], "2");
    gw.stop().await;
}

/// The default limits with these WebSocket caps.
fn ws_limits(ws: WsLimits) -> Limits {
    Limits {
        ws,
        ..Limits::default()
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws(gw: &Running) -> Ws {
    let url = gw.url().replacen("http://", "ws://", 1) + "/ws";
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// The next frame (5 s at most); None when the socket ended.
async fn next(ws: &mut Ws) -> Option<Message> {
    tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("a frame within 5 s")
        .and_then(Result::ok)
}

async fn next_json(ws: &mut Ws) -> Value {
    match next(ws).await {
        Some(Message::Text(t)) => serde_json::from_str(t.as_str()).unwrap(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

async fn ask(ws: &mut Ws, v: Value) -> Value {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
    next_json(ws).await
}

fn sub(id: &str) -> Value {
    json!({"action": "subscribe", "type": "invoice", "id": id})
}

/// The close code that ends the socket (after any text frames).
async fn close_code(ws: &mut Ws) -> Option<u16> {
    loop {
        match next(ws).await? {
            Message::Close(f) => return f.map(|f| u16::from(f.code)),
            _ => continue,
        }
    }
}

#[tokio::test]
async fn websocket_subscriptions_are_capped_and_released_on_close() {
    let limits = ws_limits(WsLimits {
        max_subscriptions: 3,
        ..WsLimits::default()
    });
    let gw = start(App::in_memory(), limits).await;
    let mut c = ws(&gw).await;
    for i in 0..3 {
        assert_eq!(
            ask(&mut c, sub(&format!("inv_{i}"))).await["status"],
            "success"
        );
    }
    let r = ask(&mut c, sub("inv_3")).await;
    assert_eq!(r["status"], "error");
    assert_eq!(r["action"], "subscribe");
    assert!(r["message"].as_str().unwrap().contains("at most 3"), "{r}");
    // Subscribing again to one it has is not a new subscription.
    assert_eq!(ask(&mut c, sub("inv_1")).await["status"], "success");
    let r = ask(
        &mut c,
        json!({"action": "unsubscribe", "type": "invoice", "id": "inv_0"}),
    )
    .await;
    assert_eq!(r["status"], "success");
    assert_eq!(ask(&mut c, sub("inv_3")).await["status"], "success");
    // 3 invoices and, asked for, prices#all (which the cap does not count);
    // all gone once the socket closes.
    let r = ask(&mut c, json!({"action": "subscribe", "type": "prices"})).await;
    assert_eq!(r["status"], "success", "{r}");
    assert_eq!(gw.hub.topics(), 4);
    c.close(None).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while gw.hub.topics() > 0 || gw.hub.connections() > 0 {
        assert!(Instant::now() < deadline, "subscriptions not released");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gw.stop().await;
}

#[tokio::test]
async fn websocket_connections_are_capped_per_ip_and_in_total() {
    let per_ip = ws_limits(WsLimits {
        max_connections_per_ip: 2,
        ..WsLimits::default()
    });
    let gw = start(App::in_memory(), per_ip).await;
    let mut a = ws(&gw).await;
    let _b = ws(&gw).await;
    let mut c = ws(&gw).await;
    let r = next_json(&mut c).await;
    assert_eq!(r["status"], "error");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("at most 2 per address"),
        "{r}"
    );
    assert_eq!(close_code(&mut c).await, Some(1013));
    a.close(None).await.unwrap();
    while gw.hub.connections() > 1 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut d = ws(&gw).await;
    assert_eq!(
        ask(&mut d, json!({"action": "ping"})).await["status"],
        "success"
    );
    gw.stop().await;

    let total = ws_limits(WsLimits {
        max_connections: 1,
        ..WsLimits::default()
    });
    let gw = start(App::in_memory(), total).await;
    let _a = ws(&gw).await;
    let mut b = ws(&gw).await;
    let r = next_json(&mut b).await;
    assert!(
        r["message"].as_str().unwrap().contains("accepts 1 at most"),
        "{r}"
    );
    assert_eq!(close_code(&mut b).await, Some(1013));
    gw.stop().await;
}

#[tokio::test]
async fn websocket_messages_over_the_limit_get_an_error_reply() {
    let gw = start(App::in_memory(), Limits::default()).await;
    let mut c = ws(&gw).await;
    // Over the protocol's 64 KiB: an error reply, the socket stays open.
    let r = ask(&mut c, Value::String("x".repeat(100 * 1024))).await;
    assert_eq!(r["status"], "error");
    assert!(
        r["message"].as_str().unwrap().contains("larger than"),
        "{r}"
    );
    assert_eq!(
        ask(&mut c, json!({"action": "ping"})).await["status"],
        "success"
    );
    // Over what is read at all: an error reply, then close code 1009.
    c.send(Message::Text("y".repeat(300 * 1024).into()))
        .await
        .unwrap();
    let r = next_json(&mut c).await;
    assert_eq!(r["status"], "error");
    assert!(
        r["message"].as_str().unwrap().contains("larger than"),
        "{r}"
    );
    assert_eq!(close_code(&mut c).await, Some(1009));
    gw.stop().await;
}
