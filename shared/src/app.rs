//! The application: the set of adapters and settings, built once per
//! process (Lambda init or satsgate-local start) and shared by handlers.

use crate::chain::sim::SimChain;
use crate::chain::Chain;
use crate::clock::{Clock, SystemClock};
use crate::network::Network;
use crate::prices::{Fiat, PriceFeed, SandboxFeed};
use crate::table::{dynamo::DynamoTable, sqlite::SqliteTable, Table};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Settings read from the environment (see README "Configuration").
#[derive(Debug, Clone)]
pub struct Config {
    /// Requests per API key per minute.
    pub rate_limit_per_minute: u64,
    /// Base URL for links in resources (`checkout_url`, `payment_url`).
    pub public_url: String,
    /// Allow http:// and loopback/private webhook URLs (local use and tests).
    pub allow_insecure_urls: bool,
    /// The WebSocket URL the checkout page connects to (`WEBSOCKET_URL`;
    /// unset: `/ws` on the page's own host, as satsgate-local serves it).
    pub websocket_url: Option<String>,
    /// A fiat price older than this cannot price an invoice or quote.
    pub price_max_age_secs: i64,
    /// Fewer answering sources than this keeps the old price.
    pub price_min_sources: usize,
    /// Fiat currencies the price poller fetches.
    pub fiats: Vec<Fiat>,
    /// Webhook retry schedule and timeout (`WEBHOOK_BACKOFF=fast` for tests).
    pub webhooks: crate::webhooks::Settings,
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
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Config, String> {
        let mut c = Config::default();
        if let Ok(v) = std::env::var("RATE_LIMIT_PER_MINUTE") {
            c.rate_limit_per_minute = v
                .parse()
                .map_err(|_| format!("RATE_LIMIT_PER_MINUTE=`{v}` is not a whole number"))?;
        }
        if let Ok(v) = std::env::var("PUBLIC_URL") {
            c.public_url = v.trim_end_matches('/').to_string();
        }
        if let Ok(v) = std::env::var("ALLOW_INSECURE_URLS") {
            c.allow_insecure_urls = matches!(v.as_str(), "1" | "true");
        }
        if let Ok(v) = std::env::var("WEBSOCKET_URL") {
            c.websocket_url = Some(v).filter(|v| !v.trim().is_empty());
        }
        if let Ok(v) = std::env::var("PRICE_MAX_AGE_SECONDS") {
            c.price_max_age_secs = v
                .parse()
                .map_err(|_| format!("PRICE_MAX_AGE_SECONDS=`{v}` is not a whole number"))?;
        }
        if let Ok(v) = std::env::var("PRICE_MIN_SOURCES") {
            c.price_min_sources = v
                .parse()
                .map_err(|_| format!("PRICE_MIN_SOURCES=`{v}` is not a whole number"))?;
        }
        if let Ok(v) = std::env::var("FIATS") {
            c.fiats = v
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().parse::<Fiat>().map_err(|e| format!("FIATS: {e}")))
                .collect::<Result<_, _>>()?;
        }
        c.webhooks = crate::webhooks::Settings::from_env()?;
        Ok(c)
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
}

