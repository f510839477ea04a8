//! Kraken ticker: `GET /0/public/Ticker?pair=XBTUSD,XBTEUR,...`, one call.

use super::http::{decimal_from_json, error_text, gather, unique, Answers, Endpoint};
use super::{Fiat, PriceError, PriceFeed, SourcePrice};
use serde_json::Value;
use std::time::Duration;

/// Fiats Kraken quotes BTC in. Asking for any other pair would fail the
/// whole call with `EQuery:Unknown asset pair`, so those are never asked.
const SUPPORTED: &[&str] = &["USD", "EUR", "GBP", "JPY", "CAD", "CHF", "AUD"];

/// The Kraken public REST API.
#[derive(Clone, Debug)]
pub struct Kraken {
    http: Endpoint,
}

impl Kraken {
    /// The real API.
    pub const DEFAULT_URL: &'static str = "https://api.kraken.com";

    pub fn new(client: reqwest::Client, base_url: impl Into<String>) -> Kraken {
        Kraken {
            http: Endpoint::new(client, base_url.into()),
        }
    }

    /// The real base URL.
    pub fn default_url() -> &'static str {
        Self::DEFAULT_URL
    }

    /// Per-request timeout (default 5 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Kraken {
        self.http.timeout = timeout;
        self
    }
}

/// Reads `{"error":[],"result":{"XXBTZUSD":{"c":["64120.0","0.0011"],..},..}}`.
/// Result keys are Kraken's own names (`XXBTZUSD`, `XBTCHF`): matched back to
/// the asked fiat by their last three letters.
fn parse_ticker(body: &Value, fiats: &[Fiat]) -> Result<Answers, PriceError> {
    let errors = body
        .get("error")
        .and_then(Value::as_array)
        .filter(|e| !e.is_empty());
    let result = body
        .get("result")
        .and_then(Value::as_object)
        .filter(|r| !r.is_empty());
    let result = match (result, errors) {
        (Some(result), errors) => {
            if let Some(errors) = errors {
                let text = error_text(&Value::Array(errors.clone()));
                tracing::warn!(source = "kraken", errors = %text, "Kraken reported errors");
            }
            result
        }
        (None, Some(errors)) => {
            return Err(PriceError::Api(error_text(&Value::Array(errors.clone()))))
        }
        (None, None) => {
            return Err(PriceError::Parse(
                "Kraken response without \"result\"".into(),
            ))
        }
    };

    Ok(fiats
        .iter()
        .map(|fiat| {
            let ticker = result.iter().find_map(|(key, ticker)| {
                let key = key.to_ascii_uppercase();
                (key.contains("XBT") && key.ends_with(fiat.as_str())).then_some(ticker)
            });
            let answer = match ticker {
                None => Err(PriceError::Parse(format!(
                    "no {fiat} pair in Kraken response"
                ))),
                Some(ticker) => ticker
                    .get("c")
                    .and_then(|c| c.get(0))
                    .and_then(decimal_from_json)
                    .ok_or_else(|| {
                        PriceError::Parse(format!(
                            "Kraken {fiat} ticker without a valid last trade \"c\""
                        ))
                    }),
            };
            (fiat.clone(), answer)
        })
        .collect())
}

