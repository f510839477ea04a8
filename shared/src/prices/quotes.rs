//! Quotes: a fiat amount priced in BTC at the current rate, held for five
//! minutes, plus an estimate of the network fee of paying it. An invoice
//! created from a quote (`POST /v1/invoices {quote_id}`) uses the quote's
//! rate, asks for its total (amount + network fee) and, when the quote
//! accepted zero-conf, settles on a non-RBF unconfirmed payment; the quote
//! can be used once, before it expires.

use super::rates::{current_rate, fiat_string, parse_currency, Currency, Rate, MAX_FIAT_AMOUNT};
use super::{Fiat, PricingError};
use crate::app::App;
use crate::clock::Stamp;
use crate::error::{ApiError, FieldErrors};
use crate::ids::{is_id, new_id, IdKind};
use crate::money::{self, fiat_to_sats};
use crate::network::Network;
use crate::records::to_item;
use crate::request::{self, Dec, Field, Flag, NonEmpty, Text, Unknown};
use crate::schema;
use crate::store::Store;
use crate::table::{Cond, Item, TxOp, Update};
use crate::view::{Btc, DecimalText, QuoteObject};
use bitcoin::Amount;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use time::OffsetDateTime;

/// How long a quote holds its rate.
pub const QUOTE_VALID_SECS: i64 = 5 * 60;
/// Quotes stay readable this long after they expire (for the 409 message).
pub const QUOTE_KEEP_SECS: i64 = 24 * 3600;
/// Confirmation target of the fee estimate, in blocks.
pub const FEE_TARGET_BLOCKS: u16 = 2;
/// Virtual size of a typical 1-input, 2-output P2WPKH payment.
pub const TYPICAL_TX_VBYTES: u64 = 141;
/// sat/vB used when no fee estimate can be had.
pub const DEFAULT_FEE_RATE: Decimal = Decimal::from_parts(10, 0, 0, false, 0);
/// The lowest fee rate nodes relay.
const MIN_FEE_RATE: Decimal = Decimal::ONE;
/// A quote does not wait longer than this for a fee estimate.
const FEE_ESTIMATE_TIMEOUT: Duration = Duration::from_secs(3);

/// A quote as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QuoteRecord {
    pub id: String,
    pub store_id: String,
    pub network: Network,
    /// The fiat amount quoted.
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub currency: Fiat,
    /// Price of 1 BTC in `currency`, held until `expires_at`.
    #[serde(with = "rust_decimal::serde::str")]
    pub rate: Decimal,
    pub rate_updated_at: Stamp,
    pub rate_sources: Vec<String>,
    /// `amount` at `rate`, rounded up to the satoshi; stored in satoshis.
    #[serde(with = "bitcoin::amount::serde::as_sat")]
    pub sats: Amount,
    /// Estimated network fee of paying it; stored in satoshis.
    #[serde(with = "bitcoin::amount::serde::as_sat")]
    pub network_fee_sats: Amount,
    /// sat/vB behind `network_fee_sats`.
    #[serde(with = "rust_decimal::serde::str")]
    pub network_fee_rate: Decimal,
    /// `estimate` (from the chain backend) or `default` (none available).
    pub network_fee_source: String,
    /// `sats + network_fee_sats`: what the buyer is asked to send; stored
    /// in satoshis.
    #[serde(with = "bitcoin::amount::serde::as_sat")]
    pub total_sats: Amount,
    pub accept_zero_conf: bool,
    pub created_at: Stamp,
    pub expires_at: Stamp,
    pub used: bool,
    #[serde(default)]
    pub used_at: Option<Stamp>,
    /// The invoice that used it, when the invoice recorded itself.
    #[serde(default)]
    pub invoice_id: Option<String>,
}

/// A checked `POST /v1/quotes` body.
#[derive(Debug, Clone, PartialEq)]
pub struct QuoteRequest {
    pub amount: Decimal,
    pub currency: Fiat,
    pub accept_zero_conf: bool,
}

