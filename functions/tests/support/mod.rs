//! A small Lambda Runtime API server and the template reader used by the
//! process tests: each function binary runs as a child process with the
//! environment template.yaml declares for it, asks this server for its next
//! event, and posts its answer back, as it would on AWS Lambda.

#![allow(dead_code)]

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use serde_yaml_ng::Value as Yaml;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The directory holding the function binaries cargo built for this test.
pub fn bin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_health"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn template() -> Yaml {
    let text = std::fs::read_to_string(format!("{ROOT}/template.yaml")).unwrap();
    serde_yaml_ng::from_str(&text).expect("template.yaml parses as plain YAML")
}

/// One `AWS::Serverless::Function` of the template.
pub struct TemplateFunction {
    pub logical_id: String,
    pub binary: String,
    pub properties: Yaml,
}

pub fn template_functions(t: &Yaml) -> Vec<TemplateFunction> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(k, r)| TemplateFunction {
            logical_id: k.as_str().unwrap().to_string(),
            binary: r["Properties"]["CodeUri"]
                .as_str()
                .and_then(|uri| uri.strip_prefix("target/lambda/"))
                .map(|dir| dir.trim_end_matches('/').to_string())
                .unwrap_or_else(|| panic!("{k:?}: CodeUri is not target/lambda/<binary>/")),
            properties: r["Properties"].clone(),
        })
        .collect()
}

/// What the template's references stand for in a test deployment.
pub struct Resolver {
    /// `Ref`, `Fn::GetAtt` (`Name.Attr`) and `${...}` values.
    pub values: BTreeMap<String, String>,
}

impl Resolver {
    /// Pseudo parameters and the parameters' defaults; the caller adds
    /// resources (table name, queue URLs, ...).
    pub fn new(t: &Yaml) -> Resolver {
        let mut values = BTreeMap::new();
        for (k, v) in [
            ("AWS::Region", "us-east-1"),
            ("AWS::URLSuffix", "amazonaws.com"),
            ("AWS::Partition", "aws"),
            ("AWS::AccountId", "123456789012"),
            ("AWS::StackName", "satsgate-harness"),
        ] {
            values.insert(k.to_string(), v.to_string());
        }
        if let Some(params) = t["Parameters"].as_mapping() {
            for (k, p) in params {
                if let Some(d) = scalar(&p["Default"]) {
                    values.insert(k.as_str().unwrap().to_string(), d);
                }
            }
        }
        Resolver { values }
    }

    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.values.insert(name.to_string(), value.into());
    }

    fn lookup(&self, name: &str) -> String {
        self.values
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("the harness has no value for `{name}`"))
    }

    pub fn resolve(&self, v: &Yaml) -> String {
        if let Some(s) = scalar(v) {
            return s;
        }
        if let Some(r) = v["Ref"].as_str() {
            return self.lookup(r);
        }
        if let Some(seq) = v["Fn::GetAtt"].as_sequence() {
            let parts: Vec<&str> = seq.iter().map(|p| p.as_str().unwrap()).collect();
            return self.lookup(&parts.join("."));
        }
        if let Some(s) = v["Fn::Sub"].as_str() {
            let mut out = String::new();
            let mut rest = s;
            while let Some(i) = rest.find("${") {
                out.push_str(&rest[..i]);
                let end = rest[i..].find('}').unwrap() + i;
                out.push_str(&self.lookup(&rest[i + 2..end]));
                rest = &rest[end + 1..];
            }
            out.push_str(rest);
            return out;
        }
        panic!("the harness cannot resolve {v:?}")
    }

    /// The environment template.yaml gives `f`: Globals, then its own.
    pub fn environment(&self, t: &Yaml, f: &TemplateFunction) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for vars in [
            &t["Globals"]["Function"]["Environment"]["Variables"],
            &f.properties["Environment"]["Variables"],
        ] {
            if let Some(m) = vars.as_mapping() {
                for (k, v) in m {
                    env.insert(k.as_str().unwrap().to_string(), self.resolve(v));
                }
            }
        }
        env
    }
}

fn scalar(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Response,
    Error,
    InitError,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub kind: Kind,
    pub body: Value,
}

struct Rt {
    events: tokio::sync::Mutex<mpsc::Receiver<(String, Value)>>,
    outcomes: mpsc::Sender<Outcome>,
    first_next: Mutex<Option<Instant>>,
}

async fn next(State(rt): State<Arc<Rt>>) -> (HeaderMap, String) {
    rt.first_next
        .lock()
        .unwrap()
        .get_or_insert_with(Instant::now);
    let (id, event) = match rt.events.lock().await.recv().await {
        Some(e) => e,
        // No more events: park the function like an idle sandbox.
        None => std::future::pending().await,
    };
    let mut h = HeaderMap::new();
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 60_000;
    h.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
    h.insert(
        "lambda-runtime-deadline-ms",
        deadline.to_string().parse().unwrap(),
    );
    h.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:harness"
            .parse()
            .unwrap(),
    );
    h.insert(
        "lambda-runtime-trace-id",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
            .parse()
            .unwrap(),
    );
    h.insert("content-type", "application/json".parse().unwrap());
    (h, event.to_string())
}

