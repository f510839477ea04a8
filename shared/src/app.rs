//! The application: the set of adapters and settings, built once per
//! process (Lambda init or satsgate-local start) and shared by handlers.

use crate::chain::sim::SimChain;
use crate::chain::Chain;
use crate::clock::{Clock, SystemClock};
use crate::network::Network;
use crate::prices::{Fiat, PriceFeed, SandboxFeed};
use crate::table::{sqlite::SqliteTable, Table};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Settings read from the environment, the only place the gateway reads
/// it (README "Configuration" documents each variable; a test holds the
/// two to the same list).
#[derive(Debug, Clone)]
pub struct Config {
    /// Requests per API key per minute (`RATE_LIMIT_PER_MINUTE`).
    pub rate_limit_per_minute: u64,
    /// Base URL for links in resources (`checkout_url`, `payment_url`;
    /// `PUBLIC_URL`).
    pub public_url: String,
    /// Allow http:// and loopback/private webhook URLs (local use and tests;
    /// `ALLOW_INSECURE_URLS`).
    pub allow_insecure_urls: bool,
    /// The WebSocket URL the checkout page connects to (`WEBSOCKET_URL`;
    /// unset: `/ws` on the page's own host, as satsgate-local serves it).
    pub websocket_url: Option<String>,
    /// A fiat price older than this cannot price an invoice or quote
    /// (`PRICE_MAX_AGE_SECONDS`).
    pub price_max_age_secs: i64,
    /// Fewer answering sources than this keeps the old price
    /// (`PRICE_MIN_SOURCES`).
    pub price_min_sources: usize,
    /// Fiat currencies the price poller fetches (`FIATS`).
    pub fiats: Vec<Fiat>,
    /// Webhook retry schedule and timeout (`WEBHOOK_BACKOFF=fast` for tests).
    pub webhooks: crate::webhooks::Settings,
    /// Exchanges asked for prices when live (`PRICE_SOURCES`).
    pub price_sources: String,
    /// Esplora server of each live network (`ESPLORA_URL_<NETWORK>`).
    pub esplora_urls: BTreeMap<Network, String>,
    /// Serve regtest from the sandbox chain kept in the table on Lambda
    /// (`SANDBOX_CHAIN=1`).
    pub sandbox_chain: bool,
    /// The DynamoDB table (`TABLE_NAME`): Lambda requires it; when set,
    /// satsgate-local uses it instead of the embedded store.
    pub table_name: Option<String>,
    /// DynamoDB's own endpoint (`AWS_ENDPOINT_URL_DYNAMODB`; unset: the AWS
    /// SDK's `AWS_ENDPOINT_URL`, else AWS).
    pub dynamo_endpoint: Option<String>,
    /// The SQS webhook queue (`WEBHOOK_QUEUE_URL`; Lambda functions that
    /// enqueue or dispatch).
    pub webhook_queue_url: Option<String>,
    /// Its dead-letter queue (`WEBHOOK_DLQ_URL`; unset: the one the queue's
    /// redrive policy names).
    pub webhook_dlq_url: Option<String>,
    /// API Gateway's @connections endpoint events-fanout pushes to
    /// (`WEBSOCKET_CALLBACK_URL`).
    pub websocket_callback_url: Option<String>,
    /// fsync SQLite's WAL on every commit (`SATSGATE_FSYNC=1`).
    pub fsync: bool,
    /// Log filter (`RUST_LOG`): a level or `target=level` pairs.
    pub log_filter: Option<String>,
    /// The Lambda function's name (`AWS_LAMBDA_FUNCTION_NAME`, set by
    /// Lambda): metrics lines are written only when it is known.
    pub function_name: Option<String>,
    /// satsgate-local's address (`SATSGATE_LISTEN`; `--listen` wins).
    pub listen: String,
    /// satsgate-local's data directory (`SATSGATE_DATA_DIR`; `--data-dir`
    /// wins).
    pub data_dir: std::path::PathBuf,
    /// The account key `satsgate-local create-user` acts with
    /// (`SATSGATE_ACCOUNT_KEY`; `--account-key` wins).
    pub account_key: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            rate_limit_per_minute: 1200,
            public_url: "http://127.0.0.1:3000".into(),
            allow_insecure_urls: false,
            websocket_url: None,
            price_max_age_secs: 600,
            price_min_sources: 1,
            fiats: Fiat::defaults(),
            webhooks: crate::webhooks::Settings::default(),
            price_sources: "coinbase,kraken,bitstamp,coingecko".into(),
            esplora_urls: BTreeMap::from([
                (Network::Mainnet, "https://blockstream.info/api".into()),
                (
                    Network::Testnet,
                    "https://blockstream.info/testnet/api".into(),
                ),
                (Network::Signet, "https://mempool.space/signet/api".into()),
            ]),
            sandbox_chain: false,
            table_name: None,
            dynamo_endpoint: None,
            webhook_queue_url: None,
            webhook_dlq_url: None,
            websocket_callback_url: None,
            fsync: false,
            log_filter: None,
            function_name: None,
            listen: "127.0.0.1:3000".into(),
            data_dir: ".satsgate".into(),
            account_key: None,
        }
    }
}

