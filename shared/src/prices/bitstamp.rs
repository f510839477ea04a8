//! Bitstamp ticker: `GET /api/v2/ticker/btc{fiat}/`, one call per fiat.

use super::http::{decimal_from_json, error_text, gather, unique, Endpoint};
use super::{Fiat, PriceError, PriceFeed, SourcePrice};
use rust_decimal::Decimal;
use serde_json::Value;
use std::time::Duration;

/// Fiats Bitstamp lists BTC against; others are skipped.
const SUPPORTED: &[&str] = &["USD", "EUR", "GBP"];

/// The Bitstamp public REST API.
#[derive(Clone, Debug)]
pub struct Bitstamp {
    http: Endpoint,
}

impl Bitstamp {
    /// The real API.
    pub const DEFAULT_URL: &'static str = "https://www.bitstamp.net";

    pub fn new(client: reqwest::Client, base_url: impl Into<String>) -> Bitstamp {
        Bitstamp {
            http: Endpoint::new(client, base_url.into()),
        }
    }

    /// The real base URL.
    pub fn default_url() -> &'static str {
        Self::DEFAULT_URL
    }

    /// Per-request timeout (default 5 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Bitstamp {
        self.http.timeout = timeout;
        self
    }

    async fn last(&self, fiat: &Fiat) -> Result<Decimal, PriceError> {
        if !SUPPORTED.contains(&fiat.as_str()) {
            return Err(PriceError::Unsupported(fiat.clone()));
        }
        let body = self
            .http
            .get_json(&format!("/api/v2/ticker/btc{}/", fiat.lower()))
            .await?;
        parse_ticker(&body)
    }
}

/// `{"last":"64123","bid":..,"ask":..,..}` (all strings), or
/// `{"status":"error","reason":..}` / `{"code":..,"errors":..}` on failure.
fn parse_ticker(body: &Value) -> Result<Decimal, PriceError> {
    if let Some(last) = body.get("last") {
        return decimal_from_json(last).ok_or_else(|| {
            PriceError::Parse(format!("Bitstamp \"last\" is not a number: {last}"))
        });
    }
    let error = ["reason", "errors", "error", "message"]
        .iter()
        .find_map(|k| body.get(*k));
    match error {
        Some(e) => Err(PriceError::Api(error_text(e))),
        None => Err(PriceError::Parse("Bitstamp ticker without \"last\"".into())),
    }
}

#[async_trait::async_trait]
impl PriceFeed for Bitstamp {
    fn name(&self) -> &'static str {
        "bitstamp"
    }

    async fn fetch(&self, fiats: &[Fiat]) -> Result<Vec<SourcePrice>, PriceError> {
        let answers = futures::future::join_all(
            unique(fiats)
                .into_iter()
                .map(|fiat| async move { (fiat.clone(), self.last(&fiat).await) }),
        )
        .await;
        gather(self.name(), answers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prices::http::test_support::{
        common_failure_tests, fixed_server, serve, TEST_TIMEOUT,
    };
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::get;
    use axum::{Json, Router};
    use serde_json::json;

    fn feed(base: String) -> Bitstamp {
        Bitstamp::new(reqwest::Client::new(), base).with_timeout(TEST_TIMEOUT)
    }

    common_failure_tests!(feed, [Fiat::USD, Fiat::EUR]);

    fn ticker(last: &str) -> Value {
        json!({
            "timestamp": "1700000000", "open": "63000", "high": "65000", "low": "62000",
            "last": last, "volume": "1234.5678", "vwap": "64000", "bid": "64100",
            "ask": "64200", "side": "0", "open_24": "63500", "percent_change_24": "1.02"
        })
    }

    /// usd, eur and gbp answer; anything else is Bitstamp's 404 JSON.
    async fn bitstamp_server() -> String {
        serve(Router::new().route(
            "/api/v2/ticker/{pair}/",
            get(|Path(pair): Path<String>| async move {
                let last =
                    match pair.as_str() {
                        "btcusd" => "64123",
                        "btceur" => "59000.12",
                        "btcgbp" => "50500.99",
                        _ => return (
                            StatusCode::NOT_FOUND,
                            Json(json!({"status": "error", "reason": "Not Found", "code": "404"})),
                        )
                            .into_response(),
                    };
                Json(ticker(last)).into_response()
            }),
        ))
        .await
    }

    #[tokio::test]
    async fn happy_path_several_fiats_others_skipped() {
        let feed = feed(bitstamp_server().await);
        assert_eq!(feed.name(), "bitstamp");
        let fiats = Fiat::defaults();
        let prices = feed.fetch(&fiats).await.expect("prices");
        let got: Vec<String> = prices
            .iter()
            .map(|p| format!("{} {}", p.fiat, p.price))
            .collect();
        assert_eq!(got, vec!["USD 64123", "EUR 59000.12", "GBP 50500.99"]);
        assert!(prices.iter().all(|p| p.source == "bitstamp"));
    }

    #[tokio::test]
    async fn only_unsupported_fiats_is_unsupported() {
        let feed = feed(bitstamp_server().await);
        assert_eq!(
            feed.fetch(&[Fiat::JPY, Fiat::AUD]).await,
            Err(PriceError::Unsupported(Fiat::JPY))
        );
    }

    #[tokio::test]
    async fn error_json_with_404_is_http_error() {
        let base = fixed_server(
            404,
            "application/json",
            r#"{"status":"error","reason":"Not Found","code":"404"}"#,
        )
        .await;
        let err = feed(base).fetch(&[Fiat::USD]).await.expect_err("404");
        assert!(
            matches!(&err, PriceError::Http { status: 404, body_snippet } if body_snippet.contains("Not Found")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn error_json_with_200_is_api_error() {
        let base = fixed_server(
            200,
            "application/json",
            r#"{"status":"error","reason":"Invalid pair"}"#,
        )
        .await;
        let err = feed(base).fetch(&[Fiat::USD]).await.expect_err("api");
        assert_eq!(err, PriceError::Api("Invalid pair".into()));
    }

    #[tokio::test]
    async fn zero_last_is_not_an_answer() {
        let base = fixed_server(
            200,
            "application/json",
            r#"{"last":"0.00","bid":"0","ask":"0"}"#,
        )
        .await;
        let err = feed(base).fetch(&[Fiat::USD]).await.expect_err("zero");
        assert!(matches!(err, PriceError::Api(_)), "{err:?}");
    }

    #[test]
    fn parse_ticker_shapes() {
        assert_eq!(
            parse_ticker(&ticker("64123.5")).map(|d| d.to_string()),
            Ok("64123.5".into())
        );
        assert!(matches!(
            parse_ticker(&json!({"last": null})),
            Err(PriceError::Parse(_))
        ));
        assert!(matches!(
            parse_ticker(&json!({"bid": "1"})),
            Err(PriceError::Parse(_))
        ));
        assert_eq!(
            parse_ticker(&json!({"code": "API0005", "errors": [{"message": "Invalid signature"}]})),
            Err(PriceError::Api("Invalid signature".into()))
        );
    }
}