#[async_trait::async_trait]
impl PriceFeed for Kraken {
    fn name(&self) -> &'static str {
        "kraken"
    }

    async fn fetch(&self, fiats: &[Fiat]) -> Result<Vec<SourcePrice>, PriceError> {
        let (asked, unsupported): (Vec<Fiat>, Vec<Fiat>) = unique(fiats)
            .into_iter()
            .partition(|f| SUPPORTED.contains(&f.as_str()));
        let mut answers: Vec<_> = unsupported
            .into_iter()
            .map(|f| (f.clone(), Err(PriceError::Unsupported(f))))
            .collect();
        if !asked.is_empty() {
            let pairs: Vec<String> = asked.iter().map(|f| format!("XBT{f}")).collect();
            let body = self
                .http
                .get_json(&format!("/0/public/Ticker?pair={}", pairs.join(",")))
                .await?;
            answers.extend(parse_ticker(&body, &asked)?);
        }
        gather(self.name(), answers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prices::http::test_support::{
        common_failure_tests, fixed_server, serve, TEST_TIMEOUT,
    };
    use axum::extract::Query;
    use axum::routing::get;
    use axum::{Json, Router};
    use rust_decimal::Decimal;
    use serde_json::json;
    use std::collections::HashMap;
    use std::str::FromStr;

    fn feed(base: String) -> Kraken {
        Kraken::new(reqwest::Client::new(), base).with_timeout(TEST_TIMEOUT)
    }

    common_failure_tests!(feed, [Fiat::USD, Fiat::EUR]);

    fn ticker(ask: &str, last: &str) -> Value {
        json!({
            "a": [ask, "1", "1.000"], "b": [last, "2", "2.000"], "c": [last, "0.0011"],
            "v": ["100.1", "200.2"], "p": [last, last], "t": [100, 200],
            "l": [last, last], "h": [ask, ask], "o": last
        })
    }

    /// Answers the real shape, keyed by Kraken's own pair names.
    async fn kraken_server() -> String {
        serve(Router::new().route(
            "/0/public/Ticker",
            get(|Query(q): Query<HashMap<String, String>>| async move {
                let pairs = q.get("pair").cloned().unwrap_or_default();
                let mut result = serde_json::Map::new();
                for pair in pairs.split(',') {
                    let (key, last) = match pair {
                        "XBTUSD" => ("XXBTZUSD", "64120.0"),
                        "XBTEUR" => ("XXBTZEUR", "59000.5"),
                        "XBTGBP" => ("XXBTZGBP", "50500.1"),
                        "XBTJPY" => ("XXBTZJPY", "9750000"),
                        "XBTCAD" => ("XXBTZCAD", "89000.0"),
                        "XBTCHF" => ("XBTCHF", "57000.3"),
                        "XBTAUD" => ("XBTAUD", "0.0"),
                        _ => return Json(json!({"error": ["EQuery:Unknown asset pair"]})),
                    };
                    result.insert(key.to_string(), ticker("99999999.9", last));
                }
                Json(json!({"error": [], "result": result}))
            }),
        ))
        .await
    }

    #[tokio::test]
    async fn happy_path_maps_result_keys_back() {
        let feed = feed(kraken_server().await);
        assert_eq!(feed.name(), "kraken");
        let prices = feed
            .fetch(&[
                Fiat::USD,
                Fiat::EUR,
                Fiat::GBP,
                Fiat::JPY,
                Fiat::CAD,
                Fiat::CHF,
            ])
            .await
            .expect("prices");
        let got: Vec<String> = prices
            .iter()
            .map(|p| format!("{} {}", p.fiat, p.price))
            .collect();
        assert_eq!(
            got,
            vec![
                "USD 64120.0",
                "EUR 59000.5",
                "GBP 50500.1",
                "JPY 9750000",
                "CAD 89000.0",
                "CHF 57000.3"
            ]
        );
        assert!(prices.iter().all(|p| p.source == "kraken"));
    }

    #[tokio::test]
    async fn unsupported_and_zero_prices_are_skipped() {
        let feed = feed(kraken_server().await);
        let nzd = Fiat::from_str("NZD").expect("fiat");
        // NZD is never asked (it would fail the whole call); AUD answers 0.
        let prices = feed
            .fetch(&[nzd.clone(), Fiat::AUD, Fiat::USD])
            .await
            .expect("usd");
        assert_eq!(prices.len(), 1);
        assert_eq!(prices[0].fiat, Fiat::USD);
        assert_eq!(
            feed.fetch(std::slice::from_ref(&nzd)).await,
            Err(PriceError::Unsupported(nzd))
        );
        assert!(matches!(
            feed.fetch(&[Fiat::AUD]).await,
            Err(PriceError::Api(_))
        ));
    }

    #[tokio::test]
    async fn unknown_pair_error_with_200_is_api_error() {
        let base = fixed_server(
            200,
            "application/json",
            r#"{"error":["EQuery:Unknown asset pair"]}"#,
        )
        .await;
        let err = feed(base).fetch(&[Fiat::USD]).await.expect_err("api");
        assert_eq!(err, PriceError::Api("EQuery:Unknown asset pair".into()));
    }

    #[tokio::test]
    async fn missing_pair_in_result_is_parse_error() {
        let base = fixed_server(
            200,
            "application/json",
            r#"{"error":[],"result":{"XXBTZEUR":{"c":["59000.5","0.1"]}}}"#,
        )
        .await;
        let err = feed(base.clone())
            .fetch(&[Fiat::USD])
            .await
            .expect_err("missing");
        assert!(matches!(err, PriceError::Parse(_)), "{err:?}");
        // A present pair still answers.
        let prices = feed(base)
            .fetch(&[Fiat::USD, Fiat::EUR])
            .await
            .expect("eur");
        assert_eq!(prices.len(), 1);
        assert_eq!(prices[0].fiat, Fiat::EUR);
    }

    #[test]
    fn parse_ticker_edge_cases() {
        let warn_and_result = json!({"error": ["WGeneral:Some warning"], "result": {"XXBTZUSD": {"c": ["64000.1", "1"]}}});
        let answers = parse_ticker(&warn_and_result, &[Fiat::USD]).expect("answers");
        assert_eq!(answers[0].1, Ok(Decimal::from_str("64000.1").expect("dec")));

        assert!(matches!(
            parse_ticker(&json!({"error": []}), &[Fiat::USD]),
            Err(PriceError::Parse(_))
        ));

        let bad_c = json!({"error": [], "result": {"XXBTZUSD": {"c": []}, "XBTCHF": {"c": "x"}}});
        let answers = parse_ticker(&bad_c, &[Fiat::USD, Fiat::CHF]).expect("answers");
        assert!(answers
            .iter()
            .all(|(_, a)| matches!(a, Err(PriceError::Parse(_)))));
    }
}
