//! Helpers for the end-to-end tests: moto_server clients, a gateway on a
//! loopback port on either engine, and a small JSON HTTP client.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use satsgate::app::{App, Config};
use satsgate::clock::{ManualClock, SystemClock};
use satsgate::table::dynamo::{create_table, DynamoTable};
use satsgate::table::sqlite::SqliteTable;
use satsgate::table::Table;
use serde_json::Value;
use std::sync::Arc;

/// The moto_server endpoint, or None (the caller skips) when none is
/// configured and `SATSGATE_REQUIRE_MOTO` is not 1 (scripts/test sets both).
pub fn moto_endpoint() -> Option<String> {
    match std::env::var("SATSGATE_TEST_DYNAMO_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
    {
        Some(e) => Some(e),
        None => {
            if std::env::var("SATSGATE_REQUIRE_MOTO").is_ok_and(|v| v == "1") {
                panic!("SATSGATE_REQUIRE_MOTO=1 but SATSGATE_TEST_DYNAMO_ENDPOINT is not set");
            }
            eprintln!("*** SKIPPED (DynamoDB part): set SATSGATE_TEST_DYNAMO_ENDPOINT; scripts/test does ***");
            None
        }
    }
}

/// A DynamoDB client for moto_server.
pub fn moto_client() -> Option<aws_sdk_dynamodb::Client> {
    let endpoint = moto_endpoint()?;
    let conf = aws_sdk_dynamodb::Config::builder()
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
    Some(aws_sdk_dynamodb::Client::from_conf(conf))
}

/// A fresh DynamoDB table on moto_server, with the template's schema.
pub async fn moto_table() -> Option<DynamoTable> {
    let client = moto_client()?;
    let name = format!("satsgate-test-{}", uuid::Uuid::new_v4().simple());
    create_table(&client, &name)
        .await
        .expect("create table on moto_server");
    Some(DynamoTable::new(client, name).for_emulator())
}

/// Which storage engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Embedded,
    Dynamo,
}

/// One test per storage engine, so a failure names the engine. After
///
/// ```text
/// /// What the test shows.
/// async fn invoices_end_to_end(engine: Engine) {
///     let Some(shop) = Shop::open(engine, store).await else {
///         return; // DynamoDB without moto_server (see `moto_endpoint`)
///     };
///     ...
/// }
/// per_engine!(invoices_end_to_end, flavor = "multi_thread", worker_threads = 4);
/// ```
///
/// `cargo test` runs `invoices_end_to_end::sqlite` (the embedded engine) and
/// `invoices_end_to_end::dynamodb`. What follows the name goes into
/// `#[tokio::test(...)]`; with the name alone the tests are plain
/// `#[tokio::test]`s. The body stays an ordinary function, so rustfmt keeps
/// formatting it.
#[macro_export]
macro_rules! per_engine {
    ($name:ident $(, $($test:tt)+)?) => {
        mod $name {
            #[tokio::test$(($($test)+))?]
            async fn sqlite() {
                super::$name($crate::Engine::Embedded).await
            }

            #[tokio::test$(($($test)+))?]
            async fn dynamodb() {
                super::$name($crate::Engine::Dynamo).await
            }
        }
    };
}

/// A table of that engine, or None when DynamoDB tests are skipped.
pub async fn table(engine: Engine) -> Option<Arc<dyn Table>> {
    match engine {
        Engine::Embedded => Some(Arc::new(SqliteTable::in_memory())),
        Engine::Dynamo => Some(Arc::new(moto_table().await?)),
    }
}

/// A gateway serving every route on 127.0.0.1:<random>, with a fresh account.
pub struct Gateway {
    pub running: satsgate_local::Running,
    pub account_key: String,
    pub http: reqwest::Client,
}

/// A JSON response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

/// The status and the body, for assertion messages: `"{r}"`.
impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The error code of an error reply.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// Assert a 400 `validation_error` whose details name `field`.
    pub fn assert_refused(&self, field: &str, what: &str) {
        assert_eq!(
            (self.status, self.code()),
            (400, "validation_error"),
            "{what}: {:?}",
            self.body
        );
        assert!(
            self.body["error"]["details"][field].is_array(),
            "{what} names `{field}`: {:?}",
            self.body
        );
    }
}

