//! The real `satsgate-local` binary: first start prints the demo keys and
//! serves; the account key creates a mainnet store; the demo store takes an
//! invoice and a sandbox payment; after a restart everything is still there.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Local {
    child: Child,
    url: String,
    lines: Vec<String>,
}

fn start(data_dir: &std::path::Path) -> Local {
    start_with(data_dir, &[])
}

fn start_with(data_dir: &std::path::Path, env: &[(&str, &str)]) -> Local {
    start_logging(data_dir, env, Stdio::null())
}

/// Start with the server's log (stderr) going to `log`.
fn start_logging(data_dir: &std::path::Path, env: &[(&str, &str)], log: Stdio) -> Local {
    let mut child = Command::new(env!("CARGO_BIN_EXE_satsgate-local"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .env_remove("TABLE_NAME")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start satsgate-local");
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("satsgate-local exited early: {lines:?}");
        }
        let line = line.trim_end().to_string();
        let done = line.starts_with("listening on http://");
        lines.push(line);
        if done {
            break;
        }
    }
    let url = lines
        .last()
        .unwrap()
        .trim_start_matches("listening on ")
        .to_string();
    // keep draining stdout so the child never blocks on a full pipe
    std::thread::spawn(move || for _ in reader.lines() {});
    Local { child, url, lines }
}

impl Local {
    fn value(&self, name: &str) -> Option<String> {
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("{name}=")).map(str::to_string))
    }

    /// Stop like Ctrl-C does (the sandbox chain is flushed).
    fn interrupt(mut self) {
        Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "clean exit on SIGINT: {status}");
    }
}