crate::request_schema::request_type! {
    /// The body of `POST /v1/quotes`: `{amount, currency, crypto_currency?:
    /// "BTC", accept_zero_conf?}`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct QuoteBody {
        pub amount: Field<Dec>,
        pub currency: Field<NonEmpty<16>>,
        pub crypto_currency: Field<Text<16>>,
        pub accept_zero_conf: Field<Flag>,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

impl QuoteBody {
    /// The checked quote request; every bad field is reported at once.
    pub fn into_quote(self, app: &App) -> Result<QuoteRequest, ApiError> {
        let mut e = FieldErrors::default();
        let currency = self
            .currency
            .require("currency", &mut e)
            .and_then(|NonEmpty(code)| match parse_currency(app, &code) {
                Ok(Currency::Fiat(f)) => Some(f),
                Ok(Currency::Btc) => {
                    e.add("currency", "a quote prices a fiat amount in BTC; for a BTC amount create the invoice directly");
                    None
                }
                Err(why) => {
                    e.add("currency", why);
                    None
                }
            });
        let amount = self
            .amount
            .require("amount", &mut e)
            .and_then(|a| e.check("amount", a.within(Decimal::ZERO, MAX_FIAT_AMOUNT)))
            .and_then(|a| {
                let code = currency.as_ref().map_or("USD", Fiat::as_str);
                e.check("amount", money::check_amount(a, code))
            });
        if let Some(Text(crypto)) = self.crypto_currency.take("crypto_currency", &mut e) {
            if !crypto.eq_ignore_ascii_case("BTC") {
                e.add("crypto_currency", "only BTC is supported");
            }
        }
        let accept_zero_conf = self
            .accept_zero_conf
            .take("accept_zero_conf", &mut e)
            .is_some_and(|f| f.0);
        self.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
        let value = amount.zip(currency).map(|(amount, currency)| QuoteRequest {
            amount,
            currency,
            accept_zero_conf,
        });
        request::finish(e, value)
    }
}

/// The estimated fee of paying an invoice.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkFee {
    pub rate: Decimal,
    pub sats: u64,
    /// `estimate` or `default`.
    pub source: &'static str,
}

/// The fee rate of the target nearest to `target` (ties: the faster one),
/// at least 1 sat/vB.
pub fn pick_fee_rate(estimates: &BTreeMap<u16, Decimal>, target: u16) -> Option<Decimal> {
    estimates
        .iter()
        .filter(|(_, rate)| **rate > Decimal::ZERO)
        .min_by_key(|(t, _)| (t.abs_diff(target), **t))
        .map(|(_, rate)| (*rate).max(MIN_FEE_RATE))
}

/// `rate` sat/vB for a typical payment, rounded up to the satoshi.
pub fn fee_for_rate(rate: Decimal) -> u64 {
    (rate * Decimal::from(TYPICAL_TX_VBYTES))
        .round_dp_with_strategy(0, RoundingStrategy::AwayFromZero)
        .to_u64()
        .unwrap_or(u64::MAX)
}

/// The fee estimate of the chain serving `network`, or the default (logged)
/// when no chain serves it or it cannot answer in time.
pub async fn network_fee(app: &App, network: Network) -> NetworkFee {
    let estimate = match app.chain(network) {
        None => Err(format!("no chain backend serves {network}")),
        Some(chain) => {
            match tokio::time::timeout(FEE_ESTIMATE_TIMEOUT, chain.fee_estimates()).await {
                Err(_) => Err("fee estimate timed out".to_string()),
                Ok(Err(e)) => Err(format!("fee estimate failed: {e}")),
                Ok(Ok(estimates)) => pick_fee_rate(&estimates, FEE_TARGET_BLOCKS)
                    .ok_or_else(|| "no usable fee estimate".to_string()),
            }
        }
    };
    match estimate {
        Ok(rate) => NetworkFee {
            rate,
            sats: fee_for_rate(rate),
            source: "estimate",
        },
        Err(why) => {
            tracing::warn!(%network, reason = %why, "using the default network fee rate");
            NetworkFee {
                rate: DEFAULT_FEE_RATE,
                sats: fee_for_rate(DEFAULT_FEE_RATE),
                source: "default",
            }
        }
    }
}

/// Prices `req` for `store` at the current rate (503 when stale), stores
/// the quote and returns it.
pub async fn create_quote(
    app: &App,
    store: &Store,
    req: QuoteRequest,
) -> Result<QuoteRecord, ApiError> {
    let rate = current_rate(app, &req.currency).await?;
    let fee = network_fee(app, store.network).await;
    let quote = new_quote(store, &req, &rate, &fee, app.now())?;
    app.table.put(quote.item(), Some(Cond::NotExists)).await?;
    Ok(quote)
}