impl Gateway {
    pub async fn start(engine: Engine, config: Config) -> Option<Gateway> {
        let table = table(engine).await?;
        Some(Gateway::start_app(App::new(table, Arc::new(SystemClock), config)).await)
    }

    /// Serve a prepared app (its own clock, chain, feeds); no background jobs.
    pub async fn start_app(app: App) -> Gateway {
        Gateway::listen(app, None, None).await
    }

    /// Serve `app`, with satsgate-local's background jobs on `jobs` when
    /// given, for the account `account_key` (None: a fresh account).
    pub async fn listen(
        app: App,
        jobs: Option<&satsgate_local::jobs::Schedule>,
        account_key: Option<String>,
    ) -> Gateway {
        let app = Arc::new(app);
        let account_key = match account_key {
            Some(k) => k,
            None => {
                satsgate::account::create_account(&*app.table, "Test", app.now())
                    .await
                    .expect("create account")
                    .2
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let running = match jobs {
            Some(schedule) => satsgate_local::start_with_jobs(app, listener, schedule).await,
            None => satsgate_local::start(app, listener).await,
        }
        .unwrap();
        Gateway {
            running,
            account_key,
            http: reqwest::Client::new(),
        }
    }

    pub fn app(&self) -> &App {
        &self.running.app
    }

    /// Create a store and return (store id, store key).
    pub async fn store(&self, body: Value) -> (String, String) {
        let r = self
            .call("POST", "/v1/stores", Some(&self.account_key), Some(body))
            .await;
        assert_eq!(r.status, 201, "create store: {:?}", r.body);
        (
            r.body["store"]["id"].as_str().unwrap().to_string(),
            r.body["api_key"]["key"].as_str().unwrap().to_string(),
        )
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.running.url(), path)
    }

    /// Send a request with an optional Bearer key and raw body.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut rb = self.http.request(method.parse().unwrap(), self.url(path));
        if let Some(k) = key {
            rb = rb.bearer_auth(k);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.header("content-type", "application/json").body(b);
        }
        let r = rb.send().await.expect("request reaches the gateway");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.send(
            method,
            path,
            key,
            body.map(|b| b.to_string().into_bytes()),
            &[],
        )
        .await
    }

    pub async fn stop(self) {
        self.running.stop().await;
    }
}

/// BIP84 test vector account key (m/84'/0'/0' of "abandon ... about"), mainnet.
pub const BIP84_ZPUB: &str = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs";
/// The same mnemonic's BIP84 test-network account (m/84'/1'/0').
pub const BIP84_VPUB: &str = "vpub5Y6cjg78GGuNLsaPhmYsiw4gYX3HoQiRBiSwDaBXKUafCt9bNwWQiitDk5VZ5BVxYnQdwoTyXSs2JHRPAgjAvtbBrf8ZhDYe2jWAqvZVnsc";
/// First receive addresses of BIP84_VPUB on regtest (m/84'/1'/0'/0/0 and /0/1).
pub const BIP84_REGTEST_ADDRESSES: [&str; 2] = [
    "bcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk",
    "bcrt1qd7spv5q28348xl4myc8zmh983w5jx32cs707jh",
];
pub const BIP84_TPUB: &str = "tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M";

/// A gateway serving one store, with the store key at hand (the merchant's
/// side of most tests). Two kinds:
/// - [`Shop::open`]: a fresh app on a [`ManualClock`] (see [`Shop::clock`]),
///   sandbox prices polled, no background jobs;
/// - [`Shop::serve`]: a prepared app on its own clock (the webhook tests'
///   run on the system clock), with satsgate-local's background jobs; also
///   a restart of an earlier shop.
pub struct Shop {
    pub gw: Gateway,
    pub store_id: String,
    pub key: String,
    /// Some for `Shop::open`; a served app runs on its own clock.
    clock: Option<ManualClock>,
}