async fn report(rt: &Rt, kind: Kind, body: String) -> StatusCode {
    let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let _ = rt.outcomes.send(Outcome { kind, body }).await;
    StatusCode::ACCEPTED
}

async fn response(State(rt): State<Arc<Rt>>, Path(_id): Path<String>, body: String) -> StatusCode {
    report(&rt, Kind::Response, body).await
}

async fn error(State(rt): State<Arc<Rt>>, Path(_id): Path<String>, body: String) -> StatusCode {
    report(&rt, Kind::Error, body).await
}

async fn init_error(State(rt): State<Arc<Rt>>, body: String) -> StatusCode {
    report(&rt, Kind::InitError, body).await
}

/// One function binary running as a process against its own Runtime API.
pub struct Function {
    pub name: String,
    child: Child,
    events: mpsc::Sender<(String, Value)>,
    outcomes: mpsc::Receiver<Outcome>,
    rt: Arc<Rt>,
    started: Instant,
    pub log: PathBuf,
    served: tokio::task::JoinHandle<()>,
    count: u32,
}

impl Function {
    /// Start `binary` with exactly `env` plus what the Lambda service sets.
    pub async fn start(
        binary: &str,
        env: &BTreeMap<String, String>,
        log_dir: &std::path::Path,
    ) -> Function {
        Function::start_from(&bin_dir(), binary, env, log_dir).await
    }

    /// `start` with the binary from another directory (a baseline build).
    pub async fn start_from(
        dir: &std::path::Path,
        binary: &str,
        env: &BTreeMap<String, String>,
        log_dir: &std::path::Path,
    ) -> Function {
        let (events_tx, events_rx) = mpsc::channel(8);
        let (out_tx, out_rx) = mpsc::channel(8);
        let rt = Arc::new(Rt {
            events: tokio::sync::Mutex::new(events_rx),
            outcomes: out_tx,
            first_next: Mutex::new(None),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(rt.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let log = log_dir.join(format!("{binary}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let started = Instant::now();
        let child = Command::new(dir.join(binary))
            .env_clear()
            .envs(env)
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", binary)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{binary}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/22/[$LATEST]harness")
            .env("_HANDLER", "bootstrap")
            .env("TZ", ":UTC")
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {binary}: {e}"));
        Function {
            name: binary.to_string(),
            child,
            events: events_tx,
            outcomes: out_rx,
            rt,
            started,
            log,
            served,
            count: 0,
        }
    }

    /// Feed one event and wait for the function's answer.
    pub async fn invoke(&mut self, event: Value) -> Outcome {
        self.count += 1;
        let id = format!("harness-{}-{}", self.name, self.count);
        self.events.send((id, event)).await.unwrap();
        match tokio::time::timeout(Duration::from_secs(90), self.outcomes.recv()).await {
            Ok(Some(o)) => o,
            _ => {
                let status = self.child.try_wait().ok().flatten();
                panic!(
                    "{}: no answer (process status {status:?}); log:\n{}",
                    self.name,
                    self.log_text()
                )
            }
        }
    }

    /// From process start to its first request for an event.
    pub async fn init_time(&self) -> Duration {
        for _ in 0..6000 {
            if let Some(t) = *self.rt.first_next.lock().unwrap() {
                return t - self.started;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!(
            "{}: never asked for an event; log:\n{}",
            self.name,
            self.log_text()
        )
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// CPU time the process has used so far (all threads), in ms: less
    /// noisy than wall time on a shared machine.
    pub fn cpu_ms(&self) -> Option<f64> {
        let s = std::fs::read_to_string(format!("/proc/{}/schedstat", self.child.id())).ok()?;
        let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
        Some(ns / 1e6)
    }

    /// Peak resident set (VmHWM) of the process so far, in kB.
    pub fn peak_rss_kb(&self) -> Option<u64> {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        s.lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.served.abort();
    }
}

/// The sample event(s) of a function: `events/<name>.json` and
/// `events/<name>-<case>.json` (when `<name>-<case>` is not a function).
pub fn samples(function: &str, all_functions: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(format!("{ROOT}/events")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        let owner = all_functions
            .iter()
            .filter(|f| stem == f.as_str() || stem.starts_with(&format!("{f}-")))
            .max_by_key(|f| f.len());
        if owner.is_some_and(|o| o == function) {
            out.push(stem.to_string());
        }
    }
    out.sort();
    out
}

/// A sample event with its placeholders filled in.
pub fn sample(stem: &str, subs: &BTreeMap<String, String>) -> Value {
    let mut text = std::fs::read_to_string(format!("{ROOT}/events/{stem}.json")).unwrap();
    for (k, v) in subs {
        text = text.replace(k.as_str(), v);
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("events/{stem}.json: {e}"))
}
