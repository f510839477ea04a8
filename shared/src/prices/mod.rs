//! PriceFeed port and exchange adapters.
//!
//! Each adapter returns the price of 1 BTC in the asked fiats; [`fetch_all`]
//! queries several feeds concurrently and [`aggregate`] combines the answers
//! into one robust price per fiat (median after dropping outliers).
//! Prices are [`Decimal`] end to end: never `f64`.

mod bitstamp;
mod coinbase;
mod coingecko;
mod http;
mod kraken;
mod sandbox;

pub mod poller;
pub mod quotes;
pub mod rates;

/// Why a price or a quote cannot be had (mapped to the API's errors in
/// `error.rs`).
#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    /// No price fresh enough to price with: none yet, or too old.
    #[error("{0}")]
    Unavailable(String),
    /// No such quote of this store.
    #[error("quote not found")]
    QuoteNotFound,
    /// The quote was used or has expired.
    #[error("{0}")]
    QuoteUnusable(String),
    /// The table failed.
    #[error(transparent)]
    Storage(#[from] crate::table::TableError),
    /// A stored price or quote does not read as its record.
    #[error(transparent)]
    Record(#[from] crate::records::RecordError),
}

pub use bitstamp::Bitstamp;
pub use coinbase::Coinbase;
pub use coingecko::CoinGecko;
pub use kraken::Kraken;
pub use sandbox::SandboxFeed;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// The fiats quoted when nothing else is configured.
pub const DEFAULT_FIATS: &[&str] = &["USD", "EUR", "GBP", "JPY", "CAD", "CHF", "AUD"];

/// A fiat currency code: three upper-case ASCII letters (ISO 4217).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fiat([u8; 3]);

/// A string that is not a 3-letter currency code.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[error("invalid fiat currency code {0:?}: expected 3 letters (ISO 4217)")]
pub struct InvalidFiat(pub String);

impl Fiat {
    pub const USD: Fiat = Fiat(*b"USD");
    pub const EUR: Fiat = Fiat(*b"EUR");
    pub const GBP: Fiat = Fiat(*b"GBP");
    pub const JPY: Fiat = Fiat(*b"JPY");
    pub const CAD: Fiat = Fiat(*b"CAD");
    pub const CHF: Fiat = Fiat(*b"CHF");
    pub const AUD: Fiat = Fiat(*b"AUD");

    /// Parses a code case-insensitively (`"usd"` -> `USD`).
    pub fn new(code: &str) -> Result<Fiat, InvalidFiat> {
        match code.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_alphabetic()) => Ok(Fiat([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
                c.to_ascii_uppercase(),
            ])),
            _ => Err(InvalidFiat(code.chars().take(32).collect())),
        }
    }

    /// The upper-case code.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// The lower-case code (`usd`), as some exchanges want it.
    pub fn lower(&self) -> String {
        self.as_str().to_ascii_lowercase()
    }

    /// [`DEFAULT_FIATS`] as values.
    pub fn defaults() -> Vec<Fiat> {
        DEFAULT_FIATS
            .iter()
            .filter_map(|c| Fiat::new(c).ok())
            .collect()
    }
}

impl fmt::Display for Fiat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Fiat {
    type Err = InvalidFiat;
    fn from_str(s: &str) -> Result<Fiat, InvalidFiat> {
        Fiat::new(s)
    }
}

impl Serialize for Fiat {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Fiat {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Fiat, D::Error> {
        let s = String::deserialize(deserializer)?;
        Fiat::new(&s).map_err(serde::de::Error::custom)
    }
}

/// One source's price of 1 BTC in `fiat`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcePrice {
    pub source: &'static str,
    pub fiat: Fiat,
    pub price: Decimal,
}

/// Why a price source could not answer.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum PriceError {
    #[error("HTTP {status}: {body_snippet}")]
    Http { status: u16, body_snippet: String },
    #[error("rate limited (HTTP 429)")]
    RateLimited,
    #[error("request timed out")]
    Timeout,
    #[error("transport error: {0}")]
    Transport(String),
    #[error("unparseable response: {0}")]
    Parse(String),
    #[error("API error: {0}")]
    Api(String),
    #[error("currency {0} not supported by this source")]
    Unsupported(Fiat),
}

/// A source of BTC prices.
#[async_trait::async_trait]
pub trait PriceFeed: Send + Sync {
    /// `"coinbase" | "kraken" | "bitstamp" | "coingecko" | "sandbox"`.
    fn name(&self) -> &'static str;
    /// Prices of 1 BTC in each asked fiat this source supports; an error for
    /// the whole call only when nothing could be fetched.
    async fn fetch(&self, fiats: &[Fiat]) -> Result<Vec<SourcePrice>, PriceError>;
}

