//! The price poller (a scheduled job, every minute): ask every configured
//! source for every configured fiat at once, take the median of the sources
//! that answered, and store it as the latest rate, in the history (7 days)
//! and as one `price.updated` event in the outbox, all in one transaction.
//!
//! A failing source is logged and skipped. A fiat with fewer answers than
//! `Config::price_min_sources` keeps its old rate, which ages until
//! `current_rate` refuses it.

use super::rates::Rate;
use super::{aggregate, fetch_all, Aggregated, Fiat, DEFAULT_MAX_DEVIATION_PERCENT};
use crate::app::App;
use crate::clock::rfc3339;
use crate::events::Event;
use crate::table::{Cond, TxOp, MAX_TX_OPS};
use serde_json::{json, Value};
use time::OffsetDateTime;

/// History items live this long.
pub const HISTORY_TTL_SECS: i64 = 7 * 24 * 3600;
/// The store id of price events (they belong to no store).
pub const PRICE_EVENTS_STORE: &str = "_prices";
pub const PRICE_UPDATED: crate::events::EventKind = crate::events::EventKind::PriceUpdated;

/// Two writes per fiat plus the event fit in one transaction.
const FIATS_PER_TX: usize = (MAX_TX_OPS - 1) / 2;

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollReport {
    /// The rates written.
    pub updated: Vec<Rate>,
    /// Configured fiats that kept their old rate (too few sources answered).
    pub kept: Vec<Fiat>,
    /// Sources that failed, with why.
    pub failed_sources: Vec<(String, String)>,
}

impl PollReport {
    /// The Lambda's answer (also logged).
    pub fn to_json(&self) -> Value {
        json!({
            "updated": self.updated.iter().map(|r| json!({
                "currency": r.fiat,
                "price": r.price.to_string(),
                "sources": r.sources,
            })).collect::<Vec<_>>(),
            "kept": self.kept,
            "failed_sources": self.failed_sources.iter()
                .map(|(s, e)| json!({"source": s, "error": e}))
                .collect::<Vec<_>>(),
        })
    }
}

/// One poll: fetch, aggregate, store. Errors only when storing fails.
pub async fn poll_prices(app: &App) -> Result<PollReport, String> {
    let fiats = &app.config.fiats;
    let (prices, errors) = fetch_all(&app.price_feeds, fiats).await;
    let min_sources = app.config.price_min_sources.max(1);
    let aggregated = aggregate(&prices, min_sources, DEFAULT_MAX_DEVIATION_PERCENT);
    let now = app.now();
    let mut rates: Vec<Rate> = aggregated.into_iter().map(|a| to_rate(a, now)).collect();
    rates.sort_by_key(|r| fiats.iter().position(|f| *f == r.fiat));

    let mut report = PollReport {
        kept: fiats
            .iter()
            .filter(|f| !rates.iter().any(|r| &r.fiat == *f))
            .cloned()
            .collect(),
        failed_sources: errors
            .iter()
            .map(|(s, e)| (s.to_string(), e.to_string()))
            .collect(),
        updated: Vec::new(),
    };
    for fiat in &report.kept {
        let answers = prices.iter().filter(|p| &p.fiat == fiat).count();
        tracing::warn!(%fiat, answers, min_sources, "too few price sources agreed; keeping the old price");
    }
    for chunk in rates.chunks(FIATS_PER_TX) {
        if store_rates(app, chunk, now).await? {
            report.updated.extend(chunk.iter().cloned());
        }
    }
    tracing::info!(
        updated = report.updated.len(),
        kept = report.kept.len(),
        failed_sources = report.failed_sources.len(),
        "prices polled"
    );
    Ok(report)
}

fn to_rate(a: Aggregated, now: OffsetDateTime) -> Rate {
    Rate {
        fiat: a.fiat,
        // Canonical digits: `64124.5050` is stored as `64124.505`.
        price: a.price.normalize(),
        updated_at: now,
        sources: a.sources.iter().map(|s| s.to_string()).collect(),
    }
}

