//! CoinGecko: `GET /api/v3/simple/price?ids=bitcoin&vs_currencies=usd,eur`,
//! one call. Prices are JSON numbers, read exactly from their text.

use super::http::{decimal_from_json, error_text, gather, unique, Answers, Endpoint};
use super::{Fiat, PriceError, PriceFeed, SourcePrice};
use serde_json::Value;
use std::time::Duration;

/// The CoinGecko public API.
#[derive(Clone, Debug)]
pub struct CoinGecko {
    http: Endpoint,
}

impl CoinGecko {
    /// The real API.
    pub const DEFAULT_URL: &'static str = "https://api.coingecko.com";

    pub fn new(client: reqwest::Client, base_url: impl Into<String>) -> CoinGecko {
        CoinGecko {
            http: Endpoint::new(client, base_url.into()),
        }
    }

    /// The real base URL.
    pub fn default_url() -> &'static str {
        Self::DEFAULT_URL
    }

    /// Per-request timeout (default 5 s).
    pub fn with_timeout(mut self, timeout: Duration) -> CoinGecko {
        self.http.timeout = timeout;
        self
    }
}

/// `{"bitcoin":{"usd":64123.45,"eur":59000.1}}`; a fiat CoinGecko does not
/// know is simply absent. Errors: `{"error":..}` or `{"status":{"error_message":..}}`.
fn parse_simple_price(body: &Value, fiats: &[Fiat]) -> Result<Answers, PriceError> {
    let Some(bitcoin) = body.get("bitcoin").and_then(Value::as_object) else {
        let error = body
            .get("error")
            .or_else(|| body.get("status"))
            .or_else(|| body.get("errors"));
        return Err(match error {
            Some(e) => PriceError::Api(error_text(e)),
            None => PriceError::Parse("CoinGecko response without \"bitcoin\"".into()),
        });
    };
    Ok(fiats
        .iter()
        .map(|fiat| {
            let answer = match bitcoin.get(&fiat.lower()) {
                None => Err(PriceError::Unsupported(fiat.clone())),
                Some(v) => decimal_from_json(v).ok_or_else(|| {
                    PriceError::Parse(format!("CoinGecko {fiat} price is not a number: {v}"))
                }),
            };
            (fiat.clone(), answer)
        })
        .collect())
}