/// Who a shop serves: enough to serve the same store again after a restart.
#[derive(Debug, Clone)]
pub struct ShopIds {
    pub account_key: String,
    pub store_id: String,
    pub key: String,
}

/// The background jobs of [`Shop::serve`]: the webhook jobs often, the
/// price and chain pollers practically never (tests run those themselves).
pub fn job_schedule() -> satsgate_local::jobs::Schedule {
    satsgate_local::jobs::Schedule {
        price_poll: std::time::Duration::from_secs(3600),
        chain_poll: std::time::Duration::from_secs(3600),
        webhook_poll: std::time::Duration::from_millis(100),
    }
}

impl Shop {
    /// A regtest store (`store` is its create body) on a manual clock, with
    /// sandbox prices polled and no background jobs. None when the engine
    /// is DynamoDB and moto_server is not configured.
    pub async fn open(engine: Engine, store: Value) -> Option<Shop> {
        let t = table(engine).await?;
        let clock = ManualClock::new(time::OffsetDateTime::now_utc());
        let app = App::new(
            t,
            Arc::new(clock.clone()),
            Config {
                allow_insecure_urls: true,
                ..Config::default()
            },
        );
        satsgate::prices::poller::poll_prices(&app)
            .await
            .expect("sandbox prices");
        let gw = Gateway::start_app(app).await;
        let (store_id, key) = gw.store(store).await;
        Some(Shop {
            gw,
            store_id,
            key,
            clock: Some(clock),
        })
    }

    /// Serve `app` as it is (its own clock), with the background jobs of
    /// [`job_schedule`] unless `jobs` is false; a fresh account and regtest
    /// store, or the ones of `existing` (a restart on the same table).
    pub async fn serve(app: App, jobs: bool, existing: Option<ShopIds>) -> Shop {
        let schedule = job_schedule();
        let account_key = existing.as_ref().map(|ids| ids.account_key.clone());
        let gw = Gateway::listen(app, jobs.then_some(&schedule), account_key).await;
        let (store_id, key) = match existing {
            Some(ids) => (ids.store_id, ids.key),
            None => {
                let store = serde_json::json!({
                    "name": "Webhook shop", "network": "regtest", "wallet": BIP84_VPUB,
                });
                gw.store(store).await
            }
        };
        Shop {
            gw,
            store_id,
            key,
            clock: None,
        }
    }

    /// The manual clock the app runs on (`Shop::open` only).
    pub fn clock(&self) -> &ManualClock {
        self.clock.as_ref().expect(
            "this shop runs on its app's own clock (Shop::serve); only Shop::open has a ManualClock",
        )
    }

    pub fn ids(&self) -> ShopIds {
        ShopIds {
            account_key: self.gw.account_key.clone(),
            store_id: self.store_id.clone(),
            key: self.key.clone(),
        }
    }

    pub fn app(&self) -> &App {
        self.gw.app()
    }

    pub async fn stop(self) {
        self.gw.stop().await;
    }