/// Where state lives.
#[derive(Debug, Clone)]
pub enum Storage {
    /// DynamoDB table `TABLE_NAME` (endpoint from `AWS_ENDPOINT_URL` if set).
    Dynamo,
    /// Embedded engine (SQLite, `satsgate.db`) in this directory.
    Dir(PathBuf),
    /// Embedded engine (SQLite) in memory only.
    Memory,
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
        self.chains.get(&network)
    }

    /// The sandbox chain if it serves `network`.
    pub fn sandbox(&self, network: Network) -> Option<&Arc<SimChain>> {
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

    /// Open the storage and build the app (sandbox chain and prices; the
    /// caller may switch to live sources with `with_live_sources`).
    pub async fn build(storage: Storage, config: Config) -> Result<App, String> {
        let (table, sim): (Arc<dyn Table>, Option<SimChain>) = match &storage {
            // The sandbox chain on AWS only with SANDBOX_CHAIN=1 (`from_env`).
            Storage::Dynamo => (Arc::new(DynamoTable::from_env().await?), None),
            Storage::Dir(dir) => {
                let table: Arc<dyn Table> = Arc::new(
                    SqliteTable::open(dir)
                        .map_err(|e| format!("opening data dir {}: {e}", dir.display()))?,
                );
                let sim = SimChain::load_or_import(
                    table.clone(),
                    Network::Regtest,
                    Some(&dir.join("sandbox-chain.json")),
                )
                .await
                .map_err(|e| format!("opening sandbox chain in {}: {e}", dir.display()))?;
                (table, Some(sim))
            }
            Storage::Memory => (
                Arc::new(SqliteTable::in_memory()),
                Some(SimChain::in_memory(Network::Regtest)),
            ),
        };
        let app = App::without_sandbox(table, Arc::new(SystemClock), config);
        Ok(match sim {
            Some(sim) => app.with_sim(Arc::new(sim)),
            None => app,
        })
    }

    /// Real exchanges (`PRICE_SOURCES`, default all four) and Esplora for
    /// mainnet, testnet and signet (`ESPLORA_URL_<NETWORK>`, default public
    /// instances). Regtest stays on the sandbox chain.
    pub fn with_live_sources(self) -> Result<App, String> {
        self.with_live_prices()?.with_live_chains()
    }

    /// The exchanges of `PRICE_SOURCES` (default all four) as price feeds.
    pub fn with_live_prices(mut self) -> Result<App, String> {
        let names = std::env::var("PRICE_SOURCES")
            .unwrap_or_else(|_| "coinbase,kraken,bitstamp,coingecko".into());
        self.price_feeds = crate::prices::feeds_from_names(&names, outbound_client().clone())?;
        Ok(self)
    }

    /// Esplora for mainnet, testnet and signet (`ESPLORA_URL_<NETWORK>`,
    /// default public instances). The HTTP client is built on the first
    /// call, so a function that only lists the networks builds none.
    pub fn with_live_chains(mut self) -> Result<App, String> {
        for (network, default) in [
            (Network::Mainnet, "https://blockstream.info/api"),
            (Network::Testnet, "https://blockstream.info/testnet/api"),
            (Network::Signet, "https://mempool.space/signet/api"),
        ] {
            let var = format!("ESPLORA_URL_{}", network.as_str().to_uppercase());
            let url = std::env::var(&var).unwrap_or_else(|_| default.into());
            self = self.with_chain(
                network,
                Arc::new(crate::chain::esplora::Esplora::lazy(outbound_client, url)),
            );
        }
        Ok(self)
    }

    /// The Lambda way: DynamoDB from `TABLE_NAME`, settings from env, and
    /// only the adapters `needs` names, so a function initialises only what
    /// it uses. Esplora is always listed (its client is built on first use);
    /// `SANDBOX_CHAIN=1` serves regtest from the sandbox chain kept in the
    /// table, one chain shared by every function instance.
    pub async fn for_lambda(needs: Needs) -> Result<App, String> {
        let mut config = Config::from_env()?;
        if std::env::var("PRICE_MIN_SOURCES").is_err() {
            config.price_min_sources = 2;
        }
        let mut app = App::build(Storage::Dynamo, config)
            .await?
            .with_live_chains()?;
        if needs.exchanges {
            app = app.with_live_prices()?;
        }
        if std::env::var("SANDBOX_CHAIN").is_ok_and(|v| v == "1") {
            // One chain in the table for every function instance.
            let sim = SimChain::load(app.table.clone(), Network::Regtest)
                .await
                .map_err(|e| format!("opening the sandbox chain: {e}"))?;
            app = app.with_sim(Arc::new(sim));
        }
        // Webhook deliveries go to SQS; a function that does not need the
        // queue gets none and must not enqueue (nothing would read a
        // table-backed queue on AWS).
        use crate::queue::sqs::SqsQueue;
        app = if needs.queue_consumer {
            app.with_queue(Arc::new(SqsQueue::from_env().await?))
        } else if needs.queue {
            app.with_queue(Arc::new(SqsQueue::sender_from_env().await?))
        } else {
            app.with_queue(Arc::new(crate::queue::Unconfigured))
        };
        // Live WebSocket pushes (WEBSOCKET_CALLBACK_URL; events-fanout).
        if needs.push {
            let push = crate::ws::aws::ApiGatewayPush::from_env(app.table.clone())
                .await
                .ok_or("WEBSOCKET_CALLBACK_URL is not set")?;
            app = app.with_push(Arc::new(push));
        }
        Ok(app)
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }
}

/// The adapters beyond the table that a Lambda function's code uses; the
/// functions crate lists them per function and a test compares that list
/// with each function's environment and IAM policies in template.yaml.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// The webhook delivery queue (SQS; `WEBHOOK_QUEUE_URL`).
    pub queue: bool,
    /// Receives from the queue and dead-letters (`WEBHOOK_DLQ_URL`).
    pub queue_consumer: bool,
    /// Pushes to WebSocket connections (`WEBSOCKET_CALLBACK_URL`).
    pub push: bool,
    /// Asks the exchanges for prices (the HTTP client is built at init;
    /// Esplora's, where a function calls it, on the first call).
    pub exchanges: bool,
}

impl Needs {
    /// Only the table.
    pub const TABLE: Needs = Needs {
        queue: false,
        queue_consumer: false,
        push: false,
        exchanges: false,
    };
    pub const ALL: Needs = Needs {
        queue: true,
        queue_consumer: true,
        push: true,
        exchanges: true,
    };
}

/// The one HTTP client of the process for exchanges and Esplora, built on
/// first use (and so its root certificates loaded once, and only then).
pub fn outbound_client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .user_agent(concat!("satsgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("outbound HTTP client")
    })
}

/// A variable the Lambda environment must set (template.yaml).
pub fn required_env(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("{name} is not set"))
}

/// The AWS SDK configuration, loaded once per process and shared by every
/// AWS client (one HTTP client, one credentials chain, one certificate load).
pub async fn aws_sdk_config() -> &'static aws_config::SdkConfig {
    static CONF: tokio::sync::OnceCell<aws_config::SdkConfig> = tokio::sync::OnceCell::const_new();
    CONF.get_or_init(|| aws_config::defaults(aws_config::BehaviorVersion::latest()).load())
        .await
}