/// One combined price per fiat, with the sources that contributed to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Aggregated {
    pub fiat: Fiat,
    pub price: Decimal,
    pub sources: Vec<&'static str>,
}

/// Default for `max_deviation_percent` in [`aggregate`].
pub const DEFAULT_MAX_DEVIATION_PERCENT: Decimal = Decimal::TEN;

/// Median (mean of the two middle values for an even count); sorts `values`.
pub fn median(values: &mut [Decimal]) -> Option<Decimal> {
    values.sort();
    let n = values.len();
    if n == 0 {
        return None;
    }
    if n % 2 == 1 {
        return Some(values[n / 2]);
    }
    let (a, b) = (values[n / 2 - 1], values[n / 2]);
    Some(match a.checked_add(b) {
        Some(sum) => sum / Decimal::TWO,
        // Only same-sign values overflow, and then `b - a` cannot.
        None => a + (b - a) / Decimal::TWO,
    })
}

/// Combines per-source prices into one price per fiat (sorted by fiat).
///
/// Per fiat: non-positive prices and repeat answers of a source are ignored;
/// then, while 3 or more remain, the price farthest from the median of the
/// others is dropped if it deviates more than `max_deviation_percent`; two
/// remaining prices that disagree by more than that are both dropped (no way
/// to tell which is wrong). The median of the rest is the price; fiats with
/// fewer than `min_sources` contributors are left out.
pub fn aggregate(
    results: &[SourcePrice],
    min_sources: usize,
    max_deviation_percent: Decimal,
) -> Vec<Aggregated> {
    let mut by_fiat: BTreeMap<&Fiat, Vec<(&'static str, Decimal)>> = BTreeMap::new();
    for r in results {
        if r.price <= Decimal::ZERO {
            continue;
        }
        let entries = by_fiat.entry(&r.fiat).or_default();
        if !entries.iter().any(|(s, _)| *s == r.source) {
            entries.push((r.source, r.price));
        }
    }

    let mut out = Vec::new();
    for (fiat, mut entries) in by_fiat {
        drop_outliers(&mut entries, max_deviation_percent);
        if entries.is_empty() || entries.len() < min_sources {
            continue;
        }
        let mut values: Vec<Decimal> = entries.iter().map(|(_, p)| *p).collect();
        if let Some(price) = median(&mut values) {
            out.push(Aggregated {
                fiat: fiat.clone(),
                price,
                sources: entries.iter().map(|(s, _)| *s).collect(),
            });
        }
    }
    out
}

/// Removes outliers in place (see [`aggregate`]). All prices are positive.
fn drop_outliers(entries: &mut Vec<(&'static str, Decimal)>, max_pct: Decimal) {
    while entries.len() >= 2 {
        let mut worst: Option<(usize, Decimal)> = None;
        for i in 0..entries.len() {
            let mut others: Vec<Decimal> = entries
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, (_, p))| *p)
                .collect();
            let Some(reference) = median(&mut others) else {
                return;
            };
            let dev = deviation_percent(entries[i].1, reference);
            if worst.is_none_or(|(_, w)| dev > w) {
                worst = Some((i, dev));
            }
        }
        match worst {
            Some((i, dev)) if dev > max_pct => {
                if entries.len() == 2 {
                    entries.clear();
                } else {
                    entries.remove(i);
                }
            }
            _ => return,
        }
    }
}

/// `|price - reference| / reference * 100`, saturating on overflow.
fn deviation_percent(price: Decimal, reference: Decimal) -> Decimal {
    (price - reference)
        .abs()
        .checked_mul(Decimal::ONE_HUNDRED)
        .and_then(|d| d.checked_div(reference))
        .unwrap_or(Decimal::MAX)
}

