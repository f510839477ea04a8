//! The application: the set of adapters and settings, built once per
//! process (Lambda init or satsgate-local start) and shared by handlers.

use crate::clock::{Clock, SystemClock};
use crate::table::{dynamo::DynamoTable, embedded::EmbeddedTable, Table};
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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            rate_limit_per_minute: 1200,
            public_url: "http://127.0.0.1:3000".into(),
            allow_insecure_urls: false,
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
        Ok(c)
    }
}

/// Everything a handler may use.
#[derive(Clone)]
pub struct App {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
    pub config: Config,
}

/// Where state lives.
#[derive(Debug, Clone)]
pub enum Storage {
    /// DynamoDB table `TABLE_NAME` (endpoint from `AWS_ENDPOINT_URL` if set).
    Dynamo,
    /// Embedded engine in this directory.
    Dir(PathBuf),
    /// Embedded engine in memory only.
    Memory,
}

impl App {
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>, config: Config) -> App {
        App { table, clock, config }
    }

    /// An in-memory app for tests.
    pub fn in_memory() -> App {
        App::new(
            Arc::new(EmbeddedTable::in_memory()),
            Arc::new(SystemClock),
            Config {
                allow_insecure_urls: true,
                ..Config::default()
            },
        )
    }

    /// Open the storage and build the app.
    pub async fn build(storage: Storage, config: Config) -> Result<App, String> {
        let table: Arc<dyn Table> = match storage {
            Storage::Dynamo => Arc::new(DynamoTable::from_env().await?),
            Storage::Dir(dir) => Arc::new(
                EmbeddedTable::open(&dir).map_err(|e| format!("opening data dir {}: {e}", dir.display()))?,
            ),
            Storage::Memory => Arc::new(EmbeddedTable::in_memory()),
        };
        Ok(App::new(table, Arc::new(SystemClock), config))
    }

    /// The Lambda way: DynamoDB from `TABLE_NAME`, settings from env.
    pub async fn from_env() -> Result<App, String> {
        App::build(Storage::Dynamo, Config::from_env()?).await
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }
}
