//! Shared by the webhook tests: a real HTTP receiver on 127.0.0.1 with a
//! scripted behaviour, SQS queues on moto_server, the app a shop serves with
//! its jobs (`satsgate_e2e::Shop::serve`), and an event writer that does what
//! invoices do (the event in a transaction, into the outbox).
#![allow(dead_code)]

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use satsgate::app::{App, Config};
use satsgate::clock::SystemClock;
use satsgate::events::Event;
use satsgate::queue::sqs::{create_queue_pair, SqsQueue};
use satsgate::queue::Queue;
use satsgate::table::Table;
use satsgate::webhooks::Settings;
use satsgate_e2e::moto_endpoint;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- receiver

/// What the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Status(u16),
    /// Accept the request and never answer.
    Hang,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("webhook body is JSON")
    }
    pub fn event_id(&self) -> String {
        self.json()["id"].as_str().unwrap_or_default().to_string()
    }
    /// Whether `Satsgate-Signature` verifies with `secret`, now.
    pub fn verifies(&self, secret: &str) -> bool {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        satsgate::webhooks::signature::verify(
            secret,
            self.header("satsgate-signature"),
            self.body.as_bytes(),
            now,
            300,
        )
        .is_ok()
    }
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Mode>,
    default: Option<Mode>,
    got: Vec<Received>,
}

/// An HTTP server on 127.0.0.1:<random> recording every request.
#[derive(Clone)]
pub struct Receiver {
    pub addr: std::net::SocketAddr,
    inner: Arc<Mutex<Inner>>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    let mode = {
        let mut i = inner.lock().unwrap();
        i.got.push(Received {
            at: Instant::now(),
            path: uri.path().to_string(),
            headers,
            body,
        });
        let d = i.default.unwrap_or(Mode::Status(200));
        i.script.pop_front().unwrap_or(d)
    };
    match mode {
        Mode::Status(s) => (
            StatusCode::from_u16(s).unwrap(),
            format!("{{\"received\": true, \"status\": {s}}}"),
        ),
        Mode::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
    }
}

impl Receiver {
    /// Answers `script` in turn, then `default` (200 if None).
    pub async fn start(script: Vec<Mode>, default: Option<Mode>) -> Receiver {
        let inner = Arc::new(Mutex::new(Inner {
            script: script.into(),
            default,
            got: vec![],
        }));
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Receiver {
            addr,
            inner,
            task: Arc::new(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn set_default(&self, mode: Mode) {
        self.inner.lock().unwrap().default = Some(mode);
    }

    pub fn got(&self) -> Vec<Received> {
        self.inner.lock().unwrap().got.clone()
    }

    pub fn got_on(&self, path: &str) -> Vec<Received> {
        self.got().into_iter().filter(|r| r.path == path).collect()
    }

    /// Wait until at least `n` requests arrived on `path` (panics after `within`).
    pub async fn wait_for(&self, path: &str, n: usize, within: Duration) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.got_on(path);
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < within,
                "receiver got {} of {n} requests on {path} within {within:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

// ------------------------------------------------------------------- queues

/// Which queue adapter the gateway uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueKind {
    /// The table-backed queue of satsgate-local.
    Table,
    /// SQS on moto_server.
    Sqs,
}

pub fn sqs_client() -> Option<aws_sdk_sqs::Client> {
    let endpoint = moto_endpoint()?;
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "satsgate-tests",
        ))
        .build();
    Some(aws_sdk_sqs::Client::from_conf(conf))
}

/// A fresh queue + DLQ on moto_server (redrive after `max_receives`).
pub async fn sqs_queue(max_receives: u32) -> Option<SqsQueue> {
    let client = sqs_client()?;
    let name = format!("satsgate-test-{}", uuid::Uuid::new_v4().simple());
    let (url, dlq) = create_queue_pair(&client, &name, max_receives)
        .await
        .expect("create queues on moto_server");
    Some(SqsQueue::new(client, url).with_dlq(dlq))
}

/// Timings that let tests watch retries: SQS counts whole seconds.
pub fn fast_settings(kind: QueueKind) -> Settings {
    match kind {
        QueueKind::Table => Settings::fast(),
        QueueKind::Sqs => Settings {
            retry_delays: vec![
                Duration::from_secs(1),
                Duration::from_secs(2),
                Duration::from_secs(3),
                Duration::from_secs(4),
            ],
            timeout: Duration::from_secs(2),
            jitter: 0.1,
        },
    }
}

/// Retry waits far enough apart (x3) that scheduling noise on a busy
/// machine cannot reorder the measured gaps.
pub fn retry_settings(kind: QueueKind) -> Settings {
    let ms = |v: &[u64]| v.iter().map(|m| Duration::from_millis(*m)).collect();
    match kind {
        QueueKind::Table => Settings {
            retry_delays: ms(&[250, 750, 2250, 2250]),
            timeout: Duration::from_secs(2),
            jitter: 0.1,
        },
        QueueKind::Sqs => Settings {
            retry_delays: ms(&[1000, 3000, 6000, 6000]),
            timeout: Duration::from_secs(2),
            jitter: 0.1,
        },
    }
}

// ---------------------------------------------------------------------- app

pub fn config(settings: Settings, insecure: bool) -> Config {
    Config {
        allow_insecure_urls: insecure,
        webhooks: settings,
        ..Config::default()
    }
}

/// An app on `table` with `queue` (None: the table-backed default).
pub fn app(table: Arc<dyn Table>, config: Config, queue: Option<Arc<dyn Queue>>) -> App {
    let app = App::new(table, Arc::new(SystemClock), config);
    match queue {
        Some(q) => app.with_queue(q),
        None => app,
    }
}

// ------------------------------------------------------------------- events

/// Write an invoice event the way invoices do: in a transaction, into the
/// outbox. Returns the event.
pub async fn write_event(
    table: &dyn Table,
    store_id: &str,
    kind: &str,
    invoice_id: &str,
    webhook_url: Option<&str>,
) -> Event {
    let now = time::OffsetDateTime::now_utc();
    let data = json!({"invoice": {
        "id": invoice_id, "store_id": store_id, "status": "new", "amount": "19.99", "currency": "USD",
        "webhook_url": webhook_url, "metadata": {"order": "A-1001"},
    }});
    let kind = satsgate::events::EventKind::parse(kind).expect("an event kind");
    let event = Event::new(kind, store_id, Some(invoice_id), data, now);
    table
        .transact(vec![event.put_op(now)])
        .await
        .expect("write event");
    event
}

/// Event ids still in the outbox.
pub async fn outbox(table: &dyn Table) -> Vec<String> {
    let page = table
        .query(
            satsgate::table::Query::index(satsgate::table::Index::Gsi2, satsgate::events::OUTBOX)
                .limit(100),
        )
        .await
        .unwrap();
    page.items
        .iter()
        .map(|i| i["sk"].as_str().unwrap().to_string())
        .collect()
}

/// Wait until `check` holds (panics after `within`).
pub async fn eventually<F, Fut>(within: Duration, what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < within, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