fn new_quote(
    store: &Store,
    req: &QuoteRequest,
    rate: &Rate,
    fee: &NetworkFee,
    now: OffsetDateTime,
) -> Result<QuoteRecord, ApiError> {
    let sats = fiat_to_sats(req.amount, rate.price).map_err(|e| ApiError::field("amount", e))?;
    let fee_sats = Amount::from_sat(fee.sats);
    let total_sats = sats
        .checked_add(fee_sats)
        .filter(|t| *t <= Amount::MAX_MONEY)
        .ok_or_else(|| ApiError::field("amount", "is worth more bitcoin than exists"))?;
    Ok(QuoteRecord {
        id: new_id(IdKind::Quote),
        store_id: store.id.clone(),
        network: store.network,
        amount: req.amount,
        currency: req.currency.clone(),
        rate: rate.price,
        rate_updated_at: Stamp::new(rate.updated_at),
        rate_sources: rate.sources.clone(),
        sats,
        network_fee_sats: fee_sats,
        network_fee_rate: fee.rate,
        network_fee_source: fee.source.to_string(),
        total_sats,
        accept_zero_conf: req.accept_zero_conf,
        created_at: Stamp::new(now),
        expires_at: Stamp::new(now + time::Duration::seconds(QUOTE_VALID_SECS)),
        used: false,
        used_at: None,
        invoice_id: None,
    })
}

impl QuoteRecord {
    /// The stored item (kept a day past expiry, then swept by TTL).
    pub fn item(&self) -> Item {
        let expires = self.expires_at.unix_timestamp();
        to_item(
            self,
            &schema::quote(&self.id),
            &[(schema::TTL, json!(expires + QUOTE_KEEP_SECS))],
        )
    }

    /// The API resource.
    pub fn view(&self) -> QuoteView<'_> {
        QuoteView {
            id: &self.id,
            object: QuoteObject,
            store_id: &self.store_id,
            network: self.network,
            amount: fiat_string(self.amount, &self.currency).into(),
            currency: &self.currency,
            crypto_currency: Btc,
            rate: fiat_string(self.rate, &self.currency).into(),
            rate_updated_at: self.rate_updated_at,
            crypto_amount: money::amount_to_btc_string(self.sats).into(),
            crypto_amount_sats: self.sats.to_sat(),
            network_fee: money::amount_to_btc_string(self.network_fee_sats).into(),
            network_fee_sats: self.network_fee_sats.to_sat(),
            network_fee_rate: self.network_fee_rate.normalize().to_string().into(),
            network_fee_source: &self.network_fee_source,
            total_crypto_amount: money::amount_to_btc_string(self.total_sats).into(),
            total_crypto_amount_sats: self.total_sats.to_sat(),
            accept_zero_conf: self.accept_zero_conf,
            used: self.used,
            invoice_id: self.invoice_id.as_deref(),
            expires_at: self.expires_at,
            created_at: self.created_at,
        }
    }

    /// The API resource as JSON ([`QuoteView`]).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.view()).expect("a quote serializes")
    }

    /// 409 when the quote was used or has expired at `now`.
    pub fn check_usable(&self, now: OffsetDateTime) -> Result<(), PricingError> {
        if self.used {
            return Err(PricingError::QuoteUnusable(match &self.invoice_id {
                Some(inv) => format!("quote {} was already used by invoice {inv}", self.id),
                None => format!(
                    "quote {} was already used by an invoice (at {})",
                    self.id,
                    self.used_at
                        .map_or("an earlier time".to_string(), |t| t.to_string())
                ),
            }));
        }
        if Stamp::new(now) >= self.expires_at {
            return Err(PricingError::QuoteUnusable(format!(
                "quote {} expired at {}; request a new quote",
                self.id, self.expires_at
            )));
        }
        Ok(())
    }

    /// The write that marks the quote used, for the invoice-creation
    /// transaction: it holds only while the quote is unused, unexpired and
    /// this store's, so one quote can never make two invoices.
    pub fn claim_op(&self, invoice_id: Option<&str>, now: OffsetDateTime) -> TxOp {
        let now_s = Stamp::new(now);
        let mut update = Update::new().set("used", true).set("used_at", now_s);
        if let Some(inv) = invoice_id {
            update = update.set("invoice_id", inv);
        }
        TxOp::Update {
            key: schema::quote(&self.id),
            update,
            cond: Some(Cond::And(vec![
                Cond::eq("store_id", self.store_id.as_str()),
                Cond::eq("used", false),
                Cond::Gt("expires_at".into(), now_s.into()),
            ])),
        }
    }
}