async fn call(url: &str, method: &str, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut rb = client.request(method.parse().unwrap(), format!("{url}{path}"));
    if !key.is_empty() {
        rb = rb.bearer_auth(key);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn first_start_demo_store_invoice_and_restart() {
    let dir = std::env::temp_dir().join(format!("satsgate-local-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let local = start(&dir);
    let account = local
        .value("SATSGATE_ACCOUNT_KEY")
        .expect("account key printed on first start");
    let store_key = local
        .value("SATSGATE_STORE_KEY")
        .expect("store key printed on first start");
    let url = local.url.clone();

    let zpub = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs";
    let (s, b) = call(
        &url,
        "POST",
        "/v1/stores",
        &account,
        Some(json!({"name": "Main", "network": "mainnet", "wallet": zpub})),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert!(b["api_key"]["key"].as_str().unwrap().starts_with("sgs_"));
    let tpub = "tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M";
    let (s, b) = call(
        &url,
        "POST",
        "/v1/stores",
        &account,
        Some(json!({"name": "Main", "network": "mainnet", "wallet": tpub})),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(b["error"]["code"], "validation_error");
    assert!(b["error"]["details"]["wallet"].is_array());

    // The demo store is on regtest with the sandbox chain and prices.
    let (s, inv) = call(
        &url,
        "POST",
        "/v1/invoices",
        &store_key,
        Some(json!({"amount": "12.50", "currency": "USD"})),
    )
    .await;
    assert_eq!(s, 201, "{inv}");
    assert_eq!(
        inv["address"],
        "bcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk"
    );
    let id = inv["id"].as_str().unwrap().to_string();
    let sats = inv["crypto_amount_sats"].as_u64().unwrap();
    let (s, _) = call(
        &url,
        "POST",
        "/v1/sandbox/payments",
        &store_key,
        Some(json!({"invoice_id": id, "amount_sats": sats})),
    )
    .await;
    assert_eq!(s, 201);
    let (_, now) = call(&url, "GET", &format!("/v1/invoices/{id}"), &store_key, None).await;
    assert_eq!(now["status"], "pending");
    local.interrupt();

    // Restart on the same data dir: no new demo, same keys, same state.
    let local = start(&dir);
    assert!(
        local.value("SATSGATE_ACCOUNT_KEY").is_none(),
        "keys are printed only once"
    );
    let url = local.url.clone();
    let (s, now) = call(&url, "GET", &format!("/v1/invoices/{id}"), &store_key, None).await;
    assert_eq!(s, 200);
    assert_eq!(
        now["status"], "pending",
        "the invoice and its payment survived the restart"
    );
    let (s, _) = call(
        &url,
        "POST",
        "/v1/sandbox/blocks",
        &store_key,
        Some(json!({"count": 1})),
    )
    .await;
    assert_eq!(s, 201);
    let (_, now) = call(&url, "GET", &format!("/v1/invoices/{id}"), &store_key, None).await;
    assert_eq!(now["status"], "completed", "the sandbox chain survived too");
    let (s, b) = call(&url, "GET", "/v1/stores", &account, None).await;
    assert_eq!(s, 200);
    assert_eq!(b["items"].as_array().unwrap().len(), 2);
    local.interrupt();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Killing satsgate-local (SIGKILL, no clean shutdown) after an invoice was
/// created but before its webhook could be delivered loses nothing: after a
/// restart the signed delivery arrives.
#[tokio::test]
async fn a_killed_process_still_delivers_after_restart() {
    use std::sync::{Arc, Mutex};
    let dir = std::env::temp_dir().join(format!("satsgate-local-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // A port with no receiver yet: deliveries fail (connection refused) and wait to be retried.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = [("WEBHOOK_BACKOFF", "fast")];
    let local = start_with(&dir, &env);
    let key = local.value("SATSGATE_STORE_KEY").unwrap();
    let url = local.url.clone();
    let (s, endpoint) = call(
        &url,
        "POST",
        "/v1/webhook-endpoints",
        &key,
        Some(json!({"url": format!("http://127.0.0.1:{port}/hook")})),
    )
    .await;
    assert_eq!(s, 201, "{endpoint}");
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    let (s, inv) = call(
        &url,
        "POST",
        "/v1/invoices",
        &key,
        Some(json!({"amount": "0.001", "currency": "BTC"})),
    )
    .await;
    assert_eq!(s, 201);
    let id = inv["id"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut child = local.child;
    child.kill().unwrap(); // SIGKILL: no flush, no goodbye
    child.wait().unwrap();

    // The receiver comes up, then satsgate-local again on the same data dir.
    let got: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap, body: String| {
        let sink = sink.clone();
        async move {
            let sig = headers
                .get("satsgate-signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            sink.lock().unwrap().push((sig, body));
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let local = start_with(&dir, &env);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let delivered = loop {
        let found = got
            .lock()
            .unwrap()
            .iter()
            .find(|(_, b)| b.contains(&id) && b.contains("invoice.created"))
            .cloned();
        if let Some(d) = found {
            break d;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "invoice.created was never delivered after the restart"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        satsgate::webhooks::signature::verify(
            &secret,
            &delivered.0,
            delivered.1.as_bytes(),
            now,
            300
        )
        .is_ok(),
        "the delivery is signed with the endpoint secret"
    );
    let (s, _) = call(&local.url, "GET", &format!("/v1/invoices/{id}"), &key, None).await;
    assert_eq!(s, 200, "the invoice survived the kill");
    local.interrupt();
    server.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A second server on the same data directory is refused, naming the
/// running one's pid; `create-account` works while the server runs, and
/// the server sees (and keeps, across a restart) what the command wrote.
#[tokio::test]
async fn a_second_server_is_refused_and_commands_work_alongside() {
    let dir = std::env::temp_dir().join(format!("satsgate-local-two-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let local = start(&dir);
    let second = Command::new(env!("CARGO_BIN_EXE_satsgate-local"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .env_remove("TABLE_NAME")
        .output()
        .expect("run a second satsgate-local");
    assert_eq!(second.status.code(), Some(2), "the second server exits");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&format!("pid {}", local.child.id())) && stderr.contains("already serving"),
        "the refusal names the running server: {stderr}"
    );

    let created = Command::new(env!("CARGO_BIN_EXE_satsgate-local"))
        .args(["create-account", "--name", "Second", "--data-dir"])
        .arg(&dir)
        .env_remove("TABLE_NAME")
        .output()
        .expect("run create-account");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let stdout = String::from_utf8_lossy(&created.stdout);
    let key = stdout
        .lines()
        .find_map(|l| l.strip_prefix("SATSGATE_ACCOUNT_KEY="))
        .expect("the new account's key")
        .to_string();
    let (s, b) = call(&local.url, "GET", "/v1/stores", &key, None).await;
    assert_eq!(s, 200, "the running server sees the new account: {b}");
    let (s, _) = call(
        &local.url,
        "POST",
        "/v1/stores",
        &key,
        Some(json!({"name": "Later", "network": "regtest", "wallet": "vpub5Y6cjg78GGuNLsaPhmYsiw4gYX3HoQiRBiSwDaBXKUafCt9bNwWQiitDk5VZ5BVxYnQdwoTyXSs2JHRPAgjAvtbBrf8ZhDYe2jWAqvZVnsc"})),
    )
    .await;
    assert_eq!(s, 201);
    local.interrupt();

    let local = start(&dir);
    let (s, b) = call(&local.url, "GET", "/v1/stores", &key, None).await;
    assert_eq!(s, 200);
    assert_eq!(
        b["items"].as_array().unwrap().len(),
        1,
        "nothing was lost: {b}"
    );
    local.interrupt();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A data directory written by the old engine (`table.log`, see
/// tests/fixtures/old-table-log.json) is imported on first start and the
/// log renamed; the merchant's keys, store and invoices are all there.
#[tokio::test]
async fn an_old_table_log_is_imported_on_first_start() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let about: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("old-table-log.json")).unwrap(),
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("satsgate-local-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["table.log", "sandbox-chain.json"] {
        std::fs::copy(fixtures.join("old-table-log").join(f), dir.join(f)).unwrap();
    }
    // The old engine ignored a torn last line (a crash mid-write); so does the import.
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("table.log"))
        .unwrap();
    std::io::Write::write_all(&mut log, b"[{\"put\": {\"pk\": \"torn").unwrap();
    drop(log);

    let local = start(&dir);
    assert!(
        local.value("SATSGATE_ACCOUNT_KEY").is_none(),
        "the imported demo account is found, not created again: {:?}",
        local.lines
    );
    assert!(!dir.join("table.log").exists());
    assert!(dir.join("table.log.imported").exists());
    assert!(dir.join("satsgate.db").exists());
    let key = about["store_key"].as_str().unwrap();
    let paid = about["paid_invoice"].as_str().unwrap();
    let (s, inv) = call(
        &local.url,
        "GET",
        &format!("/v1/invoices/{paid}"),
        key,
        None,
    )
    .await;
    assert_eq!(s, 200, "{inv}");
    assert_eq!(inv["amount"], "12.50");
    assert_eq!(inv["order_id"], "order-1");
    assert_eq!(inv["amount_paid_sats"], inv["crypto_amount_sats"], "{inv}");
    assert_eq!(inv["payments"].as_array().unwrap().len(), 1);
    let cancelled = about["cancelled_invoice"].as_str().unwrap();
    let (_, inv) = call(
        &local.url,
        "GET",
        &format!("/v1/invoices/{cancelled}"),
        key,
        None,
    )
    .await;
    assert_eq!(inv["status"], "cancelled");
    let (s, list) = call(&local.url, "GET", "/v1/invoices", key, None).await;
    assert_eq!(s, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 3, "{list}");
    let account = about["account_key"].as_str().unwrap();
    let (s, stores) = call(&local.url, "GET", "/v1/stores", account, None).await;
    assert_eq!(s, 200);
    assert_eq!(stores["items"][0]["id"], about["store_id"]);
    // The next invoice continues the imported address counter.
    let (s, inv) = call(
        &local.url,
        "POST",
        "/v1/invoices",
        key,
        Some(json!({"amount": "0.001", "currency": "BTC"})),
    )
    .await;
    assert_eq!(s, 201, "{inv}");
    assert_eq!(inv["address_index"], 3);
    local.interrupt();

    // A restart does not import again.
    let local = start(&dir);
    let (_, list) = call(&local.url, "GET", "/v1/invoices", key, None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 4);
    local.interrupt();
    let _ = std::fs::remove_dir_all(&dir);
}

/// `create-user` (password on stdin, never on the command line) makes a user
/// of the key's account while the server runs; the user logs in over HTTP.
#[tokio::test]
async fn create_user_command_makes_a_user_who_can_log_in() {
    use std::io::Write;
    let dir = std::env::temp_dir().join(format!("satsgate-local-user-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log_path = dir.join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let local = start_logging(&dir, &[("RUST_LOG", "debug")], Stdio::from(log));
    let account_key = local
        .value("SATSGATE_ACCOUNT_KEY")
        .expect("demo account key");
    let run = |username: &str, key: &str, password: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_satsgate-local"))
            .args(["create-user", "--username", username, "--data-dir"])
            .arg(&dir)
            .env_remove("TABLE_NAME")
            .env("SATSGATE_ACCOUNT_KEY", key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run create-user");
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let short = run("dana", &account_key, "short");
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("12"));
    let ok = run("dana", &account_key, "a long passphrase");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let (s, b) = call(
        &local.url,
        "POST",
        "/v1/auth/login",
        "",
        Some(json!({"username": "dana", "password": "a long passphrase"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let token = b["token"].as_str().unwrap().to_string();
    let (s, _) = call(&local.url, "GET", "/v1/users", &token, None).await;
    assert_eq!(s, 200);
    let store_key = local.value("SATSGATE_STORE_KEY").unwrap();
    let refused = run("erin", &store_key, "a long passphrase");
    assert_eq!(
        refused.status.code(),
        Some(2),
        "a store key cannot make users"
    );
    local.interrupt();
    // The server logged the requests, but never the password or the token.
    let logged = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logged.contains("/v1/auth/login"),
        "requests are logged: {logged}"
    );
    assert!(
        !logged.contains("a long passphrase"),
        "no password in the log"
    );
    assert!(!logged.contains(&token), "no session token in the log");
    let _ = std::fs::remove_dir_all(&dir);
}
