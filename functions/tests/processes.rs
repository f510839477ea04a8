//! Every function of template.yaml as a process: its binary, started with
//! exactly the environment the template declares for it (AWS endpoint on
//! moto_server), fed its events/ sample(s) through a Lambda Runtime API
//! server, answers as it should. The HTTP functions run as a merchant's
//! session: the ids the first answers return fill the later samples.

mod support;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use support::*;

/// moto_server, or None (skip) unless scripts/test requires it.
fn moto() -> Option<String> {
    match std::env::var("SATSGATE_TEST_AWS_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
    {
        Some(e) => Some(e),
        None if std::env::var("SATSGATE_REQUIRE_MOTO").is_ok_and(|v| v == "1") => {
            panic!("SATSGATE_REQUIRE_MOTO=1 but SATSGATE_TEST_AWS_ENDPOINT is not set")
        }
        None => {
            eprintln!("*** SKIPPED: set SATSGATE_TEST_AWS_ENDPOINT; scripts/test does ***");
            None
        }
    }
}

async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "testing", "testing", None, None, "harness",
        ))
        .load()
        .await
}

/// A deployment on moto_server: the table and the queues of the template,
/// and the values the template's references resolve to.
struct Deployment {
    endpoint: String,
    table: String,
    dynamo: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    resolver: Resolver,
}

impl Deployment {
    async fn create(endpoint: &str, t: &serde_yaml_ng::Value) -> Deployment {
        let conf = sdk_config(endpoint).await;
        let dynamo = aws_sdk_dynamodb::Client::new(&conf);
        let sqs = aws_sdk_sqs::Client::new(&conf);
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let table = format!("satsgate-harness-{suffix}");
        satsgate::table::dynamo::create_table(&dynamo, &table)
            .await
            .unwrap();
        let dlq_url = sqs
            .create_queue()
            .queue_name(format!("harness-dlq-{suffix}"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let queue_name = format!("harness-queue-{suffix}");
        let redrive = json!({
            "deadLetterTargetArn": format!("arn:aws:sqs:us-east-1:123456789012:harness-dlq-{suffix}"),
            "maxReceiveCount": 50
        });
        let queue_url = sqs
            .create_queue()
            .queue_name(&queue_name)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
                redrive.to_string(),
            )
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let mut resolver = Resolver::new(t);
        resolver.set("Table", &table);
        resolver.set("WebhookQueue", &queue_url);
        resolver.set("WebhookQueue.QueueName", &queue_name);
        resolver.set("WebhookDeadLetterQueue", &dlq_url);
        resolver.set("WebSocketApi", "abcdef1234");
        resolver.set("HttpApi", "fedcba4321");
        Deployment {
            endpoint: endpoint.to_string(),
            table,
            dynamo,
            sqs,
            queue_url,
            resolver,
        }
    }

    /// A merchant account in the deployment's table: its key.
    async fn account(&self, name: &str) -> String {
        let table =
            satsgate::table::dynamo::DynamoTable::new(self.dynamo.clone(), self.table.clone())
                .for_emulator();
        let now = time::OffsetDateTime::now_utc();
        let (_, _, key) = satsgate::account::create_account(&table, name, now)
            .await
            .unwrap();
        key
    }

    /// The template's environment for `f`, plus what the Lambda service
    /// and this test deployment add (credentials, region, the endpoint).
    fn env(&self, t: &serde_yaml_ng::Value, f: &TemplateFunction) -> BTreeMap<String, String> {
        let mut env = self.resolver.environment(t, f);
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
        ] {
            env.insert(k.to_string(), v.to_string());
        }
        env
    }
}

fn status(o: &Outcome) -> u64 {
    o.body["statusCode"].as_u64().unwrap_or(0)
}

/// The JSON body of an HTTP answer (Null when not JSON).
fn body(o: &Outcome) -> Value {
    o.body["body"]
        .as_str()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null)
}

