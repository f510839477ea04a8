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
    /// Exchanges asked for prices when live (`PRICE_SOURCES`).
    pub price_sources: String,
    /// Esplora server of each live network (`ESPLORA_URL_<NETWORK>`).
    pub esplora_urls: BTreeMap<Network, String>,
    /// Serve regtest from the sandbox chain kept in the table on Lambda
    /// (`SANDBOX_CHAIN=1`).
    pub sandbox_chain: bool,
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
        if let Ok(v) = std::env::var("PRICE_SOURCES") {
            c.price_sources = v;
        }
        for (network, url) in c.esplora_urls.iter_mut() {
            let var = format!("ESPLORA_URL_{}", network.as_str().to_uppercase());
            if let Ok(v) = std::env::var(&var) {
                *url = v;
            }
        }
        c.sandbox_chain = std::env::var("SANDBOX_CHAIN").is_ok_and(|v| v == "1");
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
