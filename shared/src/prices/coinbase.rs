//! Coinbase spot prices: `GET /v2/prices/BTC-{FIAT}/spot`, one call per fiat.

use super::http::{decimal_from_json, error_text, gather, unique, Endpoint};
use super::{Fiat, PriceError, PriceFeed, SourcePrice};
use rust_decimal::Decimal;
use serde_json::Value;
use std::time::Duration;

/// The Coinbase public price API.
#[derive(Clone, Debug)]
pub struct Coinbase {
    http: Endpoint,
}

impl Coinbase {
    /// The real API.
    pub const DEFAULT_URL: &'static str = "https://api.coinbase.com";

    pub fn new(client: reqwest::Client, base_url: impl Into<String>) -> Coinbase {
        Coinbase {
            http: Endpoint::new(client, base_url.into()),
        }
    }

    /// The real base URL.
    pub fn default_url() -> &'static str {
        Self::DEFAULT_URL
    }

    /// Per-request timeout (default 5 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Coinbase {
        self.http.timeout = timeout;
        self
    }

    async fn spot(&self, fiat: &Fiat) -> Result<Decimal, PriceError> {
        let body = self
            .http
            .get_json(&format!("/v2/prices/BTC-{fiat}/spot"))
            .await?;
        parse_spot(&body, fiat)
    }
}

/// `{"data":{"amount":"64123.45","base":"BTC","currency":"USD"}}`.
fn parse_spot(body: &Value, fiat: &Fiat) -> Result<Decimal, PriceError> {
    if let Some(errors) = body.get("errors") {
        return Err(PriceError::Api(error_text(errors)));
    }
    let data = body
        .get("data")
        .ok_or_else(|| PriceError::Parse("Coinbase response without \"data\"".into()))?;
    let currency = data.get("currency").and_then(Value::as_str);
    if currency.is_some_and(|c| !c.eq_ignore_ascii_case(fiat.as_str())) {
        return Err(PriceError::Parse(format!(
            "Coinbase answered currency {currency:?} for {fiat}"
        )));
    }
    let base = data.get("base").and_then(Value::as_str);
    if base.is_some_and(|b| !b.eq_ignore_ascii_case("BTC")) {
        return Err(PriceError::Parse(format!(
            "Coinbase answered base {base:?}"
        )));
    }
    data.get("amount")
        .and_then(decimal_from_json)
        .ok_or_else(|| PriceError::Parse("Coinbase response without a valid \"amount\"".into()))
}

