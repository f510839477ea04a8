//! A deterministic feed for sandbox stores and tests: no network.

use super::{Fiat, PriceError, PriceFeed, SourcePrice};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// Fixed prices of 1 BTC, settable per fiat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxFeed {
    prices: BTreeMap<Fiat, Decimal>,
}

impl SandboxFeed {
    /// USD 65000.00, EUR 60000.00, GBP 51000.00, JPY 9750000, CAD 89000.00,
    /// CHF 57000.00, AUD 99000.00.
    pub fn new() -> SandboxFeed {
        let prices = [
            (Fiat::USD, Decimal::new(6_500_000, 2)),
            (Fiat::EUR, Decimal::new(6_000_000, 2)),
            (Fiat::GBP, Decimal::new(5_100_000, 2)),
            (Fiat::JPY, Decimal::new(9_750_000, 0)),
            (Fiat::CAD, Decimal::new(8_900_000, 2)),
            (Fiat::CHF, Decimal::new(5_700_000, 2)),
            (Fiat::AUD, Decimal::new(9_900_000, 2)),
        ];
        SandboxFeed {
            prices: prices.into_iter().collect(),
        }
    }

    /// Sets (or adds) the price of one fiat.
    pub fn with_price(mut self, fiat: Fiat, price: Decimal) -> SandboxFeed {
        self.prices.insert(fiat, price);
        self
    }

    /// The configured price of `fiat`, if any.
    pub fn price(&self, fiat: &Fiat) -> Option<Decimal> {
        self.prices.get(fiat).copied()
    }
}

impl Default for SandboxFeed {
    fn default() -> SandboxFeed {
        SandboxFeed::new()
    }
}

#[async_trait::async_trait]
impl PriceFeed for SandboxFeed {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    async fn fetch(&self, fiats: &[Fiat]) -> Result<Vec<SourcePrice>, PriceError> {
        let answers = super::http::unique(fiats)
            .into_iter()
            .map(|fiat| match self.price(&fiat) {
                Some(price) => (fiat, Ok(price)),
                None => (fiat.clone(), Err(PriceError::Unsupported(fiat))),
            })
            .collect();
        super::http::gather(self.name(), answers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[tokio::test]
    async fn default_prices_are_deterministic() {
        let feed = SandboxFeed::new();
        assert_eq!(feed.name(), "sandbox");
        let prices = feed.fetch(&Fiat::defaults()).await.expect("prices");
        let got: Vec<String> = prices
            .iter()
            .map(|p| format!("{} {}", p.fiat, p.price))
            .collect();
        assert_eq!(
            got,
            vec![
                "USD 65000.00",
                "EUR 60000.00",
                "GBP 51000.00",
                "JPY 9750000",
                "CAD 89000.00",
                "CHF 57000.00",
                "AUD 99000.00"
            ]
        );
        assert!(prices.iter().all(|p| p.source == "sandbox"));
        assert_eq!(SandboxFeed::default(), feed);
    }

    #[tokio::test]
    async fn with_price_overrides_and_adds() {
        let nzd = Fiat::from_str("nzd").expect("fiat");
        let feed = SandboxFeed::new()
            .with_price(Fiat::USD, Decimal::from_str("70000.12").expect("dec"))
            .with_price(nzd.clone(), Decimal::from(110000));
        let prices = feed.fetch(&[Fiat::USD, nzd.clone()]).await.expect("prices");
        assert_eq!(prices[0].price.to_string(), "70000.12");
        assert_eq!(prices[1].fiat, nzd);
        assert_eq!(prices[1].price, Decimal::from(110000));
    }

    #[tokio::test]
    async fn unknown_or_zero_fiat_is_skipped() {
        let xyz = Fiat::from_str("XYZ").expect("fiat");
        let feed = SandboxFeed::new().with_price(Fiat::EUR, Decimal::ZERO);
        let prices = feed
            .fetch(&[xyz.clone(), Fiat::EUR, Fiat::GBP])
            .await
            .expect("gbp");
        assert_eq!(prices.len(), 1);
        assert_eq!(prices[0].fiat, Fiat::GBP);
        assert_eq!(
            feed.fetch(std::slice::from_ref(&xyz)).await,
            Err(PriceError::Unsupported(xyz))
        );
        assert!(matches!(
            feed.fetch(&[Fiat::EUR]).await,
            Err(PriceError::Api(_))
        ));
    }
}
