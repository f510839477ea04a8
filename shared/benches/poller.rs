//! `cargo bench -p satsgate --bench poller`: what one chain-poller run costs
//! per watched invoice (Chain port calls, table reads and writes, time) for
//! 10, 1,000 and 10,000 watched invoices on the sandbox chain, and how many
//! invoices per second the embedded engine creates through the full request
//! pipeline. Ratios are against baselines measured in the same run.

use async_trait::async_trait;
use bitcoin::{Amount, BlockHash, Transaction, Txid};
use rust_decimal::Decimal;
use satsgate::app::{App, Config};
use satsgate::chain::{sim::SimChain, Chain, ChainError, ChainTx};
use satsgate::clock::SystemClock;
use satsgate::http::Request;
use satsgate::network::Network;
use satsgate::table::{
    sqlite::SqliteTable, Cond, Item, Key, Page, Query, Table, TableError, TxOp, Update,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

#[derive(Default)]
struct Counts {
    reads: AtomicU64,
    read_items: AtomicU64,
    writes: AtomicU64,
    chain: AtomicU64,
}

impl Counts {
    fn take(&self) -> [u64; 4] {
        [&self.reads, &self.read_items, &self.writes, &self.chain].map(|c| c.swap(0, Relaxed))
    }
}

struct CountingTable(Arc<dyn Table>, Arc<Counts>);

#[async_trait]
impl Table for CountingTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        self.1.reads.fetch_add(1, Relaxed);
        self.1.read_items.fetch_add(1, Relaxed);
        self.0.get(key).await
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, TableError> {
        self.1.reads.fetch_add(1, Relaxed);
        self.1.read_items.fetch_add(keys.len() as u64, Relaxed);
        self.0.get_many(keys).await
    }
    async fn put(&self, item: Item, cond: Option<Cond>) -> Result<(), TableError> {
        self.1.writes.fetch_add(1, Relaxed);
        self.0.put(item, cond).await
    }
    async fn update(
        &self,
        key: &Key,
        update: Update,
        cond: Option<Cond>,
    ) -> Result<Item, TableError> {
        self.1.writes.fetch_add(1, Relaxed);
        self.0.update(key, update, cond).await
    }
    async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<Option<Item>, TableError> {
        self.1.writes.fetch_add(1, Relaxed);
        self.0.delete(key, cond).await
    }
    async fn query(&self, query: Query) -> Result<Page, TableError> {
        let page = self.0.query(query).await?;
        self.1.reads.fetch_add(1, Relaxed);
        self.1
            .read_items
            .fetch_add(page.items.len() as u64, Relaxed);
        Ok(page)
    }
    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), TableError> {
        self.1.writes.fetch_add(ops.len() as u64, Relaxed);
        self.0.transact(ops).await
    }
    fn engine(&self) -> &'static str {
        "counting"
    }
}

struct CountingChain(Arc<SimChain>, Arc<Counts>);

#[async_trait]
impl Chain for CountingChain {
    async fn tip_height(&self) -> Result<u32, ChainError> {
        self.1.chain.fetch_add(1, Relaxed);
        self.0.tip_height().await
    }
    async fn block_hash_at(&self, h: u32) -> Result<Option<BlockHash>, ChainError> {
        self.1.chain.fetch_add(1, Relaxed);
        self.0.block_hash_at(h).await
    }
    async fn address_txs(&self, a: &str) -> Result<Vec<ChainTx>, ChainError> {
        self.1.chain.fetch_add(1, Relaxed);
        self.0.address_txs(a).await
    }
    async fn tx(&self, t: &Txid) -> Result<Option<ChainTx>, ChainError> {
        self.1.chain.fetch_add(1, Relaxed);
        self.0.tx(t).await
    }
    async fn broadcast(&self, t: &Transaction) -> Result<Txid, ChainError> {
        self.1.chain.fetch_add(1, Relaxed);
        self.0.broadcast(t).await
    }
    async fn fee_estimates(&self) -> Result<BTreeMap<u16, Decimal>, ChainError> {
        self.1.chain.fetch_add(1, Relaxed);
        self.0.fee_estimates().await
    }
}

const VPUB: &str = "vpub5Y6cjg78GGuNLsaPhmYsiw4gYX3HoQiRBiSwDaBXKUafCt9bNwWQiitDk5VZ5BVxYnQdwoTyXSs2JHRPAgjAvtbBrf8ZhDYe2jWAqvZVnsc";

async fn call(
    api: &axum::Router,
    method: &str,
    path: &str,
    key: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let mut req = Request::new(method.parse().unwrap(), path);
    req.headers
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    req.body = body.to_string().into();
    let r = satsgate::router::call(api, req).await;
    assert!(r.status < 300, "{method} {path}: {} {:?}", r.status, r.body);
    serde_json::from_slice(&r.body_bytes()).unwrap()
}

struct Setup {
    app: App,
    /// The router of every row, over `app`.
    api: axum::Router,
    counts: Arc<Counts>,
    sim: Arc<SimChain>,
    store_key: String,
}