/// A quote as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Quote)]
pub struct QuoteView<'a> {
    pub id: &'a str,
    #[schema(inline)]
    pub object: QuoteObject,
    pub store_id: &'a str,
    pub network: Network,
    /// The fiat amount quoted, in `currency`.
    pub amount: DecimalText,
    #[schema(schema_with = crate::view::currency_code)]
    pub currency: &'a Fiat,
    #[schema(inline)]
    pub crypto_currency: Btc,
    /// The price of 1 BTC in `currency`, held until `expires_at`.
    pub rate: DecimalText,
    pub rate_updated_at: Stamp,
    /// `amount` at `rate`, in BTC.
    pub crypto_amount: DecimalText,
    pub crypto_amount_sats: u64,
    /// The estimated network fee of paying it, in BTC.
    pub network_fee: DecimalText,
    pub network_fee_sats: u64,
    /// sat/vB behind `network_fee_sats`.
    pub network_fee_rate: DecimalText,
    /// `estimate` (from the chain backend) or `default` (none available).
    pub network_fee_source: &'a str,
    /// What the buyer is asked to send, in BTC.
    pub total_crypto_amount: DecimalText,
    pub total_crypto_amount_sats: u64,
    pub accept_zero_conf: bool,
    /// Whether an invoice was created from it.
    pub used: bool,
    /// The invoice created from it.
    #[schema(required = true)]
    pub invoice_id: Option<&'a str>,
    pub expires_at: Stamp,
    pub created_at: Stamp,
}

/// The quote `quote_id` of store `store_id`, checked for use by a new
/// invoice, and the write that claims it (include it in the invoice's
/// transaction). Another store's or an unknown quote is 404; a used or
/// expired one 409. If the transaction then fails on this op's condition
/// (a concurrent invoice took the quote, or it expired meanwhile), call
/// this again: it returns the 409 that says why.
pub async fn quote_for_invoice(
    app: &App,
    store_id: &str,
    quote_id: &str,
) -> Result<(QuoteRecord, TxOp), PricingError> {
    let quote = load_quote(app, store_id, quote_id).await?;
    let now = app.now();
    quote.check_usable(now)?;
    let op = quote.claim_op(None, now);
    Ok((quote, op))
}