/// Which defaults a process starts from before the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// satsgate-local and tests: [`Config::default`].
    Local,
    /// A Lambda function: two price sources must agree by default.
    Lambda,
}

impl Config {
    /// The settings of this process's environment over `runtime`'s
    /// defaults.
    pub fn from_env(runtime: Runtime) -> Result<Config, String> {
        Config::from_lookup(runtime, |name| std::env::var(name).ok())
    }

    /// The settings that `var` (a variable's value, None when unset) gives
    /// over `runtime`'s defaults. Empty values count as unset.
    pub fn from_lookup(
        runtime: Runtime,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, String> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let number = |name: &str| -> Result<Option<u64>, String> {
            var(name)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| format!("{name}=`{v}` is not a whole number"))
                })
                .transpose()
        };
        let flag = |name: &str| var(name).is_some_and(|v| matches!(v.trim(), "1" | "true"));
        let mut c = Config::default();
        if runtime == Runtime::Lambda {
            c.price_min_sources = 2;
        }
        if let Some(n) = number("RATE_LIMIT_PER_MINUTE")? {
            c.rate_limit_per_minute = n;
        }
        if let Some(listen) = var("SATSGATE_LISTEN") {
            c.listen = listen;
        }
        if let Some(dir) = var("SATSGATE_DATA_DIR") {
            c.data_dir = dir.into();
        }
        c.account_key = var("SATSGATE_ACCOUNT_KEY");
        // Defaults that follow the address satsgate-local listens on: links
        // point at it, and local receivers (http://127.0.0.1) are allowed
        // only while it listens on loopback alone.
        c.public_url = format!("http://{}", c.listen);
        c.allow_insecure_urls = runtime == Runtime::Local && listens_on_loopback(&c.listen);
        if let Some(v) = var("PUBLIC_URL") {
            c.public_url = v.trim_end_matches('/').to_string();
        }
        if var("ALLOW_INSECURE_URLS").is_some() {
            c.allow_insecure_urls = flag("ALLOW_INSECURE_URLS");
        }
        c.websocket_url = var("WEBSOCKET_URL");
        if let Some(n) = number("PRICE_MAX_AGE_SECONDS")? {
            c.price_max_age_secs = i64::try_from(n)
                .map_err(|_| format!("PRICE_MAX_AGE_SECONDS=`{n}` is too large"))?;
        }
        if let Some(n) = number("PRICE_MIN_SOURCES")? {
            c.price_min_sources = n as usize;
        }
        if let Some(v) = var("FIATS") {
            c.fiats = v
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().parse::<Fiat>().map_err(|e| format!("FIATS: {e}")))
                .collect::<Result<_, _>>()?;
        }
        c.webhooks = crate::webhooks::Settings::named(var("WEBHOOK_BACKOFF").as_deref())?;
        if let Some(v) = var("PRICE_SOURCES") {
            c.price_sources = v;
        }
        for (network, url) in c.esplora_urls.iter_mut() {
            if let Some(v) = var(&format!("ESPLORA_URL_{}", network.as_str().to_uppercase())) {
                *url = v;
            }
        }
        c.sandbox_chain = var("SANDBOX_CHAIN").is_some_and(|v| v == "1");
        c.table_name = var("TABLE_NAME");
        c.dynamo_endpoint = var("AWS_ENDPOINT_URL_DYNAMODB");
        c.webhook_queue_url = var("WEBHOOK_QUEUE_URL");
        c.webhook_dlq_url = var("WEBHOOK_DLQ_URL");
        c.websocket_callback_url = var("WEBSOCKET_CALLBACK_URL");
        c.fsync = var("SATSGATE_FSYNC").is_some_and(|v| v == "1");
        c.log_filter = var("RUST_LOG");
        c.function_name = var("AWS_LAMBDA_FUNCTION_NAME");
        Ok(c)
    }
}

/// Whether every address `listen` names is a loopback one.
fn listens_on_loopback(listen: &str) -> bool {
    use std::net::ToSocketAddrs;
    match listen.to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<_> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())
        }
        Err(_) => false,
    }
}