#[async_trait::async_trait]
impl PriceFeed for CoinGecko {
    fn name(&self) -> &'static str {
        "coingecko"
    }

    async fn fetch(&self, fiats: &[Fiat]) -> Result<Vec<SourcePrice>, PriceError> {
        let fiats = unique(fiats);
        if fiats.is_empty() {
            return Ok(Vec::new());
        }
        let vs: Vec<String> = fiats.iter().map(Fiat::lower).collect();
        let body = self
            .http
            .get_json(&format!(
                "/api/v3/simple/price?ids=bitcoin&vs_currencies={}",
                vs.join(",")
            ))
            .await?;
        gather(self.name(), parse_simple_price(&body, &fiats)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prices::http::test_support::{
        common_failure_tests, fixed_server, serve, TEST_TIMEOUT,
    };
    use axum::extract::Query;
    use axum::http::header;
    use axum::response::IntoResponse;
    use axum::routing::get;
    use axum::Router;
    use rust_decimal::Decimal;
    use std::collections::HashMap;
    use std::str::FromStr;

    fn feed(base: String) -> CoinGecko {
        CoinGecko::new(reqwest::Client::new(), base).with_timeout(TEST_TIMEOUT)
    }

    common_failure_tests!(feed, [Fiat::USD, Fiat::EUR]);

    /// Answers the asked currencies it knows, as raw JSON numbers (the body
    /// is written by hand so no float ever touches the digits).
    async fn coingecko_server() -> String {
        serve(Router::new().route(
            "/api/v3/simple/price",
            get(|Query(q): Query<HashMap<String, String>>| async move {
                assert_eq!(q.get("ids").map(String::as_str), Some("bitcoin"));
                let vs = q.get("vs_currencies").cloned().unwrap_or_default();
                let fields: Vec<String> = vs
                    .split(',')
                    .filter_map(|c| {
                        let price = match c {
                            "usd" => "64123.123456789",
                            "eur" => "59000.1",
                            "gbp" => "50500",
                            "jpy" => "9750000",
                            "chf" => "5.7e4",
                            "cad" => "0",
                            _ => return None,
                        };
                        Some(format!("\"{c}\":{price}"))
                    })
                    .collect();
                let body = format!("{{\"bitcoin\":{{{}}}}}", fields.join(","));
                ([(header::CONTENT_TYPE, "application/json")], body).into_response()
            }),
        ))
        .await
    }

    #[tokio::test]
    async fn happy_path_exact_decimals() {
        let feed = feed(coingecko_server().await);
        assert_eq!(feed.name(), "coingecko");
        let prices = feed
            .fetch(&[Fiat::USD, Fiat::EUR, Fiat::GBP, Fiat::JPY, Fiat::CHF])
            .await
            .expect("prices");
        let got: Vec<String> = prices
            .iter()
            .map(|p| format!("{} {}", p.fiat, p.price))
            .collect();
        assert_eq!(
            got,
            vec![
                "USD 64123.123456789",
                "EUR 59000.1",
                "GBP 50500",
                "JPY 9750000",
                "CHF 57000"
            ]
        );
        assert_eq!(
            prices[0].price,
            Decimal::from_str("64123.123456789").expect("dec")
        );
        assert!(prices.iter().all(|p| p.source == "coingecko"));
    }

    #[tokio::test]
    async fn unknown_and_zero_prices_are_skipped() {
        let feed = feed(coingecko_server().await);
        let xyz = Fiat::from_str("XYZ").expect("fiat");
        let prices = feed
            .fetch(&[xyz.clone(), Fiat::CAD, Fiat::EUR])
            .await
            .expect("eur");
        assert_eq!(prices.len(), 1);
        assert_eq!(prices[0].fiat, Fiat::EUR);
        assert_eq!(
            feed.fetch(std::slice::from_ref(&xyz)).await,
            Err(PriceError::Unsupported(xyz))
        );
        assert!(matches!(
            feed.fetch(&[Fiat::CAD]).await,
            Err(PriceError::Api(_))
        ));
    }

    #[tokio::test]
    async fn error_json_with_200_is_api_error() {
        let base = fixed_server(
            200,
            "application/json",
            r#"{"error":"invalid vs_currency"}"#,
        )
        .await;
        let err = feed(base).fetch(&[Fiat::USD]).await.expect_err("api");
        assert_eq!(err, PriceError::Api("invalid vs_currency".into()));
    }

    #[tokio::test]
    async fn rate_limit_json_body_is_rate_limited() {
        let base = fixed_server(
            429,
            "application/json",
            r#"{"status":{"error_code":429,"error_message":"You've exceeded the Rate Limit."}}"#,
        )
        .await;
        assert_eq!(
            feed(base).fetch(&[Fiat::USD]).await,
            Err(PriceError::RateLimited)
        );
    }

    #[tokio::test]
    async fn empty_bitcoin_object_is_unsupported() {
        let base = fixed_server(200, "application/json", r#"{"bitcoin":{}}"#).await;
        assert_eq!(
            feed(base).fetch(&[Fiat::USD]).await,
            Err(PriceError::Unsupported(Fiat::USD))
        );
    }

    #[test]
    fn parse_keeps_every_digit() {
        let body: Value = serde_json::from_str(
            r#"{"bitcoin":{"usd":64123.123456789,"eur":0.000000000000000001}}"#,
        )
        .expect("json");
        let answers = parse_simple_price(&body, &[Fiat::USD, Fiat::EUR]).expect("answers");
        assert_eq!(
            answers[0].1.as_ref().map(|d| d.to_string()),
            Ok("64123.123456789".to_string())
        );
        assert_eq!(
            answers[1].1.as_ref().map(|d| d.to_string()),
            Ok("0.000000000000000001".to_string())
        );
        assert!(matches!(
            parse_simple_price(&serde_json::json!({}), &[Fiat::USD]),
            Err(PriceError::Parse(_))
        ));
    }
}