/// Writes latest + history for each rate and one `price.updated` event, in
/// one transaction. Returns false when a newer price was already stored
/// (another poll raced ahead): nothing is written then.
async fn store_rates(app: &App, rates: &[Rate], now: OffsetDateTime) -> Result<bool, String> {
    let now_s = rfc3339(now);
    let mut ops = Vec::with_capacity(rates.len() * 2 + 1);
    for rate in rates {
        // Never replace a newer price with an older one.
        let not_newer = Cond::Or(vec![
            Cond::AttrNotExists("updated_at".into()),
            Cond::Le("updated_at".into(), json!(now_s)),
        ]);
        ops.push(TxOp::Put {
            item: rate.latest_item(),
            cond: Some(not_newer),
        });
        ops.push(TxOp::Put {
            item: rate.history_item(HISTORY_TTL_SECS),
            cond: None,
        });
    }
    ops.push(price_event(rates, now).put_op(now));
    match app.table.transact(ops).await {
        Ok(()) => Ok(true),
        Err(e) if e.is_condition_failed() => {
            tracing::info!("a newer price was stored meanwhile; this poll's prices are dropped");
            Ok(false)
        }
        Err(e) => Err(format!("storing prices: {e}")),
    }
}

/// The `price.updated` event: `{"prices": [<GET /v1/prices entries>]}`.
pub fn price_event(rates: &[Rate], now: OffsetDateTime) -> Event {
    let prices: Vec<Value> = rates.iter().map(Rate::to_price_json).collect();
    Event::new(
        PRICE_UPDATED,
        PRICE_EVENTS_STORE,
        None,
        json!({ "prices": prices }),
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Config;
    use crate::clock::{Clock, ManualClock};
    use crate::prices::http::test_support::{fixed_server, serve};
    use crate::prices::rates::{all_rates, current_rate};
    use crate::prices::{Bitstamp, Coinbase, Kraken, PriceFeed, SandboxFeed};
    use crate::schema;
    use crate::table::sqlite::SqliteTable;
    use crate::table::Query;
    use axum::extract::{Path, Query as AxQuery};
    use axum::routing::get;
    use axum::{Json, Router};
    use rust_decimal::Decimal;
    use std::collections::HashMap;
    use std::str::FromStr;
    use std::sync::Arc;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("test decimal")
    }

    fn app(
        clock: &ManualClock,
        fiats: &[Fiat],
        min_sources: usize,
        feeds: Vec<Arc<dyn PriceFeed>>,
    ) -> App {
        let config = Config {
            fiats: fiats.to_vec(),
            price_min_sources: min_sources,
            ..Config::default()
        };
        App::new(
            Arc::new(SqliteTable::in_memory()),
            Arc::new(clock.clone()),
            config,
        )
        .with_price_feeds(feeds)
    }

    async fn coinbase_server(usd: &'static str, eur: &'static str) -> String {
        serve(Router::new().route(
            "/v2/prices/{pair}/spot",
            get(move |Path(pair): Path<String>| async move {
                let (amount, cur) = if pair == "BTC-USD" {
                    (usd, "USD")
                } else {
                    (eur, "EUR")
                };
                Json(json!({"data": {"amount": amount, "base": "BTC", "currency": cur}}))
            }),
        ))
        .await
    }

    async fn kraken_server(usd: &'static str, eur: &'static str) -> String {
        serve(Router::new().route(
            "/0/public/Ticker",
            get(
                move |AxQuery(_q): AxQuery<HashMap<String, String>>| async move {
                    Json(json!({"error": [], "result": {
                        "XXBTZUSD": {"a": ["1", "1", "1.000"], "c": [usd, "0.0011"]},
                        "XXBTZEUR": {"a": ["1", "1", "1.000"], "c": [eur, "0.0011"]}
                    }}))
                },
            ),
        ))
        .await
    }

    async fn bitstamp_server(usd: &'static str, eur: &'static str) -> String {
        serve(Router::new().route(
            "/api/v2/ticker/{pair}/",
            get(move |Path(pair): Path<String>| async move {
                let last = if pair == "btcusd" { usd } else { eur };
                Json(json!({"timestamp": "1700000000", "last": last, "bid": "1", "ask": "2"}))
            }),
        ))
        .await
    }

    async fn three_feeds(
        coinbase: String,
        kraken: String,
        bitstamp: String,
    ) -> Vec<Arc<dyn PriceFeed>> {
        let client = reqwest::Client::new();
        vec![
            Arc::new(Coinbase::new(client.clone(), coinbase)),
            Arc::new(Kraken::new(client.clone(), kraken)),
            Arc::new(Bitstamp::new(client, bitstamp)),
        ]
    }

    #[tokio::test]
    async fn median_of_three_adapters_with_one_failing_is_exact() {
        let broken = fixed_server(500, "text/plain", "Internal Server Error").await;
        let feeds = three_feeds(
            broken,
            kraken_server("64123.45", "59000.01").await,
            bitstamp_server("64125.56", "59000.02").await,
        )
        .await;
        let clock = ManualClock::new(OffsetDateTime::now_utc());
        let app = app(&clock, &[Fiat::USD, Fiat::EUR], 2, feeds);

        let report = poll_prices(&app).await.expect("poll");
        assert_eq!(report.failed_sources.len(), 1);
        assert_eq!(report.failed_sources[0].0, "coinbase");
        assert!(report.failed_sources[0].1.contains("500"));
        assert!(report.kept.is_empty());

        let usd = current_rate(&app, &Fiat::USD).await.expect("usd");
        assert_eq!(usd.price, d("64124.505"));
        assert_eq!(
            usd.price.to_string(),
            "64124.505",
            "every digit of the median"
        );
        assert_eq!(usd.sources, vec!["kraken", "bitstamp"]);
        assert_eq!(usd.updated_at, clock.now());
        let eur = current_rate(&app, &Fiat::EUR).await.expect("eur");
        assert_eq!(eur.price.to_string(), "59000.015");

        // The stored item: a decimal string, its sources and the time.
        let item = app
            .table
            .get(&schema::price_latest("USD"))
            .await
            .expect("get")
            .expect("latest");
        assert_eq!(item["price"], "64124.505");
        assert_eq!(item["sources"], json!(["kraken", "bitstamp"]));
        assert_eq!(item["currency"], "USD");
    }

    #[tokio::test]
    async fn all_three_answering_gives_the_middle_one() {
        let feeds = three_feeds(
            coinbase_server("64130.10", "59001").await,
            kraken_server("64120.0", "59000").await,
            bitstamp_server("64125.55", "59002").await,
        )
        .await;
        let clock = ManualClock::new(OffsetDateTime::now_utc());
        let app = app(&clock, &[Fiat::USD, Fiat::EUR], 2, feeds);
        poll_prices(&app).await.expect("poll");
        let usd = current_rate(&app, &Fiat::USD).await.expect("usd");
        assert_eq!(usd.price.to_string(), "64125.55");
        assert_eq!(usd.source_label(), "median of coinbase, kraken, bitstamp");
    }

    #[tokio::test]
    async fn too_few_sources_keep_the_old_price_which_ages() {
        let clock = ManualClock::new(OffsetDateTime::now_utc());
        let good = three_feeds(
            coinbase_server("64000", "59000").await,
            kraken_server("64002", "59002").await,
            bitstamp_server("64004", "59004").await,
        )
        .await;
        let mut app = app(&clock, &[Fiat::USD], 2, good);
        poll_prices(&app).await.expect("first poll");
        let first = current_rate(&app, &Fiat::USD).await.expect("usd");
        assert_eq!(first.price, d("64002"));

        // Now two sources fail: one answer is fewer than the minimum of 2.
        let broken = fixed_server(500, "text/plain", "down").await;
        app.price_feeds =
            three_feeds(broken.clone(), broken, bitstamp_server("70000", "1").await).await;
        clock.advance(time::Duration::minutes(5));
        let report = poll_prices(&app).await.expect("second poll");
        assert!(report.updated.is_empty());
        assert_eq!(report.kept, vec![Fiat::USD]);
        assert_eq!(report.failed_sources.len(), 2);
        let kept = current_rate(&app, &Fiat::USD).await.expect("still fresh");
        assert_eq!(
            (kept.price, kept.updated_at),
            (first.price, first.updated_at)
        );

        // It ages: 11 minutes after it was fetched it may not price anything.
        clock.advance(time::Duration::minutes(6));
        poll_prices(&app).await.expect("third poll");
        let e = current_rate(&app, &Fiat::USD)
            .await
            .map_err(crate::error::ApiError::from)
            .expect_err("stale");
        assert_eq!(e.code.as_str(), "rate_unavailable");
        assert!(
            e.message.contains("11 minutes old (limit 10 minutes)"),
            "{}",
            e.message
        );
    }

    #[tokio::test]
    async fn history_and_one_event_per_poll() {
        let clock = ManualClock::new(OffsetDateTime::now_utc());
        let app = app(
            &clock,
            &Fiat::defaults(),
            1,
            vec![Arc::new(SandboxFeed::new())],
        );
        poll_prices(&app).await.expect("poll 1");
        clock.advance(time::Duration::minutes(1));
        let report = poll_prices(&app).await.expect("poll 2");
        assert_eq!(report.updated.len(), 7);

        let hist = app
            .table
            .query(Query::table(schema::price_history_of("USD")))
            .await
            .expect("history");
        assert_eq!(hist.items.len(), 2);
        let ttl = hist.items[1]["ttl"].as_i64().expect("ttl");
        assert_eq!(ttl, clock.now().unix_timestamp() + HISTORY_TTL_SECS);

        let events = app
            .table
            .query(Query::table(schema::events_of_store(PRICE_EVENTS_STORE)))
            .await
            .expect("events");
        assert_eq!(events.items.len(), 2, "one event per poll");
        let ev = &events.items[1];
        assert_eq!(ev["type"], PRICE_UPDATED.as_str());
        assert_eq!(ev[schema::GSI2_PK], "OUTBOX");
        let prices = ev["data"]["prices"].as_array().expect("prices");
        assert_eq!(prices.len(), 7);
        assert_eq!(
            prices[0],
            json!({"currency": "BTC", "base": "USD", "value": "65000.00",
                   "updated_at": rfc3339(clock.now()), "source": "sandbox"})
        );
        assert_eq!(all_rates(&app).await.expect("rates").len(), 7);
    }

    #[tokio::test]
    async fn many_fiats_are_split_into_transactions_of_25() {
        let codes = [
            "USD", "EUR", "GBP", "JPY", "CAD", "CHF", "AUD", "NZD", "SEK", "NOK", "DKK", "PLN",
            "CZK", "HKD", "SGD",
        ];
        let fiats: Vec<Fiat> = codes.iter().map(|c| Fiat::new(c).expect("fiat")).collect();
        let mut feed = SandboxFeed::new();
        for f in &fiats {
            feed = feed.with_price(f.clone(), d("1000"));
        }
        let clock = ManualClock::new(OffsetDateTime::now_utc());
        let app = app(&clock, &fiats, 1, vec![Arc::new(feed)]);
        let report = poll_prices(&app).await.expect("poll");
        assert_eq!(report.updated.len(), 15);
        assert_eq!(all_rates(&app).await.expect("rates").len(), 15);
        let events = app
            .table
            .query(Query::table(schema::events_of_store(PRICE_EVENTS_STORE)))
            .await
            .expect("events");
        assert_eq!(events.items.len(), 2, "12 fiats, then 3");
    }

    #[tokio::test]
    async fn an_older_poll_never_replaces_a_newer_price() {
        let clock = ManualClock::new(OffsetDateTime::now_utc());
        let app = app(&clock, &[Fiat::USD], 1, vec![Arc::new(SandboxFeed::new())]);
        clock.advance(time::Duration::minutes(1));
        poll_prices(&app).await.expect("newer");
        clock.advance(time::Duration::minutes(-1));
        let report = poll_prices(&app).await.expect("older");
        assert!(report.updated.is_empty());
        let r = current_rate(&app, &Fiat::USD).await.expect("usd");
        assert_eq!(r.updated_at, clock.now() + time::Duration::minutes(1));
    }

    #[tokio::test]
    async fn no_sources_at_all_changes_nothing() {
        let clock = ManualClock::new(OffsetDateTime::now_utc());
        let app = app(&clock, &[Fiat::USD], 1, vec![]);
        let report = poll_prices(&app).await.expect("poll");
        assert_eq!(report.kept, vec![Fiat::USD]);
        assert_eq!(report.to_json()["kept"], json!(["USD"]));
        assert!(current_rate(&app, &Fiat::USD).await.is_err());
    }
}