/// Everything a handler may use.
#[derive(Clone)]
pub struct App {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
    pub config: Config,
    /// Price sources the price poller asks.
    pub price_feeds: Vec<Arc<dyn PriceFeed>>,
    /// The chain backend of each network the gateway serves.
    pub chains: BTreeMap<Network, Arc<dyn Chain>>,
    /// The sandbox chain, when one serves a network (`/v1/sandbox/*`).
    pub sim: Option<Arc<SimChain>>,
    /// The webhook delivery queue (SQS on AWS, table-backed locally).
    pub queue: Arc<dyn crate::queue::Queue>,
    /// Live events to WebSocket subscribers.
    pub push: Arc<dyn crate::push::Push>,
    /// Counts each key's requests for the rate limit.
    pub rate_counter: Arc<dyn crate::ratelimit::RateCounter>,
    /// Built without chains on purpose (a Lambda function without the
    /// `chain` need): reading one is a bug in its manifest entry.
    pub chainless: bool,
}

impl App {
    /// An app with the sandbox price feed and an in-memory sandbox chain
    /// serving regtest; replace them with the `with_*` methods.
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>, config: Config) -> App {
        App::without_sandbox(table, clock, config)
            .with_sim(Arc::new(SimChain::in_memory(Network::Regtest)))
    }

    /// An app with the sandbox price feed and no chain at all.
    pub fn without_sandbox(table: Arc<dyn Table>, clock: Arc<dyn Clock>, config: Config) -> App {
        App {
            queue: Arc::new(crate::queue::local::TableQueue::new(
                table.clone(),
                clock.clone(),
                crate::webhooks::QUEUE_NAME,
            )),
            push: Arc::new(crate::push::NoPush),
            rate_counter: crate::ratelimit::counter_for(&table),
            table,
            clock,
            config,
            price_feeds: vec![Arc::new(SandboxFeed::new())],
            chains: BTreeMap::new(),
            sim: None,
            chainless: false,
        }
    }

    /// Serve the sim's network from the sandbox chain.
    pub fn with_sim(mut self, sim: Arc<SimChain>) -> App {
        self.chains.insert(sim.network(), sim.clone());
        self.sim = Some(sim);
        self
    }

    /// Serve `network` from `chain` (e.g. Esplora).
    pub fn with_chain(mut self, network: Network, chain: Arc<dyn Chain>) -> App {
        if self.sim.as_ref().is_some_and(|s| s.network() == network) {
            self.sim = None;
        }
        self.chains.insert(network, chain);
        self
    }

    /// Deliver webhooks through this queue.
    pub fn with_queue(mut self, queue: Arc<dyn crate::queue::Queue>) -> App {
        self.queue = queue;
        self
    }

    /// Push live events through this adapter.
    pub fn with_push(mut self, push: Arc<dyn crate::push::Push>) -> App {
        self.push = push;
        self
    }

    pub fn with_price_feeds(mut self, feeds: Vec<Arc<dyn PriceFeed>>) -> App {
        self.price_feeds = feeds;
        self
    }

    /// The chain serving a network, if any.
    pub fn chain(&self, network: Network) -> Option<&Arc<dyn Chain>> {
        self.check_chains();
        self.chains.get(&network)
    }

    /// The networks a chain serves.
    pub fn networks(&self) -> impl Iterator<Item = Network> + '_ {
        self.check_chains();
        self.chains.keys().copied()
    }

    fn check_chains(&self) {
        debug_assert!(
            !self.chainless,
            "this function reads a chain but its manifest entry lacks the `chain` need (functions/src/manifest.rs)"
        );
        if self.chainless {
            tracing::error!("a chain was read by a function built without the `chain` need");
        }
    }

    /// The sandbox chain if it serves `network`.
    pub fn sandbox(&self, network: Network) -> Option<&Arc<SimChain>> {
        self.check_chains();
        self.sim.as_ref().filter(|s| s.network() == network)
    }

    /// An in-memory app for tests.
    pub fn in_memory() -> App {
        App::new(
            Arc::new(SqliteTable::in_memory()),
            Arc::new(SystemClock),
            Config {
                allow_insecure_urls: true,
                ..Config::default()
            },
        )
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn insecure_urls_are_the_default_only_on_loopback() {
        for listen in [
            "127.0.0.1:3000",
            "127.0.0.2:0",
            "[::1]:3000",
            "localhost:3000",
        ] {
            assert!(listens_on_loopback(listen), "{listen}");
        }
        for listen in [
            "0.0.0.0:3000",
            "[::]:3000",
            "10.1.2.3:3000",
            "192.168.0.5:80",
            "nonsense",
        ] {
            assert!(!listens_on_loopback(listen), "{listen}");
        }
    }

    fn config(runtime: Runtime, vars: &[(&str, &str)]) -> Result<Config, String> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(runtime, |name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_follow_the_runtime_and_the_listen_address() {
        let local = config(Runtime::Local, &[]).unwrap();
        assert_eq!(local.public_url, "http://127.0.0.1:3000");
        assert!(local.allow_insecure_urls);
        assert_eq!(local.price_min_sources, 1);
        let lambda = config(Runtime::Lambda, &[]).unwrap();
        assert!(!lambda.allow_insecure_urls);
        assert_eq!(lambda.price_min_sources, 2);
        let open = config(Runtime::Local, &[("SATSGATE_LISTEN", "0.0.0.0:8080")]).unwrap();
        assert_eq!(open.public_url, "http://0.0.0.0:8080");
        assert!(!open.allow_insecure_urls);
        let set = config(
            Runtime::Lambda,
            &[
                ("PRICE_MIN_SOURCES", "3"),
                ("PUBLIC_URL", "https://pay.example/"),
                ("ALLOW_INSECURE_URLS", "1"),
                ("TABLE_NAME", "t"),
                ("WEBHOOK_QUEUE_URL", "q"),
                ("WEBHOOK_DLQ_URL", ""),
                ("SATSGATE_FSYNC", "1"),
                ("WEBHOOK_BACKOFF", "fast"),
            ],
        )
        .unwrap();
        assert_eq!(set.price_min_sources, 3);
        assert_eq!(set.public_url, "https://pay.example");
        assert!(set.allow_insecure_urls);
        assert_eq!(set.table_name.as_deref(), Some("t"));
        assert_eq!(set.webhook_queue_url.as_deref(), Some("q"));
        assert_eq!(set.webhook_dlq_url, None, "empty is unset");
        assert!(set.fsync);
        assert_eq!(set.webhooks, crate::webhooks::Settings::fast());
    }

    #[test]
    fn a_bad_value_is_an_error_naming_its_variable() {
        for (name, value) in [
            ("RATE_LIMIT_PER_MINUTE", "many"),
            ("PRICE_MAX_AGE_SECONDS", "-1"),
            ("FIATS", "USD,dollars"),
            ("WEBHOOK_BACKOFF", "slow"),
        ] {
            let e = config(Runtime::Local, &[(name, value)]).unwrap_err();
            assert!(e.contains(name), "{e}");
        }
    }

    /// The environment is read here only: no adapter reads its own variable.
    #[test]
    fn only_config_reads_the_environment() {
        fn visit(dir: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    visit(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("src/app.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    if text.contains(concat!("env::", "var("))
                        || text.contains(concat!("env::", "var_os("))
                    {
                        out.push(path.display().to_string());
                    }
                }
            }
        }
        let mut readers = Vec::new();
        visit(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut readers,
        );
        assert!(readers.is_empty(), "read the environment: {readers:?}");
    }

    /// Every variable the gateway reads is a row of README "Configuration",
    /// and every row is a variable it reads.
    #[test]
    fn the_readme_documents_exactly_the_variables_read() {
        let asked = std::sync::Mutex::new(std::collections::BTreeSet::new());
        Config::from_lookup(Runtime::Local, |name| {
            asked.lock().unwrap().insert(name.to_string());
            None
        })
        .unwrap();
        let readme = include_str!("../../README.md");
        let table = readme
            .split("## Configuration")
            .nth(1)
            .expect("README has a Configuration section")
            .split("\n## ")
            .next()
            .unwrap();
        let mut documented = std::collections::BTreeSet::new();
        for line in table.lines().filter(|l| l.starts_with("| `")) {
            let cell = line.split('|').nth(1).unwrap();
            let names: Vec<&str> = cell.split('`').skip(1).step_by(2).collect();
            let first = names[0];
            for n in &names {
                // `ESPLORA_URL_MAINNET`, `_TESTNET`: a suffix of the first.
                let full = match n.strip_prefix('_') {
                    Some(suffix) => format!("{}_{suffix}", first.rsplit_once('_').unwrap().0),
                    None => n.to_string(),
                };
                documented.insert(full);
            }
        }
        // The AWS SDK reads `AWS_ENDPOINT_URL` (and credentials) itself.
        documented.remove("AWS_ENDPOINT_URL");
        let asked = asked.into_inner().unwrap();
        assert_eq!(asked, documented);
    }
}