/// The quote of that store, whatever its state (404 otherwise).
pub async fn load_quote(
    app: &App,
    store_id: &str,
    quote_id: &str,
) -> Result<QuoteRecord, PricingError> {
    if !is_id(IdKind::Quote, quote_id) {
        return Err(PricingError::QuoteNotFound);
    }
    let item = app
        .table
        .get(&schema::quote(quote_id))
        .await?
        .ok_or(PricingError::QuoteNotFound)?;
    let quote: QuoteRecord = crate::records::record(item)?;
    if quote.store_id != store_id {
        return Err(PricingError::QuoteNotFound);
    }
    Ok(quote)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Config;
    use crate::clock::{Clock, ManualClock};
    use crate::prices::poller::poll_prices;
    use crate::table::sqlite::SqliteTable;
    use crate::wallet::ScriptType;
    use std::str::FromStr;
    use std::sync::Arc;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("test decimal")
    }

    fn store(id: &str, network: Network) -> Store {
        serde_json::from_value(json!({
            "id": id, "account_id": "acct_x", "name": "Shop", "network": network,
            "wallet": "wpkh(tpub/0/*)", "wallet_type": ScriptType::P2wpkh,
            "default_currency": "USD", "speed_policy": "one_conf", "expiration_minutes": 15,
            "monitoring_minutes": 60, "payment_tolerance_percent": "0", "api_allowed_ips": [],
            "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z"
        }))
        .expect("test store")
    }

    async fn priced_app(clock: &ManualClock) -> App {
        let app = App::new(
            Arc::new(SqliteTable::in_memory()),
            Arc::new(clock.clone()),
            Config::default(),
        );
        poll_prices(&app).await.expect("poll");
        app
    }

    fn request(app: &App, body: Value) -> Result<QuoteRequest, ApiError> {
        request::body::<QuoteBody>(body.to_string().as_bytes())?.into_quote(app)
    }

    #[test]
    fn fee_rate_nearest_to_target() {
        let est = |pairs: &[(u16, &str)]| {
            pairs
                .iter()
                .map(|(t, r)| (*t, d(r)))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(
            pick_fee_rate(&est(&[(1, "20"), (2, "12.5"), (3, "10")]), 2),
            Some(d("12.5"))
        );
        // No target 2: 1 and 3 are as near; the faster one wins.
        assert_eq!(
            pick_fee_rate(&est(&[(1, "20"), (3, "10"), (6, "5")]), 2),
            Some(d("20"))
        );
        assert_eq!(
            pick_fee_rate(&est(&[(6, "5"), (144, "1")]), 2),
            Some(d("5"))
        );
        assert_eq!(
            pick_fee_rate(&est(&[(2, "0.5")]), 2),
            Some(d("1")),
            "at least 1 sat/vB"
        );
        assert_eq!(pick_fee_rate(&est(&[]), 2), None);
        assert_eq!(fee_for_rate(d("12.5")), 1763, "1762.5 rounded up");
        assert_eq!(fee_for_rate(d("10")), 1410);
    }

    #[tokio::test]
    async fn fee_from_the_chain_or_the_default() {
        let app = App::in_memory();
        // The sandbox chain serves regtest: 20 sat/vB for 1 block, 10 for 3.
        let fee = network_fee(&app, Network::Regtest).await;
        assert_eq!(
            (fee.rate, fee.sats, fee.source),
            (d("20"), 2820, "estimate")
        );
        let fee = network_fee(&app, Network::Mainnet).await;
        assert_eq!(
            (fee.rate, fee.sats, fee.source),
            (DEFAULT_FEE_RATE, 1410, "default")
        );
    }

    #[test]
    fn requests_are_validated_field_by_field() {
        let app = App::in_memory();
        let r = request(&app, json!({"amount": "19.99", "currency": "usd", "crypto_currency": "btc", "accept_zero_conf": true}))
            .expect("ok");
        assert_eq!(
            r,
            QuoteRequest {
                amount: d("19.99"),
                currency: Fiat::USD,
                accept_zero_conf: true
            }
        );
        let r = request(&app, json!({"amount": 1000, "currency": "JPY"})).expect("number amount");
        assert_eq!((r.amount, r.accept_zero_conf), (d("1000"), false));

        let e = request(&app, json!({})).expect_err("empty");
        assert_eq!(e.details["amount"], vec!["is required"]);
        assert_eq!(e.details["currency"], vec!["is required"]);
        let e = request(&app, json!({"amount": "1.001", "currency": "USD"})).expect_err("decimals");
        assert_eq!(
            e.details["amount"],
            vec!["USD amounts have at most 2 decimal places"]
        );
        let e = request(&app, json!({"amount": "1.5", "currency": "JPY"})).expect_err("yen");
        assert!(e.details.contains_key("amount"));
        let e = request(&app, json!({"amount": "0", "currency": "USD"})).expect_err("zero");
        assert_eq!(e.details["amount"], vec!["must be greater than 0"]);
        let e = request(
            &app,
            json!({"amount": "5", "currency": "XYZ", "crypto_currency": "ETH", "x": 1}),
        )
        .expect_err("many");
        assert!(e.details["currency"][0].starts_with("unsupported currency `XYZ`"));
        assert_eq!(e.details["crypto_currency"], vec!["only BTC is supported"]);
        assert_eq!(e.details["x"], vec!["unknown field"]);
        let e = request(&app, json!({"amount": "5", "currency": "BTC"})).expect_err("btc");
        assert!(e.details.contains_key("currency"));
    }

    #[tokio::test]
    async fn a_quote_holds_the_rate_and_adds_the_fee() {
        let clock = ManualClock::new(OffsetDateTime::now_utc());
        let app = priced_app(&clock).await;
        let s = store("store_a", Network::Regtest);
        let req = request(&app, json!({"amount": "10", "currency": "USD"})).expect("req");
        let q = create_quote(&app, &s, req).await.expect("quote");
        assert!(is_id(IdKind::Quote, &q.id));
        assert_eq!(
            (q.rate, q.sats, q.network_fee_sats, q.total_sats),
            (
                d("65000.00"),
                Amount::from_sat(15385),
                Amount::from_sat(2820),
                Amount::from_sat(18205)
            )
        );
        let j = q.to_json();
        assert_eq!(j["crypto_amount"], "0.00015385");
        assert_eq!(j["network_fee"], "0.00002820");
        assert_eq!(j["total_crypto_amount"], "0.00018205");
        assert_eq!(j["rate"], "65000.00");
        assert_eq!(j["amount"], "10.00");
        assert_eq!(
            j["expires_at"],
            crate::clock::rfc3339(clock.now() + time::Duration::minutes(5))
        );
        let stored = load_quote(&app, "store_a", &q.id).await.expect("stored");
        assert_eq!(stored, q);
    }

    #[tokio::test]
    async fn a_stale_rate_makes_no_quote() {
        let clock = ManualClock::new(OffsetDateTime::now_utc());
        let app = priced_app(&clock).await;
        clock.advance(time::Duration::minutes(11));
        let req = request(&app, json!({"amount": "10", "currency": "EUR"})).expect("req");
        let e = create_quote(&app, &store("store_a", Network::Regtest), req)
            .await
            .expect_err("stale");
        assert_eq!((e.status, e.code.as_str()), (503, "rate_unavailable"));
        assert!(
            e.message.contains("BTC/EUR price is 11 minutes old"),
            "{}",
            e.message
        );
    }

    #[tokio::test]
    async fn quote_for_invoice_claims_once_per_store() {
        let clock = ManualClock::new(OffsetDateTime::now_utc());
        let app = priced_app(&clock).await;
        let req = request(&app, json!({"amount": "25", "currency": "USD"})).expect("req");
        let q = create_quote(&app, &store("store_a", Network::Regtest), req)
            .await
            .expect("quote");

        // Another store's, malformed or unknown ids: 404.
        for (store_id, id) in [
            ("store_b", q.id.as_str()),
            ("store_a", "quo_nope"),
            ("store_a", &new_id(IdKind::Quote)),
        ] {
            let e = quote_for_invoice(&app, store_id, id)
                .await
                .map_err(crate::error::ApiError::from)
                .expect_err("404");
            assert_eq!((e.status, e.code.as_str()), (404, "not_found"));
        }

        let (got, op) = quote_for_invoice(&app, "store_a", &q.id)
            .await
            .expect("usable");
        assert_eq!(got.sats, q.sats);
        let (_, op2) = quote_for_invoice(&app, "store_a", &q.id)
            .await
            .expect("still usable before commit");
        app.table.transact(vec![op]).await.expect("first claim");
        let e = app
            .table
            .transact(vec![op2])
            .await
            .expect_err("second claim");
        assert!(e.is_condition_failed());

        let e = quote_for_invoice(&app, "store_a", &q.id)
            .await
            .map_err(crate::error::ApiError::from)
            .expect_err("used");
        assert_eq!(e.status, 409);
        assert!(
            e.message
                .starts_with(&format!("quote {} was already used by an invoice", q.id)),
            "{}",
            e.message
        );
    }

    #[tokio::test]
    async fn claim_op_records_the_invoice() {
        let clock = ManualClock::new(OffsetDateTime::now_utc());
        let app = priced_app(&clock).await;
        let req = request(&app, json!({"amount": "25", "currency": "USD"})).expect("req");
        let q = create_quote(&app, &store("store_a", Network::Regtest), req)
            .await
            .expect("quote");
        app.table
            .transact(vec![q.claim_op(Some("inv_123"), clock.now())])
            .await
            .expect("claim");
        let e = quote_for_invoice(&app, "store_a", &q.id)
            .await
            .map_err(crate::error::ApiError::from)
            .expect_err("used");
        assert_eq!(
            e.message,
            format!("quote {} was already used by invoice inv_123", q.id)
        );
    }

    #[tokio::test]
    async fn quotes_expire_after_five_minutes() {
        let clock = ManualClock::new(OffsetDateTime::now_utc());
        let app = priced_app(&clock).await;
        let req = request(&app, json!({"amount": "25", "currency": "USD"})).expect("req");
        let q = create_quote(&app, &store("store_a", Network::Regtest), req)
            .await
            .expect("quote");
        quote_for_invoice(&app, "store_a", &q.id)
            .await
            .expect("usable");

        clock.advance(time::Duration::seconds(QUOTE_VALID_SECS));
        let e = quote_for_invoice(&app, "store_a", &q.id)
            .await
            .map_err(crate::error::ApiError::from)
            .expect_err("expired");
        assert_eq!(e.status, 409);
        assert_eq!(
            e.message,
            format!(
                "quote {} expired at {}; request a new quote",
                q.id, q.expires_at
            )
        );
        // The claim's own condition refuses an expired quote too.
        let late = q.claim_op(None, clock.now());
        assert!(app
            .table
            .transact(vec![late])
            .await
            .expect_err("late")
            .is_condition_failed());
    }
}