    /// A call with the store key.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.gw.call(method, path, Some(&self.key), body).await
    }

    /// A call without any key (the buyer's side).
    pub async fn public(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.gw.call(method, path, None, body).await
    }

    /// GET without a key, raw: (status, content type, headers, body).
    pub async fn raw(&self, path: &str) -> (u16, String, reqwest::header::HeaderMap, Vec<u8>) {
        let r = self.gw.http.get(self.gw.url(path)).send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let ct = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        (status, ct, headers, r.bytes().await.unwrap().to_vec())
    }

    pub async fn invoice(&self, body: Value) -> Value {
        let r = self.call("POST", "/v1/invoices", Some(body)).await;
        assert_eq!(r.status, 201, "create invoice: {:?}", r.body);
        r.body
    }

    pub async fn get(&self, id: &str) -> Value {
        let r = self.call("GET", &format!("/v1/invoices/{id}"), None).await;
        assert_eq!(r.status, 200);
        r.body
    }

    /// Pay an invoice on the sandbox chain.
    pub async fn pay(&self, id: &str, sats: u64, rbf: bool) -> Value {
        let r = self
            .call(
                "POST",
                "/v1/sandbox/payments",
                Some(serde_json::json!({"invoice_id": id, "amount_sats": sats, "rbf": rbf})),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body
    }

    pub async fn mine(&self, n: u32) {
        let r = self
            .call(
                "POST",
                "/v1/sandbox/blocks",
                Some(serde_json::json!({"count": n})),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }

    /// One chain-poller run.
    pub async fn poll(&self) {
        satsgate::invoice::poller::poll_chain(self.gw.app())
            .await
            .unwrap();
    }

    /// The event types recorded for one invoice, oldest first.
    pub async fn event_types(&self, invoice_id: &str) -> Vec<String> {
        let path = format!("/v1/events?invoice_id={invoice_id}&limit=100");
        let r = self.call("GET", &path, None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let items = r.body["items"].as_array().expect("a list");
        items
            .iter()
            .rev()
            .map(|e| e["type"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// `POST /v1/webhook-endpoints` -> (id, secret).
    pub async fn endpoint(&self, url: &str, events: Value) -> (String, String) {
        let r = self
            .call(
                "POST",
                "/v1/webhook-endpoints",
                Some(serde_json::json!({"url": url, "events": events})),
            )
            .await;
        assert_eq!(r.status, 201, "{r}");
        (
            r.body["id"].as_str().unwrap().to_string(),
            r.body["secret"].as_str().unwrap().to_string(),
        )
    }

    /// The secret of the built-in `invoice_url` endpoint (rotated to learn it).
    pub async fn invoice_url_secret(&self) -> String {
        let r = self
            .call(
                "POST",
                "/v1/webhook-endpoints/invoice_url/rotate-secret",
                Some(serde_json::json!({"previous_secret_expires_in_hours": 0})),
            )
            .await;
        assert_eq!(r.status, 200, "{r}");
        r.body["secret"].as_str().unwrap().to_string()
    }

    /// An endpoint's deliveries (up to 100).
    pub async fn deliveries(&self, endpoint: &str) -> Vec<Value> {
        let r = self
            .call(
                "GET",
                &format!("/v1/webhook-endpoints/{endpoint}/deliveries?limit=100"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{r}");
        r.body["items"].as_array().unwrap().clone()
    }

    /// Poll `GET /v1/webhook-deliveries/{id}` until its status is `status`.
    pub async fn wait_delivery(
        &self,
        id: &str,
        status: &str,
        within: std::time::Duration,
    ) -> Value {
        let start = std::time::Instant::now();
        loop {
            let r = self
                .call("GET", &format!("/v1/webhook-deliveries/{id}"), None)
                .await;
            assert_eq!(r.status, 200, "{r}");
            if r.body["status"] == status {
                return r.body;
            }
            assert!(
                start.elapsed() < within,
                "delivery {id} not {status} within {within:?}: {}",
                r.body
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// A sample API Gateway event from events/<function>.json with placeholders
/// replaced, parsed by lambda_http itself.
pub fn lambda_event(function: &str, subs: &[(&str, &str)]) -> lambda_http::Request {
    let path = format!("{}/../events/{function}.json", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("sample event {path}"));
    for (k, v) in subs {
        text = text.replace(k, v);
    }
    lambda_http::request::from_str(&text).expect("lambda_http parses the sample event")
}

/// Run a sample event through the function's Lambda handler: (status, JSON body).
pub async fn lambda_call(app: &App, function: &str, subs: &[(&str, &str)]) -> (u16, Value) {
    let resp = satsgate_functions::handle(app, function, lambda_event(function, subs)).await;
    let status = resp.status().as_u16();
    let body = match resp.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, body)
}

/// The buyer's side of sandbox payments: a key of their own, funded by the
/// sandbox chain, and transactions signed with it.
pub mod buyer {
    use super::Shop;
    use serde_json::{json, Value};

    pub async fn funding(shop: &Shop, sats: u64) -> (String, u32) {
        let r = shop
            .call(
                "POST",
                "/v1/sandbox/payments",
                Some(json!({"address": funding_address(), "amount_sats": sats})),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        (
            r.body["txid"].as_str().unwrap().to_string(),
            r.body["vout"].as_u64().unwrap() as u32,
        )
    }

    /// The buyer's own key (a fixed test key) and its regtest P2WPKH address.
    pub fn buyer_key() -> (bitcoin::secp256k1::SecretKey, bitcoin::CompressedPublicKey) {
        let secp = bitcoin::secp256k1::Secp256k1::new();
        let secret = bitcoin::secp256k1::SecretKey::from_slice(&[0x42; 32]).expect("a valid key");
        (
            secret,
            bitcoin::CompressedPublicKey(secret.public_key(&secp)),
        )
    }

    pub fn funding_address() -> String {
        bitcoin::Address::p2wpkh(&buyer_key().1, bitcoin::KnownHrp::Regtest).to_string()
    }

    /// The buyer's own P2WPKH script (change comes back here).
    pub fn change_script() -> Vec<u8> {
        bitcoin::ScriptBuf::new_p2wpkh(&buyer_key().1.wpubkey_hash())
            .as_bytes()
            .to_vec()
    }

    /// A transaction built with the `bitcoin` crate and signed by the buyer's key:
    /// inputs as (txid, vout, value of the spent output), outputs as (script,
    /// sats); hex. Inputs the buyer does not own get a signature the chain refuses.
    pub fn raw_tx(inputs: &[(&str, u32, u64)], outputs: &[(&[u8], u64)]) -> String {
        use bitcoin::{
            absolute::LockTime, sighash::EcdsaSighashType, sighash::SighashCache,
            transaction::Version, Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut,
            Witness,
        };
        let (secret, public) = buyer_key();
        let mut tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: inputs
                .iter()
                .map(|(txid, vout, _)| TxIn {
                    previous_output: OutPoint::new(txid.parse().expect("txid"), *vout),
                    script_sig: ScriptBuf::new(),
                    sequence: Sequence::ENABLE_LOCKTIME_NO_RBF,
                    witness: Witness::new(),
                })
                .collect(),
            output: outputs
                .iter()
                .map(|(script, sats)| TxOut {
                    value: Amount::from_sat(*sats),
                    script_pubkey: ScriptBuf::from_bytes(script.to_vec()),
                })
                .collect(),
        };
        let own = ScriptBuf::from_bytes(change_script());
        let secp = bitcoin::secp256k1::Secp256k1::new();
        let witnesses: Vec<Witness> = {
            let mut cache = SighashCache::new(&tx);
            inputs
                .iter()
                .enumerate()
                .map(|(i, (_, _, value))| {
                    let hash = cache
                        .p2wpkh_signature_hash(
                            i,
                            &own,
                            Amount::from_sat(*value),
                            EcdsaSighashType::All,
                        )
                        .expect("sighash");
                    let signature =
                        secp.sign_ecdsa(&bitcoin::secp256k1::Message::from(hash), &secret);
                    Witness::p2wpkh(
                        &bitcoin::ecdsa::Signature {
                            signature,
                            sighash_type: EcdsaSighashType::All,
                        },
                        &public.0,
                    )
                })
                .collect()
        };
        for (input, witness) in tx.input.iter_mut().zip(witnesses) {
            input.witness = witness;
        }
        bitcoin::consensus::encode::serialize_hex(&tx)
    }

    pub fn txid_of(hex_tx: &str) -> String {
        let tx: bitcoin::Transaction =
            bitcoin::consensus::encode::deserialize_hex(hex_tx).expect("a transaction");
        tx.compute_txid().to_string()
    }

    pub fn pay_body(txs: &[&str]) -> Value {
        json!({"chain": "BTC", "currency": "BTC", "transactions": txs.iter().map(|t| json!({"tx": t})).collect::<Vec<_>>()})
    }
}