async fn setup() -> Setup {
    let counts = Arc::new(Counts::default());
    let sim = Arc::new(SimChain::in_memory(Network::Regtest));
    let table: Arc<dyn Table> = Arc::new(CountingTable(
        Arc::new(SqliteTable::in_memory()),
        counts.clone(),
    ));
    let config = Config {
        rate_limit_per_minute: u64::MAX / 2,
        ..Config::default()
    };
    let app = App::new(table, Arc::new(SystemClock), config).with_chain(
        Network::Regtest,
        Arc::new(CountingChain(sim.clone(), counts.clone())),
    );
    let (_, _, account_key) = satsgate::account::create_account(&*app.table, "bench", app.now())
        .await
        .unwrap();
    let api = satsgate::router::api(Arc::new(app.clone()));
    let created = call(
        &api,
        "POST",
        "/v1/stores",
        &account_key,
        json!({"name": "bench", "network": "regtest", "wallet": VPUB}),
    )
    .await;
    let store_key = created["api_key"]["key"].as_str().unwrap().to_string();
    Setup {
        app,
        api,
        counts,
        sim,
        store_key,
    }
}

/// Invoices per second through the whole pipeline, and raw puts per second
/// of an invoice-sized item (the baseline).
async fn creation_rate(n: usize) -> (f64, f64) {
    let s = setup().await;
    let started = Instant::now();
    for _ in 0..n {
        call(
            &s.api,
            "POST",
            "/v1/invoices",
            &s.store_key,
            json!({"amount": "0.001", "currency": "BTC"}),
        )
        .await;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let raw = SqliteTable::in_memory();
    let item = call(
        &s.api,
        "POST",
        "/v1/invoices",
        &s.store_key,
        json!({"amount": "0.001", "currency": "BTC"}),
    )
    .await;
    let started = Instant::now();
    for i in 0..n {
        let mut it = item.as_object().unwrap().clone();
        it.insert("pk".into(), json!(format!("X#{i}")));
        it.insert("sk".into(), json!("X"));
        raw.put(it, Some(Cond::NotExists)).await.unwrap();
    }
    (rate, n as f64 / started.elapsed().as_secs_f64())
}

async fn poller_cost(n: usize) -> Vec<(String, [f64; 5])> {
    let s = setup().await;
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let inv = call(
            &s.api,
            "POST",
            "/v1/invoices",
            &s.store_key,
            json!({"amount": "0.001", "currency": "BTC"}),
        )
        .await;
        ids.push((
            inv["id"].as_str().unwrap().to_string(),
            inv["address"].as_str().unwrap().to_string(),
        ));
    }
    // A tenth of the invoices get paid before the first run.
    for (_, address) in ids.iter().step_by(10) {
        s.sim
            .pay(address, Amount::from_sat(100_000), false)
            .unwrap();
    }
    let mut rows = Vec::new();
    s.counts.take();
    for label in ["run 1 (10% just paid)", "run 2 (nothing changed)"] {
        let started = Instant::now();
        let report = satsgate::invoice::poller::poll_chain(&s.app).await.unwrap();
        let secs = started.elapsed().as_secs_f64();
        let [reads, read_items, writes, chain] = s.counts.take();
        let per = |x: u64| x as f64 / n as f64;
        assert_eq!(report.checked, n);
        rows.push((
            label.to_string(),
            [
                per(chain),
                per(reads),
                per(read_items),
                per(writes),
                secs * 1e6 / n as f64,
            ],
        ));
    }
    s.sim.mine(1);
    let started = Instant::now();
    satsgate::invoice::poller::poll_chain(&s.app).await.unwrap();
    let secs = started.elapsed().as_secs_f64();
    let [reads, read_items, writes, chain] = s.counts.take();
    let per = |x: u64| x as f64 / n as f64;
    rows.push((
        "run 3 (1 block mined)".into(),
        [
            per(chain),
            per(reads),
            per(read_items),
            per(writes),
            secs * 1e6 / n as f64,
        ],
    ));
    rows
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let sizes: &[usize] = if quick {
        &[10, 100]
    } else {
        &[10, 1_000, 10_000]
    };
    println!("chain poller, per watched invoice per run (sandbox chain, embedded table)");
    println!(
        "{:>7} | {:<26} | {:>11} | {:>11} | {:>10} | {:>12} | {:>8} | {:>10}",
        "watched",
        "run",
        "chain calls",
        "table reads",
        "items read",
        "table writes",
        "µs",
        "µs vs n=10"
    );
    let mut base_us: BTreeMap<String, f64> = BTreeMap::new();
    for &n in sizes {
        for (label, [chain, reads, items, writes, us]) in poller_cost(n).await {
            let base = *base_us.entry(label.clone()).or_insert(us);
            println!("{n:>7} | {label:<26} | {chain:>11.3} | {reads:>11.3} | {items:>10.3} | {writes:>12.3} | {us:>8.1} | {:>9.2}x", us / base);
        }
    }
    let n = if quick { 200 } else { 5_000 };
    let (rate, raw) = creation_rate(n).await;
    println!();
    println!("invoice creation, embedded engine, full pipeline (auth, rate limit, address derivation, transaction): {rate:.0}/s");
    println!(
        "baseline: one conditional put of the same item: {raw:.0}/s; creation costs {:.1}x a put",
        raw / rate
    );
}