/// Fetches from all feeds concurrently; failed feeds are logged and returned
/// separately.
pub async fn fetch_all(
    feeds: &[Arc<dyn PriceFeed>],
    fiats: &[Fiat],
) -> (Vec<SourcePrice>, Vec<(&'static str, PriceError)>) {
    let answers = futures::future::join_all(
        feeds
            .iter()
            .map(|feed| async move { (feed.name(), feed.fetch(fiats).await) }),
    )
    .await;
    let mut prices = Vec::new();
    let mut errors = Vec::new();
    for (name, answer) in answers {
        match answer {
            Ok(mut p) => prices.append(&mut p),
            Err(e) => {
                tracing::warn!(source = name, error = %e, "price feed failed");
                errors.push((name, e));
            }
        }
    }
    (prices, errors)
}

/// Builds feeds from a comma-separated list of names
/// (`coinbase,kraken,bitstamp,coingecko` or `sandbox`), with the real URLs.
pub fn feeds_from_names(
    names: &str,
    client: reqwest::Client,
) -> Result<Vec<Arc<dyn PriceFeed>>, String> {
    let mut seen: Vec<String> = Vec::new();
    for name in names.split(',').map(|n| n.trim().to_ascii_lowercase()) {
        if !name.is_empty() && !seen.contains(&name) {
            seen.push(name);
        }
    }
    if seen.is_empty() {
        return Err("no price feed named".to_string());
    }
    if seen.len() > 1 && seen.iter().any(|n| n == "sandbox") {
        return Err("the sandbox price feed cannot be combined with live feeds".to_string());
    }
    seen.iter()
        .map(|name| -> Result<Arc<dyn PriceFeed>, String> {
            Ok(match name.as_str() {
                "coinbase" => Arc::new(Coinbase::new(client.clone(), Coinbase::DEFAULT_URL)),
                "kraken" => Arc::new(Kraken::new(client.clone(), Kraken::DEFAULT_URL)),
                "bitstamp" => Arc::new(Bitstamp::new(client.clone(), Bitstamp::DEFAULT_URL)),
                "coingecko" => Arc::new(CoinGecko::new(client.clone(), CoinGecko::DEFAULT_URL)),
                "sandbox" => Arc::new(SandboxFeed::new()),
                other => {
                    return Err(format!(
                        "unknown price feed {other:?} (expected coinbase, kraken, bitstamp, coingecko or sandbox)"
                    ))
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::http::test_support::{fixed_server, serve};
    use super::*;
    use axum::extract::{Path, Query};
    use axum::routing::get;
    use axum::{Json, Router};
    use std::collections::HashMap;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("test decimal")
    }

    fn sp(source: &'static str, fiat: &str, price: &str) -> SourcePrice {
        SourcePrice {
            source,
            fiat: Fiat::new(fiat).expect("test fiat"),
            price: d(price),
        }
    }

    /// A feed with a fixed answer and a chosen name.
    struct StaticFeed(&'static str, Result<Vec<(Fiat, Decimal)>, PriceError>);

    #[async_trait::async_trait]
    impl PriceFeed for StaticFeed {
        fn name(&self) -> &'static str {
            self.0
        }
        async fn fetch(&self, fiats: &[Fiat]) -> Result<Vec<SourcePrice>, PriceError> {
            let prices = self.1.clone()?;
            Ok(prices
                .into_iter()
                .filter(|(f, _)| fiats.contains(f))
                .map(|(fiat, price)| SourcePrice {
                    source: self.0,
                    fiat,
                    price,
                })
                .collect())
        }
    }

    #[test]
    fn fiat_parses_case_insensitively_and_validates() {
        assert_eq!(Fiat::new("usd").expect("usd").as_str(), "USD");
        assert_eq!("eUr".parse::<Fiat>().expect("eur"), Fiat::EUR);
        assert_eq!(Fiat::JPY.to_string(), "JPY");
        assert_eq!(Fiat::CHF.lower(), "chf");
        for bad in ["", "US", "USDT", "US1", "U$D", "ÜSD", " USD"] {
            assert!(Fiat::new(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(Fiat::defaults().len(), DEFAULT_FIATS.len());
        assert!(Fiat::EUR < Fiat::USD);
    }

    #[test]
    fn fiat_serde_is_a_string() {
        assert_eq!(serde_json::to_string(&Fiat::GBP).expect("ser"), "\"GBP\"");
        let f: Fiat = serde_json::from_str("\"cad\"").expect("de");
        assert_eq!(f, Fiat::CAD);
        assert!(serde_json::from_str::<Fiat>("\"dollars\"").is_err());
        assert!(serde_json::from_str::<Fiat>("12").is_err());
    }

    #[test]
    fn median_odd_even_empty() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [d("5")]), Some(d("5")));
        assert_eq!(median(&mut [d("3"), d("1"), d("2")]), Some(d("2")));
        let m = median(&mut [d("64125.55"), d("64123.45")]).expect("median");
        assert_eq!(m, d("64124.50"));
        assert_eq!(m.normalize().to_string(), "64124.5");
        assert_eq!(
            median(&mut [d("4"), d("1"), d("3"), d("2")]),
            Some(d("2.5"))
        );
        // Exact, no rounding: mean of two values ending in odd cents.
        assert_eq!(
            median(&mut [d("0.00000001"), d("0.00000002")]),
            Some(d("0.000000015"))
        );
        assert_eq!(
            median(&mut [Decimal::MAX, Decimal::MAX]),
            Some(Decimal::MAX)
        );
    }

    #[test]
    fn aggregate_two_of_three_sources_exact() {
        // The third source failed and so contributed nothing.
        let r = vec![
            sp("coinbase", "USD", "64123.45"),
            sp("kraken", "USD", "64125.55"),
        ];
        let agg = aggregate(&r, 2, DEFAULT_MAX_DEVIATION_PERCENT);
        assert_eq!(agg.len(), 1);
        assert_eq!(agg[0].fiat, Fiat::USD);
        assert_eq!(agg[0].price, d("64124.50"));
        assert_eq!(agg[0].sources, vec!["coinbase", "kraken"]);
    }

    #[test]
    fn aggregate_odd_and_even_counts() {
        let r = vec![
            sp("a", "EUR", "60000.10"),
            sp("b", "EUR", "60002.20"),
            sp("c", "EUR", "60001.00"),
            sp("a", "USD", "65000"),
            sp("b", "USD", "65001"),
            sp("c", "USD", "65003"),
            sp("d", "USD", "65010"),
        ];
        let agg = aggregate(&r, 1, Decimal::TEN);
        assert_eq!(agg.len(), 2);
        assert_eq!(agg[0].fiat, Fiat::EUR);
        assert_eq!(agg[0].price, d("60001.00"));
        assert_eq!(agg[0].sources.len(), 3);
        assert_eq!(agg[1].fiat, Fiat::USD);
        assert_eq!(agg[1].price, d("65002"));
        assert_eq!(agg[1].sources, vec!["a", "b", "c", "d"]);
    }

    #[test]
    fn aggregate_drops_outlier_fifty_percent_away() {
        let r = vec![
            sp("a", "USD", "64000"),
            sp("b", "USD", "96000"),
            sp("c", "USD", "64100"),
        ];
        let agg = aggregate(&r, 2, Decimal::TEN);
        assert_eq!(agg.len(), 1);
        assert_eq!(agg[0].price, d("64050"));
        assert_eq!(agg[0].sources, vec!["a", "c"]);
        // A looser threshold keeps it.
        let agg = aggregate(&r, 2, d("60"));
        assert_eq!(agg[0].price, d("64100"));
        assert_eq!(agg[0].sources.len(), 3);
    }

    #[test]
    fn aggregate_drops_low_outlier_among_many() {
        let r = vec![
            sp("a", "USD", "100"),
            sp("b", "USD", "101"),
            sp("c", "USD", "99"),
            sp("d", "USD", "50"),
            sp("e", "USD", "102"),
        ];
        let agg = aggregate(&r, 3, Decimal::TEN);
        assert_eq!(agg[0].price, d("100.5"));
        assert_eq!(agg[0].sources, vec!["a", "b", "c", "e"]);
    }

    #[test]
    fn aggregate_two_disagreeing_sources_give_nothing() {
        let r = vec![sp("a", "USD", "100"), sp("b", "USD", "150")];
        assert!(aggregate(&r, 1, Decimal::TEN).is_empty());
    }

    #[test]
    fn aggregate_drops_zero_and_negative_prices() {
        let r = vec![
            sp("a", "USD", "0"),
            sp("b", "USD", "64000"),
            sp("c", "USD", "64002"),
            sp("d", "USD", "-64001"),
        ];
        let agg = aggregate(&r, 2, Decimal::TEN);
        assert_eq!(agg[0].price, d("64001"));
        assert_eq!(agg[0].sources, vec!["b", "c"]);
        // Only a zero: nothing at all.
        assert!(aggregate(&[sp("a", "GBP", "0")], 1, Decimal::TEN).is_empty());
    }

    #[test]
    fn aggregate_respects_min_sources() {
        let r = vec![
            sp("a", "USD", "64000"),
            sp("b", "USD", "64001"),
            sp("a", "JPY", "9750000"),
        ];
        let agg = aggregate(&r, 2, Decimal::TEN);
        assert_eq!(agg.len(), 1);
        assert_eq!(agg[0].fiat, Fiat::USD);
        let agg = aggregate(&r, 1, Decimal::TEN);
        assert_eq!(agg.len(), 2);
        assert_eq!(agg[1].fiat, Fiat::USD);
        assert_eq!(agg[0].price, d("9750000"));
        assert!(aggregate(&r, 3, Decimal::TEN).is_empty());
        assert!(aggregate(&[], 0, Decimal::TEN).is_empty());
    }

    #[test]
    fn aggregate_counts_a_source_once() {
        let r = vec![
            sp("a", "USD", "64000"),
            sp("a", "USD", "64000"),
            sp("b", "USD", "64010"),
        ];
        let agg = aggregate(&r, 3, Decimal::TEN);
        assert!(agg.is_empty());
        let agg = aggregate(&r, 2, Decimal::TEN);
        assert_eq!(agg[0].price, d("64005"));
    }

    #[tokio::test]
    async fn fetch_all_three_feeds_one_failing() {
        let feeds: Vec<Arc<dyn PriceFeed>> = vec![
            Arc::new(StaticFeed("one", Ok(vec![(Fiat::USD, d("64123.45"))]))),
            Arc::new(StaticFeed("two", Err(PriceError::Timeout))),
            Arc::new(StaticFeed("three", Ok(vec![(Fiat::USD, d("64125.55"))]))),
        ];
        let (prices, errors) = fetch_all(&feeds, &[Fiat::USD]).await;
        assert_eq!(errors, vec![("two", PriceError::Timeout)]);
        let agg = aggregate(&prices, 2, Decimal::TEN);
        assert_eq!(agg[0].price, d("64124.50"));
        assert_eq!(agg[0].sources, vec!["one", "three"]);
    }

    #[tokio::test]
    async fn fetch_all_with_http_adapters_one_server_failing() {
        let broken = fixed_server(
            500,
            "application/json",
            r#"{"errors":[{"id":"internal_server_error","message":"boom"}]}"#,
        )
        .await;

        let kraken = serve(Router::new().route(
            "/0/public/Ticker",
            get(|Query(q): Query<HashMap<String, String>>| async move {
                assert_eq!(q.get("pair").map(String::as_str), Some("XBTUSD,XBTEUR"));
                Json(serde_json::json!({"error": [], "result": {
                    "XXBTZUSD": {"a": ["64130.0", "1", "1.000"], "c": ["64120.0", "0.0011"]},
                    "XXBTZEUR": {"a": ["59010.0", "1", "1.000"], "c": ["59000.5", "0.0011"]}
                }}))
            }),
        ))
        .await;

        let bitstamp = serve(Router::new().route(
            "/api/v2/ticker/{pair}/",
            get(|Path(pair): Path<String>| async move {
                let last = match pair.as_str() {
                    "btcusd" => "64130",
                    "btceur" => "59001.5",
                    _ => "0",
                };
                Json(serde_json::json!({"timestamp": "1700000000", "last": last, "bid": "1", "ask": "2"}))
            }),
        ))
        .await;

        let client = reqwest::Client::new();
        let feeds: Vec<Arc<dyn PriceFeed>> = vec![
            Arc::new(Coinbase::new(client.clone(), broken)),
            Arc::new(Kraken::new(client.clone(), kraken)),
            Arc::new(Bitstamp::new(client, bitstamp)),
        ];
        let (prices, errors) = fetch_all(&feeds, &[Fiat::USD, Fiat::EUR]).await;
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "coinbase");
        assert!(matches!(errors[0].1, PriceError::Http { status: 500, .. }));
        assert_eq!(prices.len(), 4);

        let agg = aggregate(&prices, 2, Decimal::TEN);
        assert_eq!(agg.len(), 2);
        assert_eq!(agg[0].fiat, Fiat::EUR);
        assert_eq!(agg[0].price, d("59001.00"));
        assert_eq!(agg[1].fiat, Fiat::USD);
        assert_eq!(agg[1].price, d("64125"));
        for a in &agg {
            assert_eq!(a.sources, vec!["kraken", "bitstamp"]);
        }
    }

    #[test]
    fn feeds_from_names_builds_known_feeds() {
        let client = reqwest::Client::new();
        let feeds = feeds_from_names(
            " Coinbase, kraken,bitstamp ,coingecko,kraken",
            client.clone(),
        )
        .expect("feeds");
        let names: Vec<_> = feeds.iter().map(|f| f.name()).collect();
        assert_eq!(names, vec!["coinbase", "kraken", "bitstamp", "coingecko"]);

        let feeds = feeds_from_names("sandbox", client.clone()).expect("sandbox");
        assert_eq!(feeds[0].name(), "sandbox");

        assert!(feeds_from_names("coinbase,binance", client.clone()).is_err());
        assert!(feeds_from_names(" , ", client.clone()).is_err());
        assert!(feeds_from_names("sandbox,kraken", client).is_err());
    }
}