/// What an HTTP function's sample must answer in the session below, and
/// why when it is not a success: (status, what the body must carry).
fn expected(function: &str) -> (u64, &'static str) {
    match function {
        "stores-create"
        | "api-keys-create"
        | "invoices-create"
        | "webhook-endpoints-create"
        | "invoices-import"
        | "webhook-deliveries-redeliver" => (201, "id"),
        // The sample's payment id and transaction are made up.
        "payments-get" => (404, "error.code"),
        "payment-request-pay" => (400, "error.code"),
        // invoices-mark (before them) marks the invoice invalid.
        "invoices-cancel" | "invoices-accept-underpayment" | "payment-request-create" => {
            (409, "error.code")
        }
        "refunds-create" => (400, "error.code"),
        // The sample asks for the store wallet's first address, which the
        // sample invoice holds: no fixed-address request may take it.
        "anypay-request-create" => (409, "error.code"),
        // Regtest is not served by a sandbox chain unless the stack is a sandbox.
        "sandbox-payments" | "sandbox-blocks" | "sandbox-reorg" | "sandbox-double-spend" => {
            (404, "error.code")
        }
        // No exchange is reachable from the test machine: no price yet.
        "prices-list" | "rates-list" | "convert" | "quotes-create" => (503, "error.code"),
        "checkout-page" | "qr" => (200, "raw"),
        // Functions added after this session's expectations were written
        // (users, faces, dashboard, OpenAPI): their samples carry ids this
        // session does not make, so here they must start with their template
        // environment and answer without a server error; their answers are
        // checked in tests/tests (users.rs, face_*.rs, dashboard.rs, ...).
        f if ["users-", "auth-", "panel-", "cryptopay-", "pos-"]
            .iter()
            .any(|p| f.starts_with(p))
            || ["anypay-prices", "openapi", "dashboard"].contains(&f) =>
        {
            (0, "no5xx")
        }
        _ => (200, "json"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_runs_as_a_process_with_its_template_environment() {
    let Some(endpoint) = moto() else {
        return;
    };
    let t = template();
    let functions = template_functions(&t);
    let names: Vec<String> = functions.iter().map(|f| f.binary.clone()).collect();
    let d = Deployment::create(&endpoint, &t).await;
    let logs = std::env::temp_dir().join(format!("satsgate-harness-{}", std::process::id()));
    std::fs::create_dir_all(&logs).unwrap();

    // The merchant's account exists before any function runs.
    let account_key = d.account("Harness").await;
    let mut subs = BTreeMap::from([
        ("__ACCOUNT_KEY__".to_string(), account_key),
        (
            "__EVENT_ID__".to_string(),
            satsgate::ids::new_id(satsgate::ids::IdKind::Event),
        ),
        (
            "__PAYMENT_ID__".to_string(),
            "pay_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4".to_string(),
        ),
        ("__TXID__".to_string(), "00".repeat(32)),
        ("__TX_HEX__".to_string(), "0200".to_string()),
        (
            "__INVOICE_WEBHOOK_URL__".to_string(),
            "https://hooks.example.com/invoice".to_string(),
        ),
    ]);

    // Creators first (their answers fill the later samples), deleters
    // last, the jobs before the delivery routes that need a delivery id.
    let first = [
        "health",
        "stores-create",
        "api-keys-create",
        "invoices-create",
        "webhook-endpoints-create",
    ];
    let jobs = [
        "events-fanout",
        "webhook-dispatcher",
        "chain-poller",
        "price-poller",
    ];
    let last = [
        "webhook-deliveries-list",
        "webhook-deliveries-get",
        "webhook-deliveries-redeliver",
        "api-keys-delete",
        "webhook-endpoints-delete",
    ];
    let mut order: Vec<&TemplateFunction> = Vec::new();
    for group in [&first[..], &[][..], &jobs[..], &last[..]] {
        if group.is_empty() {
            order.extend(functions.iter().filter(|f| {
                let n = f.binary.as_str();
                !first.contains(&n) && !jobs.contains(&n) && !last.contains(&n)
            }));
        } else {
            order.extend(group.iter().map(|n| {
                functions
                    .iter()
                    .find(|f| f.binary == *n)
                    .unwrap_or_else(|| panic!("{n} in template"))
            }));
        }
    }
    assert_eq!(order.len(), functions.len());

    let mut answered = Vec::new();
    for f in order {
        let stems = samples(&f.binary, &names);
        assert!(!stems.is_empty(), "{}: no sample in events/", f.binary);
        let mut p = Function::start(&f.binary, &d.env(&t, f), &logs).await;
        for stem in stems {
            let event = if stem == "webhook-dispatcher" {
                dispatcher_event(&d, &mut subs).await
            } else {
                sample(&stem, &subs)
            };
            let o = p.invoke(event).await;
            assert_eq!(
                o.kind,
                Kind::Response,
                "{stem}: {:?}\nlog:\n{}",
                o.body,
                p.log_text()
            );
            check(&f.binary, &stem, &o, &mut subs, &p);
            answered.push(stem);
        }
    }
    eprintln!("answered as processes: {}", answered.len());
    let _ = std::fs::remove_dir_all(&logs);
}

/// The SQS event the dispatcher gets: the delivery events-fanout queued
/// (received from the queue on moto_server, as the event source mapping does).
async fn dispatcher_event(d: &Deployment, subs: &mut BTreeMap<String, String>) -> Value {
    let got = d
        .sqs
        .receive_message()
        .queue_url(&d.queue_url)
        .max_number_of_messages(1)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap();
    let m = got
        .messages()
        .first()
        .expect("events-fanout queued a delivery")
        .clone();
    let body: Value = serde_json::from_str(m.body().unwrap()).unwrap();
    subs.insert(
        "__DELIVERY_ID__".into(),
        body["delivery_id"].as_str().unwrap().into(),
    );
    let mut event = sample("webhook-dispatcher", subs);
    let r = &mut event["Records"][0];
    r["messageId"] = json!(m.message_id().unwrap());
    r["receiptHandle"] = json!(m.receipt_handle().unwrap());
    r["body"] = json!(m.body().unwrap());
    event
}

/// The values of `metric` in the function's Embedded Metric Format lines.
fn emf(p: &Function, metric: &str) -> Vec<u64> {
    p.log_text()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| {
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .is_some_and(|m| m.iter().any(|d| d["Name"] == metric))
        })
        .filter_map(|v| v[metric].as_u64())
        .collect()
}

fn check(
    function: &str,
    stem: &str,
    o: &Outcome,
    subs: &mut BTreeMap<String, String>,
    p: &Function,
) {
    let log = || p.log_text();
    match function {
        "events-fanout" if stem == "events-fanout" => {
            assert_eq!(o.body["batchItemFailures"], json!([]), "{:?}", o.body);
            // The endpoint (updated to `*`) and the invoice's own webhook_url.
            assert_eq!(o.body["deliveries"], 2, "{:?}", o.body);
        }
        "events-fanout" => assert!(o.body["swept"].is_u64(), "{:?}", o.body),
        "webhook-dispatcher" => {
            // hooks.example.com is unreachable (and https only): the
            // message stays on the queue for its next attempt.
            let failures = o.body["batchItemFailures"]
                .as_array()
                .expect("a batch report");
            assert_eq!(failures.len(), 1, "{:?}", o.body);
            assert_eq!(emf(p, "DeliveriesFailed"), [1]);
            assert!(failures[0]["itemIdentifier"]
                .as_str()
                .is_some_and(|s| !s.is_empty()));
        }
        "chain-poller" => {
            assert!(o.body["due"].is_u64(), "{:?}", o.body);
            assert_eq!(emf(p, "PollerErrors"), [o.body["errors"].as_u64().unwrap()]);
        }
        "price-poller" => {
            let failed = o.body["failed_sources"].as_array().expect("a report").len();
            let updated = o.body["updated"].as_array().expect("a report").len();
            assert_eq!(emf(p, "PriceSourceFailures"), [failed as u64]);
            assert_eq!(emf(p, "PricesUpdated"), [updated as u64]);
            assert_eq!(emf(p, "PollerErrors"), [0]);
        }
        "ws-connect" | "ws-disconnect" => assert_eq!(status(o), 200, "{:?}\n{}", o.body, log()),
        "ws-default" => {
            assert_eq!(status(o), 200, "{:?}", o.body);
            assert_eq!(body(o)["type"], "pong", "{:?}", o.body);
        }
        _ => {
            let (want, shape) = expected(function);
            let b = body(o);
            if shape == "no5xx" {
                // No exchange is reachable here: "no price yet" is the one 5xx.
                let no_price = status(o) == 503
                    && o.body["body"]
                        .as_str()
                        .is_some_and(|t| t.to_ascii_lowercase().contains("rate_unavailable"));
                assert!(
                    (200..500).contains(&status(o)) || no_price,
                    "{function}: {:?}\nlog:\n{}",
                    o.body,
                    log()
                );
                return;
            }
            assert_eq!(status(o), want, "{function}: {:?}\nlog:\n{}", o.body, log());
            match shape {
                "id" => assert!(
                    b["id"].is_string() || b["store"]["id"].is_string(),
                    "{function}: {b}"
                ),
                "error.code" => assert!(b["error"]["code"].is_string(), "{function}: {b}"),
                "json" => assert!(b.is_object() || b.is_array(), "{function}: {:?}", o.body),
                _ => assert!(
                    o.body["body"].as_str().is_some_and(|s| !s.is_empty()),
                    "{function}: {:?}",
                    o.body
                ),
            }
            let set = |subs: &mut BTreeMap<String, String>, k: &str, v: &Value| {
                subs.insert(
                    k.to_string(),
                    v.as_str()
                        .unwrap_or_else(|| panic!("{function}: {k} in {b}"))
                        .to_string(),
                );
            };
            match function {
                "stores-create" => {
                    set(subs, "__STORE_ID__", &b["store"]["id"]);
                    set(subs, "__STORE_KEY__", &b["api_key"]["key"]);
                }
                "api-keys-create" => set(subs, "__KEY_ID__", &b["id"]),
                "invoices-create" => {
                    set(subs, "__INVOICE_ID__", &b["id"]);
                    assert_eq!(emf(p, "InvoicesCreated"), [1], "{}", log());
                }
                "webhook-endpoints-create" => set(subs, "__ENDPOINT_ID__", &b["id"]),
                _ => {}
            }
        }
    }
}

/// What the measurements share: `RUNS` (default 7), the template and its
/// functions, a deployment on moto_server and a log directory; None (skip)
/// without moto_server.
struct Measurement {
    runs: usize,
    t: serde_yaml_ng::Value,
    functions: Vec<TemplateFunction>,
    d: Deployment,
    logs: std::path::PathBuf,
}

impl Measurement {
    async fn set_up(tag: &str) -> Option<Measurement> {
        let endpoint = moto()?;
        let runs = std::env::var("RUNS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(7);
        let t = template();
        let functions = template_functions(&t);
        let d = Deployment::create(&endpoint, &t).await;
        let logs = std::env::temp_dir().join(format!("satsgate-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&logs).unwrap();
        Some(Measurement {
            runs,
            t,
            functions,
            d,
            logs,
        })
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Cold init (process start to its first request for an event) and peak
/// RSS after one `health` invocation, median of 7 starts per binary. With
/// `LAMBDA_BASELINE_BIN_DIR` (binaries of another build), the same for
/// those, interleaved in the same run, and the ratios (README "Lambda").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: cargo test -p satsgate-functions --test processes -- --ignored --nocapture"]
async fn measure_cold_init() {
    let Some(Measurement {
        runs,
        t,
        functions,
        d,
        logs,
    }) = Measurement::set_up("measure").await
    else {
        return;
    };
    let baseline = std::env::var("LAMBDA_BASELINE_BIN_DIR")
        .ok()
        .map(std::path::PathBuf::from);
    let mut dirs = vec![("current", bin_dir())];
    if let Some(b) = baseline {
        dirs.insert(0, ("baseline", b));
    }
    let names = [
        "health",
        "invoices-create",
        "stores-get",
        "price-poller",
        "events-fanout",
        "webhook-dispatcher",
    ];
    for name in names {
        let f = functions.iter().find(|f| f.binary == name).unwrap();
        let env = d.env(&t, f);
        let mut init: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut rss: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut cpu: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for run in 0..runs {
            // Alternate which build starts first, so drift hits both alike.
            let mut order: Vec<_> = dirs.iter().collect();
            if run % 2 == 1 {
                order.reverse();
            }
            for (label, dir) in order {
                let mut p = Function::start_from(dir, name, &env, &logs).await;
                init.entry(label)
                    .or_default()
                    .push(p.init_time().await.as_secs_f64() * 1000.0);
                cpu.entry(label)
                    .or_default()
                    .push(p.cpu_ms().unwrap_or(0.0));
                if name == "health" {
                    let o = p.invoke(sample("health", &BTreeMap::new())).await;
                    assert_eq!(status(&o), 200);
                }
                rss.entry(label)
                    .or_default()
                    .push(p.peak_rss_kb().unwrap_or(0) as f64 / 1024.0);
            }
        }
        let line: Vec<String> = dirs
            .iter()
            .map(|(label, _)| {
                format!(
                    "{label}: init {:.1} ms wall, {:.1} ms CPU, peak RSS {:.1} MB",
                    median(init[label].clone()),
                    median(cpu[label].clone()),
                    median(rss[label].clone())
                )
            })
            .collect();
        let ratio = if dirs.len() == 2 {
            format!(
                "; current/baseline: init {:.2} wall, {:.2} CPU, RSS {:.2}",
                median(init["current"].clone()) / median(init["baseline"].clone()),
                median(cpu["current"].clone()) / median(cpu["baseline"].clone()),
                median(rss["current"].clone()) / median(rss["baseline"].clone())
            )
        } else {
            String::new()
        };
        eprintln!(
            "MEASURE {name} (median of {runs}): {}{ratio}",
            line.join("; ")
        );
    }
    let _ = std::fs::remove_dir_all(&logs);
}

/// Start `name` as a process with its template environment, feed it its
/// sample, and return the answer (and the process, for its log).
async fn run_once(
    d: &Deployment,
    t: &serde_yaml_ng::Value,
    name: &str,
    subs: &BTreeMap<String, String>,
    logs: &std::path::Path,
) -> (Outcome, Function) {
    let f = template_functions(t)
        .into_iter()
        .find(|f| f.binary == name)
        .unwrap();
    let mut p = Function::start(name, &d.env(t, &f), logs).await;
    let o = p.invoke(sample(name, subs)).await;
    assert_eq!(
        o.kind,
        Kind::Response,
        "{name}: {:?}\n{}",
        o.body,
        p.log_text()
    );
    (o, p)
}

/// A sandbox stack (`Sandbox=1`): separate function processes see one
/// sandbox chain, kept in the table. A payment made (and detected) through
/// one process is mined by a second, a third sees the higher tip, and the
/// invoice, read by a fourth, is paid and confirmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_processes_of_a_sandbox_stack_share_one_chain() {
    let Some(endpoint) = moto() else {
        return;
    };
    let t = template();
    let mut d = Deployment::create(&endpoint, &t).await;
    d.resolver.set("Sandbox", "1");
    let logs = std::env::temp_dir().join(format!("satsgate-sandbox-{}", std::process::id()));
    std::fs::create_dir_all(&logs).unwrap();
    let account_key = d.account("Sandbox").await;
    let mut subs = BTreeMap::from([("__ACCOUNT_KEY__".to_string(), account_key)]);
    let (o, _) = run_once(&d, &t, "stores-create", &subs, &logs).await;
    let b = body(&o);
    subs.insert(
        "__STORE_KEY__".into(),
        b["api_key"]["key"].as_str().unwrap().into(),
    );
    let (o, _) = run_once(&d, &t, "invoices-create", &subs, &logs).await;
    subs.insert(
        "__INVOICE_ID__".into(),
        body(&o)["id"].as_str().unwrap().into(),
    );

    // The payment, and its detection (the sandbox routes settle at once).
    let (paid, payer) = run_once(&d, &t, "sandbox-payments", &subs, &logs).await;
    assert_eq!(status(&paid), 201, "{:?}", paid.body);
    assert_eq!(emf(&payer, "PaymentsDetected"), [1], "{}", payer.log_text());
    let (first, _) = run_once(&d, &t, "sandbox-blocks", &subs, &logs).await;
    assert_eq!(status(&first), 201, "{:?}", first.body);
    let (second, _) = run_once(&d, &t, "sandbox-blocks", &subs, &logs).await;
    let tip = |o: &Outcome| body(o)["tip_height"].as_u64().unwrap();
    assert_eq!(tip(&second), tip(&first) + 1, "one chain across processes");
    let (got, _) = run_once(&d, &t, "invoices-get", &subs, &logs).await;
    let inv = body(&got);
    assert_eq!(inv["amount_paid_sats"], 100000, "{inv}");
    assert_eq!(
        inv["status"], "completed",
        "confirmed by the other process's block: {inv}"
    );
    // A poller process of the same stack reads the same chain: no errors.
    let (polled, _) = run_once(&d, &t, "chain-poller", &subs, &logs).await;
    assert_eq!(polled.body["errors"], 0, "{:?}", polled.body);
    let _ = std::fs::remove_dir_all(&logs);
}

/// Release functions against the reference function (`lambda-reference`:
/// `lambda_http` plus one DynamoDB GetItem) and hello-world (`lambda-hello`),
/// all from `LAMBDA_BIN_DIR` (one `cargo build --release` of the workspace,
/// so one profile): the stripped size of every template function, cold init
/// (median of `RUNS`, default 7, interleaved) and peak RSS after 100
/// invocations. Prints the README's table (README "Lambda functions").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: LAMBDA_BIN_DIR=<release dir> cargo test -p satsgate-functions --test processes measure_against_reference -- --ignored --nocapture"]
async fn measure_against_reference() {
    let Some(Measurement {
        runs,
        t,
        functions,
        d,
        logs,
    }) = Measurement::set_up("reference").await
    else {
        return;
    };
    let dir = std::path::PathBuf::from(
        std::env::var("LAMBDA_BIN_DIR").expect("LAMBDA_BIN_DIR: the release build's directory"),
    );
    let mb = |bytes: u64| bytes as f64 / 1_048_576.0;
    let size = |b: &str| {
        std::fs::metadata(dir.join(b))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(b).display()))
            .len()
    };

    let reference = size("lambda-reference");
    // Every function built in `dir` (a partial build measures its part).
    let mut sizes: Vec<(String, u64)> = functions
        .iter()
        .filter(|f| dir.join(&f.binary).exists())
        .map(|f| (f.binary.clone(), size(&f.binary)))
        .collect();
    eprintln!(
        "SIZE {} of {} functions built in {}",
        sizes.len(),
        functions.len(),
        dir.display()
    );
    sizes.sort_by_key(|(_, s)| *s);
    for (name, s) in &sizes {
        eprintln!(
            "SIZE {name}: {:.2} MB, {:.2}x reference",
            mb(*s),
            *s as f64 / reference as f64
        );
    }
    let (smallest, largest) = (&sizes[0], &sizes[sizes.len() - 1]);
    eprintln!(
        "| stripped size | {:.2} MB (hello-world {:.2} MB) | {:.2} MB (`{}`) to {:.2} MB (`{}`), median {:.2} MB | {:.2}x to {:.2}x |",
        mb(reference),
        mb(size("lambda-hello")),
        mb(smallest.1),
        smallest.0,
        mb(largest.1),
        largest.0,
        mb(sizes[sizes.len() / 2].1),
        smallest.1 as f64 / reference as f64,
        largest.1 as f64 / reference as f64
    );

    // The baselines get health's environment: the same table, region and endpoint.
    let env_of = |name: &str| {
        let f = functions
            .iter()
            .find(|f| {
                f.binary
                    == if name.starts_with("lambda-") {
                        "health"
                    } else {
                        name
                    }
            })
            .unwrap();
        d.env(&t, f)
    };
    let measured = [
        "lambda-hello",
        "lambda-reference",
        "health",
        "invoices-create",
        "chain-poller",
    ];
    let mut init: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for run in 0..runs {
        let mut order = measured.to_vec();
        if run % 2 == 1 {
            order.reverse();
        }
        for name in order {
            let p = Function::start_from(&dir, name, &env_of(name), &logs).await;
            init.entry(name)
                .or_default()
                .push(p.init_time().await.as_secs_f64() * 1000.0);
        }
    }
    let mut rss: BTreeMap<&str, f64> = BTreeMap::new();
    for name in ["lambda-hello", "lambda-reference", "health"] {
        let mut p = Function::start_from(&dir, name, &env_of(name), &logs).await;
        for _ in 0..100 {
            let o = p.invoke(sample("health", &BTreeMap::new())).await;
            assert_eq!(status(&o), 200, "{name}: {:?}\n{}", o.body, p.log_text());
        }
        rss.insert(name, p.peak_rss_kb().unwrap_or(0) as f64 / 1024.0);
    }
    let ref_init = median(init["lambda-reference"].clone());
    for name in measured {
        let m = median(init[name].clone());
        eprintln!(
            "| cold init, `{name}` (median of {runs}) | {m:.1} ms | {:.2}x reference |",
            m / ref_init
        );
    }
    for (name, r) in &rss {
        eprintln!(
            "| peak RSS after 100 invocations, `{name}` | {r:.1} MB | {:.2}x reference |",
            r / rss["lambda-reference"]
        );
    }
    let _ = std::fs::remove_dir_all(&logs);
}
