//! How a process builds its `App` from the environment: satsgate-local
//! (`App::build`, `with_live_sources`) and each Lambda function
//! (`App::for_lambda`, with only the adapters its `Wiring` names). The
//! wiring lives here, not in `app`, so the adapters that use `App` (the
//! WebSocket push, the queues) and the app do not import each other.

use crate::app::{App, Config};
use crate::chain::sim::SimChain;
use crate::clock::SystemClock;
use crate::network::Network;
use crate::table::{dynamo::DynamoTable, sqlite::SqliteTable, Table};
use std::path::PathBuf;
use std::sync::Arc;

/// Where state lives.
#[derive(Debug, Clone)]
pub enum Storage {
    /// DynamoDB table `config.table_name` (`TABLE_NAME`).
    Dynamo,
    /// Embedded engine (SQLite, `satsgate.db`) in this directory.
    Dir(PathBuf),
    /// Embedded engine (SQLite) in memory only.
    Memory,
}

impl App {
    /// Open the storage and build the app (sandbox chain and prices; the
    /// caller may switch to live sources with `with_live_sources`).
    pub async fn build(storage: Storage, config: Config) -> Result<App, String> {
        let (table, sim): (Arc<dyn Table>, Option<SimChain>) = match &storage {
            // The sandbox chain on AWS only with SANDBOX_CHAIN=1 (`from_env`).
            Storage::Dynamo => (Arc::new(DynamoTable::connect(&config).await?), None),
            Storage::Dir(dir) => {
                let table: Arc<dyn Table> = Arc::new(
                    SqliteTable::open_with(dir, config.fsync)
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

    /// The exchanges of `config.price_sources` as price feeds.
    pub fn with_live_prices(mut self) -> Result<App, String> {
        self.price_feeds = crate::prices::feeds_from_names(
            &self.config.price_sources,
            crate::sdk::outbound_client().clone(),
        )?;
        Ok(self)
    }

    /// Esplora for the networks of `config.esplora_urls` (mainnet, testnet
    /// and signet). The HTTP client is built on the first call.
    pub fn with_live_chains(mut self) -> Result<App, String> {
        for (network, url) in self.config.esplora_urls.clone() {
            self = self.with_chain(
                network,
                Arc::new(crate::chain::esplora::Esplora::lazy(
                    crate::sdk::outbound_client,
                    url,
                )),
            );
        }
        Ok(self)
    }

    /// The Lambda way: DynamoDB from `config.table_name` and only the
    /// adapters `W::NEEDS` names (`config` from `Runtime::Lambda`). The needs are a constant, so a
    /// function's binary links only the adapters it builds. With the
    /// `chain` need, `SANDBOX_CHAIN=1` serves regtest from the sandbox
    /// chain kept in the table, one chain shared by every function instance.
    /// Each condition reads `W::NEEDS` itself, never a local copy: a local
    /// would live in the async state machine, where the optimiser no longer
    /// sees a constant, and every adapter would be linked (measured).
    pub async fn for_lambda<W: Wiring>(config: Config) -> Result<App, String> {
        crate::metrics::set_function_name(config.function_name.clone());
        let table: Arc<dyn Table> = Arc::new(DynamoTable::connect(&config).await?);
        let mut app = App::without_sandbox(table, Arc::new(SystemClock), config);
        app.chainless = !W::NEEDS.chain;
        if W::NEEDS.chain {
            app = app.with_live_chains()?;
            if app.config.sandbox_chain {
                // One chain in the table for every function instance.
                let sim = SimChain::load(app.table.clone(), Network::Regtest)
                    .await
                    .map_err(|e| format!("opening the sandbox chain: {e}"))?;
                app = app.with_sim(Arc::new(sim));
            }
        }
        if W::NEEDS.exchanges {
            app = app.with_live_prices()?;
        }
        // Webhook deliveries go to SQS; a function that does not need the
        // queue gets none and must not enqueue (nothing would read a
        // table-backed queue on AWS).
        use crate::queue::sqs::SqsQueue;
        let queue_url = || {
            app.config
                .webhook_queue_url
                .clone()
                .ok_or("WEBHOOK_QUEUE_URL is not set")
        };
        app = if W::NEEDS.queue_consumer {
            let url = queue_url()?;
            let dlq = app.config.webhook_dlq_url.clone();
            app.with_queue(Arc::new(SqsQueue::consumer(&url, dlq.as_deref()).await?))
        } else if W::NEEDS.queue {
            let url = queue_url()?;
            app.with_queue(Arc::new(SqsQueue::sender(&url).await))
        } else {
            app.with_queue(Arc::new(crate::queue::Unconfigured))
        };
        // Live WebSocket pushes (WEBSOCKET_CALLBACK_URL; events-fanout).
        if W::NEEDS.push {
            let url = app
                .config
                .websocket_callback_url
                .clone()
                .ok_or("WEBSOCKET_CALLBACK_URL is not set")?;
            let push = crate::ws::aws::ApiGatewayPush::connect(app.table.clone(), &url).await;
            app = app.with_push(Arc::new(push));
        }
        Ok(app)
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
    /// Asks the exchanges for prices (the HTTP client is built at init).
    pub exchanges: bool,
    /// Reads a chain: Esplora for mainnet, testnet and signet (its HTTP
    /// client built on the first call), and the sandbox chain in the
    /// table for regtest with `SANDBOX_CHAIN=1`.
    pub chain: bool,
}

impl Needs {
    /// Only the table.
    pub const TABLE: Needs = Needs {
        queue: false,
        queue_consumer: false,
        push: false,
        exchanges: false,
        chain: false,
    };
    pub const ALL: Needs = Needs {
        queue: true,
        queue_consumer: true,
        push: true,
        exchanges: true,
        chain: true,
    };
}

/// What a Lambda binary builds, as a constant (`App::for_lambda`).
pub trait Wiring {
    /// The adapters the function's code uses (functions/src/manifest.rs).
    const NEEDS: Needs;
}