#[async_trait::async_trait]
impl PriceFeed for Coinbase {
    fn name(&self) -> &'static str {
        "coinbase"
    }

    async fn fetch(&self, fiats: &[Fiat]) -> Result<Vec<SourcePrice>, PriceError> {
        let fiats = unique(fiats);
        let answers = futures::future::join_all(
            fiats
                .into_iter()
                .map(|fiat| async move { (fiat.clone(), self.spot(&fiat).await) }),
        )
        .await;
        gather(self.name(), answers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prices::http::test_support::{common_failure_tests, serve, TEST_TIMEOUT};
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::get;
    use axum::{Json, Router};
    use serde_json::json;
    use std::str::FromStr;

    fn feed(base: String) -> Coinbase {
        Coinbase::new(reqwest::Client::new(), base).with_timeout(TEST_TIMEOUT)
    }

    common_failure_tests!(feed, [Fiat::USD, Fiat::EUR]);

    /// Serves the real shapes: USD, EUR, GBP, JPY priced; XAU priced 0;
    /// anything else 404 "Invalid currency".
    async fn coinbase_server() -> String {
        serve(Router::new().route(
            "/v2/prices/{pair}/spot",
            get(|Path(pair): Path<String>| async move {
                let amount = match pair.as_str() {
                    "BTC-USD" => "64123.45",
                    "BTC-EUR" => "59000.10",
                    "BTC-GBP" => "50500.999999",
                    "BTC-JPY" => "9750000",
                    "BTC-XAU" => "0",
                    _ => return (
                        StatusCode::NOT_FOUND,
                        Json(
                            json!({"errors": [{"id": "not_found", "message": "Invalid currency"}]}),
                        ),
                    )
                        .into_response(),
                };
                let currency = pair.trim_start_matches("BTC-");
                Json(json!({"data": {"amount": amount, "base": "BTC", "currency": currency}}))
                    .into_response()
            }),
        ))
        .await
    }

    #[tokio::test]
    async fn happy_path_several_fiats() {
        let feed = feed(coinbase_server().await);
        assert_eq!(feed.name(), "coinbase");
        let prices = feed
            .fetch(&[Fiat::USD, Fiat::EUR, Fiat::GBP, Fiat::JPY, Fiat::USD])
            .await
            .expect("prices");
        let got: Vec<(String, String)> = prices
            .iter()
            .map(|p| (p.fiat.to_string(), p.price.to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("USD".to_string(), "64123.45".to_string()),
                ("EUR".to_string(), "59000.10".to_string()),
                ("GBP".to_string(), "50500.999999".to_string()),
                ("JPY".to_string(), "9750000".to_string()),
            ]
        );
        assert!(prices.iter().all(|p| p.source == "coinbase"));
    }

    #[tokio::test]
    async fn invalid_currency_is_skipped_when_others_answer() {
        let feed = feed(coinbase_server().await);
        let xyz = Fiat::from_str("XYZ").expect("fiat");
        let prices = feed.fetch(&[xyz.clone(), Fiat::USD]).await.expect("usd");
        assert_eq!(prices.len(), 1);
        assert_eq!(prices[0].fiat, Fiat::USD);

        let err = feed.fetch(&[xyz]).await.expect_err("only invalid");
        assert!(
            matches!(&err, PriceError::Http { status: 404, body_snippet } if body_snippet.contains("Invalid currency")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn zero_price_is_not_an_answer() {
        let feed = feed(coinbase_server().await);
        let xau = Fiat::from_str("xau").expect("fiat");
        let prices = feed.fetch(&[xau.clone(), Fiat::EUR]).await.expect("eur");
        assert_eq!(prices.len(), 1);
        assert_eq!(prices[0].fiat, Fiat::EUR);
        assert!(matches!(feed.fetch(&[xau]).await, Err(PriceError::Api(_))));
    }

    #[tokio::test]
    async fn error_json_with_200_is_api_error() {
        let base = crate::prices::http::test_support::fixed_server(
            200,
            "application/json",
            r#"{"errors":[{"id":"invalid_request","message":"Currency is unsupported"}]}"#,
        )
        .await;
        let err = feed(base).fetch(&[Fiat::USD]).await.expect_err("api");
        assert_eq!(err, PriceError::Api("Currency is unsupported".into()));
    }

    #[test]
    fn parse_spot_checks_currency_and_amount() {
        let ok = json!({"data": {"amount": "64123.45", "base": "BTC", "currency": "USD"}});
        assert_eq!(
            parse_spot(&ok, &Fiat::USD),
            Ok(Decimal::from_str("64123.45").expect("dec"))
        );
        assert!(matches!(
            parse_spot(&ok, &Fiat::EUR),
            Err(PriceError::Parse(_))
        ));
        let eth = json!({"data": {"amount": "3000", "base": "ETH", "currency": "USD"}});
        assert!(matches!(
            parse_spot(&eth, &Fiat::USD),
            Err(PriceError::Parse(_))
        ));
        let bad = json!({"data": {"amount": "lots", "currency": "USD"}});
        assert!(matches!(
            parse_spot(&bad, &Fiat::USD),
            Err(PriceError::Parse(_))
        ));
        assert!(matches!(
            parse_spot(&json!({}), &Fiat::USD),
            Err(PriceError::Parse(_))
        ));
    }
}
