//! Stored BTC prices as rates: reading them, refusing stale ones, the public
//! price shapes, the supported currencies and BTC <-> fiat conversion.
//!
//! A rate is the price of 1 BTC in a fiat, written by the price poller
//! (`poller`). Anything that prices money with it goes through
//! [`current_rate`], which refuses a rate older than
//! `Config::price_max_age_secs` with `503 rate_unavailable`: a stale price is
//! never used silently.

use super::Fiat;
use super::PricingError;
use crate::app::App;
use crate::clock::{rfc3339, Stamp};
use crate::error::{ApiError, FieldErrors};
use crate::money::{btc_to_amount, check_amount, fiat_decimals, fiat_to_sats, SATS_PER_BTC};
use crate::records::{record, to_item};
use crate::schema;
use crate::table::{Item, Key};
use crate::view::{Btc, DecimalText};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::OffsetDateTime;

/// The largest fiat amount accepted for conversion or quotes.
pub const MAX_FIAT_AMOUNT: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0); // 1e12
/// The largest BTC amount accepted for conversion (the supply cap).
pub const MAX_BTC_AMOUNT: Decimal = crate::money::MAX_BTC;

/// The price of 1 BTC in `fiat`, as the poller stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    pub fiat: Fiat,
    pub price: Decimal,
    pub updated_at: OffsetDateTime,
    /// The sources whose answers made this price (median of them).
    pub sources: Vec<String>,
}

/// One entry of `GET /v1/prices`: the price of 1 BTC in `base`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Price)]
pub struct PriceView<'a> {
    #[schema(inline)]
    pub currency: Btc,
    /// The fiat the price is in.
    #[schema(schema_with = crate::view::currency_code)]
    pub base: &'a Fiat,
    /// The price of 1 BTC in `base`.
    pub value: DecimalText,
    pub updated_at: Stamp,
    /// The source, or `median of ...` the sources.
    pub source: String,
}

/// The stored form of a rate (`PRICE#<FIAT>/LATEST` and history items).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PriceRecord {
    currency: Fiat,
    #[serde(with = "rust_decimal::serde::str")]
    price: Decimal,
    sources: Vec<String>,
    updated_at: Stamp,
}

impl Rate {
    /// How old the rate is at `now` (never negative).
    pub fn age_secs(&self, now: OffsetDateTime) -> i64 {
        (now - self.updated_at).whole_seconds().max(0)
    }

    /// Whether the rate may price an invoice or quote now.
    pub fn is_fresh(&self, app: &App) -> bool {
        self.age_secs(app.now()) <= app.config.price_max_age_secs
    }

    /// The rate, or 503 `rate_unavailable` saying how old it is.
    pub fn fresh(self, app: &App) -> Result<Rate, PricingError> {
        if self.is_fresh(app) {
            return Ok(self);
        }
        Err(PricingError::Unavailable(format!(
            "the BTC/{} price is {} old (limit {}); the price sources may be unreachable, retry later",
            self.fiat,
            human_duration(self.age_secs(app.now())),
            human_duration(app.config.price_max_age_secs),
        )))
    }

    /// `"median of coinbase, kraken"`, or the one source's name.
    pub fn source_label(&self) -> String {
        match self.sources.as_slice() {
            [one] => one.clone(),
            many => format!("median of {}", many.join(", ")),
        }
    }

    /// One entry of `GET /v1/prices` (and of `price.updated` events):
    /// `{currency: "BTC", base: <fiat>, value, updated_at, source}`.
    pub fn price_view(&self) -> PriceView<'_> {
        PriceView {
            currency: Btc,
            base: &self.fiat,
            value: fiat_string(self.price, &self.fiat).into(),
            updated_at: Stamp::new(self.updated_at),
            source: self.source_label(),
        }
    }

    /// One price entry as JSON ([`PriceView`]).
    pub fn to_price_json(&self) -> Value {
        serde_json::to_value(self.price_view()).expect("a price serializes")
    }

    /// The latest-price item (written by the poller).
    pub(crate) fn latest_item(&self) -> Item {
        to_item(
            &self.record(),
            &schema::price_latest(self.fiat.as_str()),
            &[],
        )
    }

    /// The history item, kept `ttl_secs`.
    pub(crate) fn history_item(&self, ttl_secs: i64) -> Item {
        let at = rfc3339(self.updated_at);
        let ttl = self.updated_at.unix_timestamp() + ttl_secs;
        to_item(
            &self.record(),
            &schema::price_history(self.fiat.as_str(), &at),
            &[(schema::TTL, json!(ttl))],
        )
    }

    fn record(&self) -> PriceRecord {
        PriceRecord {
            currency: self.fiat.clone(),
            price: self.price,
            sources: self.sources.clone(),
            updated_at: Stamp::new(self.updated_at),
        }
    }

    fn from_stored(item: Item) -> Result<Rate, PricingError> {
        let r: PriceRecord = record(item)?;
        Ok(Rate {
            fiat: r.currency,
            price: r.price,
            updated_at: r.updated_at.time(),
            sources: r.sources,
        })
    }
}

/// The stored rate of `fiat`, fresh or not (None before the first poll).
pub async fn stored_rate(app: &App, fiat: &Fiat) -> Result<Option<Rate>, PricingError> {
    match app.table.get(&schema::price_latest(fiat.as_str())).await? {
        Some(item) => Ok(Some(Rate::from_stored(item)?)),
        None => Ok(None),
    }
}

/// The rate to price with now: 503 `rate_unavailable` when there is none
/// yet or it is older than `price_max_age_secs`.
pub async fn current_rate(app: &App, fiat: &Fiat) -> Result<Rate, PricingError> {
    match stored_rate(app, fiat).await? {
        Some(rate) => rate.fresh(app),
        None => Err(PricingError::Unavailable(format!(
            "no BTC/{fiat} price yet; the price poller has not run"
        ))),
    }
}

/// The stored rates of every configured fiat, fresh or not, in the
/// configured order (fiats never priced are left out). Batch reads.
pub async fn all_rates(app: &App) -> Result<Vec<Rate>, PricingError> {
    let keys: Vec<Key> = app
        .config
        .fiats
        .iter()
        .map(|f| schema::price_latest(f.as_str()))
        .collect();
    let mut rates = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(100) {
        for item in app.table.get_many(chunk).await?.into_iter().flatten() {
            rates.push(Rate::from_stored(item)?);
        }
    }
    Ok(rates)
}

/// The rates fresh enough to price with; 503 when there is none at all
/// (saying how old the newest one is).
pub async fn fresh_rates(app: &App) -> Result<Vec<Rate>, PricingError> {
    let rates = all_rates(app).await?;
    let newest = rates.iter().max_by_key(|r| r.updated_at).cloned();
    let fresh: Vec<Rate> = rates.into_iter().filter(|r| r.is_fresh(app)).collect();
    if !fresh.is_empty() {
        return Ok(fresh);
    }
    match newest {
        None => Err(PricingError::Unavailable(
            "no BTC prices yet; the price poller has not run".into(),
        )),
        Some(rate) => Err(PricingError::Unavailable(format!(
            "the BTC prices are {} old (limit {}); the price sources may be unreachable, retry later",
            human_duration(rate.age_secs(app.now())),
            human_duration(app.config.price_max_age_secs),
        ))),
    }
}

/// `90 seconds`, `14 minutes`, `3 hours`, `2 days` (rounded down).
pub fn human_duration(secs: i64) -> String {
    let (n, unit) = match secs.max(0) {
        s if s < 120 => (s, "second"),
        s if s < 2 * 3600 => (s / 60, "minute"),
        s if s < 2 * 86_400 => (s / 3600, "hour"),
        s => (s / 86_400, "day"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// A currency code: BTC or a 3-letter fiat code. Whether the gateway
/// accepts it is the one rule [`allowed_currency`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Currency {
    Btc,
    Fiat(Fiat),
}

impl Currency {
    /// The code (`BTC`, `USD`).
    pub fn code(&self) -> &str {
        match self {
            Currency::Btc => "BTC",
            Currency::Fiat(f) => f.as_str(),
        }
    }

    /// Decimal places of amounts in it: BTC 8, a fiat its minor units.
    pub fn decimals(&self) -> u32 {
        crate::money::currency_decimals(self.code())
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl std::str::FromStr for Currency {
    type Err = String;
    /// `BTC` or a fiat code, case-insensitive and trimmed.
    fn from_str(code: &str) -> Result<Currency, String> {
        let code = code.trim();
        if code.eq_ignore_ascii_case("BTC") {
            return Ok(Currency::Btc);
        }
        let shown: String = code.chars().take(16).collect();
        Fiat::new(code)
            .map(Currency::Fiat)
            .map_err(|_| format!("`{shown}` is not a currency code (BTC or a 3-letter fiat code)"))
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Currency, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(s) => s.parse().map_err(serde::de::Error::custom),
            other => Err(serde::de::Error::custom(format!(
                "must be a currency code string, got {}",
                crate::request::json_type(&other)
            ))),
        }
    }
}

/// The one currency rule of the gateway: BTC, or a fiat of `Config::fiats`
/// (stores, invoices, quotes and faces all ask here). The error names what
/// is supported.
pub fn allowed_currency(app: &App, currency: &Currency) -> Result<(), String> {
    match currency {
        Currency::Btc => Ok(()),
        Currency::Fiat(f) if app.config.fiats.contains(f) => Ok(()),
        Currency::Fiat(f) => {
            let fiats: Vec<&str> = app.config.fiats.iter().map(Fiat::as_str).collect();
            Err(format!(
                "unsupported currency `{f}`; supported: BTC, {}",
                fiats.join(", ")
            ))
        }
    }
}

/// Parses a currency code (case-insensitive) the gateway supports: `BTC`
/// or a fiat of `Config::fiats` ([`allowed_currency`]). The error names
/// what is supported.
pub fn parse_currency(app: &App, code: &str) -> Result<Currency, String> {
    let currency: Currency = code.parse().map_err(|e: String| {
        let fiats: Vec<&str> = app.config.fiats.iter().map(Fiat::as_str).collect();
        format!("{e}; supported: BTC, {}", fiats.join(", "))
    })?;
    allowed_currency(app, &currency)?;
    Ok(currency)
}

/// English name of common fiat currencies (the code itself otherwise).
pub fn fiat_name(fiat: &Fiat) -> &str {
    match fiat.as_str() {
        "USD" => "US Dollar",
        "EUR" => "Euro",
        "GBP" => "British Pound",
        "JPY" => "Japanese Yen",
        "CAD" => "Canadian Dollar",
        "CHF" => "Swiss Franc",
        "AUD" => "Australian Dollar",
        "NZD" => "New Zealand Dollar",
        "SEK" => "Swedish Krona",
        "NOK" => "Norwegian Krone",
        "DKK" => "Danish Krone",
        "PLN" => "Polish Zloty",
        "CZK" => "Czech Koruna",
        "HUF" => "Hungarian Forint",
        "HKD" => "Hong Kong Dollar",
        "SGD" => "Singapore Dollar",
        "CNY" => "Chinese Yuan",
        "INR" => "Indian Rupee",
        "KRW" => "South Korean Won",
        "BRL" => "Brazilian Real",
        "MXN" => "Mexican Peso",
        "ZAR" => "South African Rand",
        "TRY" => "Turkish Lira",
        other => other,
    }
}

/// A fiat value as a string, exact, with at least the currency's minor
/// units (`65000.00`, `8.02425`, `9750000`).
pub fn fiat_string(value: Decimal, fiat: &Fiat) -> String {
    let mut v = value.normalize();
    let dp = fiat_decimals(fiat.as_str());
    if v.scale() < dp {
        v.rescale(dp);
    }
    v.to_string()
}

/// A BTC <-> fiat conversion at one rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversion {
    pub from: Currency,
    pub to: Currency,
    /// The amount converted, in `from`.
    pub amount: Decimal,
    /// The result, in `to`.
    pub value: Decimal,
    /// The BTC side in satoshis (the input for BTC -> fiat, the result for
    /// fiat -> BTC).
    pub sats: u64,
    pub rate: Rate,
}

impl Conversion {
    /// Seed 000's `convert_price` shape: `quote_*` is what was given
    /// (`from`, `amount`), `base_*` what it is worth (`to`, the result).
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "quote_currency": self.from.code(),
            "base_currency": self.to.code(),
            "quote_value": currency_string(self.amount, &self.from),
            "base_value": currency_string(self.value, &self.to),
            "rate": fiat_string(self.rate.price, &self.rate.fiat),
            "timestamp": rfc3339(self.rate.updated_at),
        });
        let sats_field = if self.from == Currency::Btc {
            "quote_value_sats"
        } else {
            "base_value_sats"
        };
        body[sats_field] = json!(self.sats);
        body
    }
}

fn currency_string(value: Decimal, currency: &Currency) -> String {
    match currency {
        Currency::Btc => format!("{:.8}", value),
        Currency::Fiat(f) => fiat_string(value, f),
    }
}

/// Checks a conversion request before any rate is read: one side BTC, the
/// other a fiat; `amount` positive and in range (BTC: 8 decimals at most).
/// Errors name the fields `from`, `to`, `amount`. Returns the fiat.
pub fn check_conversion(from: &Currency, to: &Currency, amount: Decimal) -> Result<Fiat, ApiError> {
    let mut errors = FieldErrors::default();
    let fiat = match (from, to) {
        (Currency::Btc, Currency::Fiat(f)) | (Currency::Fiat(f), Currency::Btc) => Some(f.clone()),
        _ => {
            errors.add(
                "to",
                "one of `from` and `to` must be BTC and the other a fiat currency",
            );
            None
        }
    };
    if let Err(e) = check_amount(amount, from.code()) {
        errors.add("amount", e);
    } else if *from != Currency::Btc && amount > MAX_FIAT_AMOUNT {
        errors.add("amount", format!("must be at most {MAX_FIAT_AMOUNT}"));
    }
    errors.finish()?;
    fiat.ok_or_else(|| ApiError::field("to", "one of `from` and `to` must be BTC"))
}

/// Converts at `rate` (whose fiat is the non-BTC side). BTC -> fiat is
/// exact (not rounded to cents, so converting back gives the same
/// satoshis); fiat -> BTC rounds UP to the satoshi, as invoices do.
pub fn convert_at(
    rate: Rate,
    from: Currency,
    to: Currency,
    amount: Decimal,
) -> Result<Conversion, ApiError> {
    let (value, sats) = if from == Currency::Btc {
        let sats = btc_to_amount(amount)
            .map_err(|e| ApiError::field("amount", e))?
            .to_sat();
        let value = Decimal::from(sats)
            .checked_mul(rate.price)
            .and_then(|v| v.checked_div(Decimal::from(SATS_PER_BTC)))
            .ok_or_else(|| ApiError::field("amount", "is too large to convert"))?;
        (value, sats)
    } else {
        let sats = fiat_to_sats(amount, rate.price).map_err(|e| ApiError::field("amount", e))?;
        (
            Decimal::from(sats.to_sat()) / Decimal::from(SATS_PER_BTC),
            sats.to_sat(),
        )
    };
    Ok(Conversion {
        from,
        to,
        amount,
        value,
        sats,
        rate,
    })
}

/// Checks, reads the current rate (503 when stale) and converts.
pub async fn convert(
    app: &App,
    from: Currency,
    to: Currency,
    amount: Decimal,
) -> Result<Conversion, ApiError> {
    let fiat = check_conversion(&from, &to, amount)?;
    let rate = current_rate(app, &fiat).await?;
    convert_at(rate, from, to, amount)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Config;
    use crate::clock::{Clock, ManualClock};
    use crate::table::sqlite::SqliteTable;
    use std::str::FromStr;
    use std::sync::Arc;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("test decimal")
    }

    fn app_at(clock: &ManualClock) -> App {
        App::new(
            Arc::new(SqliteTable::in_memory()),
            Arc::new(clock.clone()),
            Config::default(),
        )
    }

    fn rate(price: &str, at: OffsetDateTime) -> Rate {
        Rate {
            fiat: Fiat::USD,
            price: d(price),
            updated_at: at,
            sources: vec!["sandbox".into()],
        }
    }

    async fn store(app: &App, r: &Rate) {
        app.table
            .put(r.latest_item(), None)
            .await
            .expect("put price");
    }

    #[test]
    fn constants_are_what_they_say() {
        assert_eq!(MAX_FIAT_AMOUNT, d("1000000000000"));
        assert_eq!(MAX_BTC_AMOUNT, d("21000000"));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(90), "90 seconds");
        assert_eq!(human_duration(600), "10 minutes");
        assert_eq!(human_duration(14 * 60 + 59), "14 minutes");
        assert_eq!(human_duration(3 * 3600), "3 hours");
        assert_eq!(human_duration(86_400 * 3), "3 days");
        assert_eq!(human_duration(-5), "0 seconds");
    }

    #[test]
    fn fiat_strings_keep_every_digit_and_minor_units() {
        assert_eq!(fiat_string(d("65000"), &Fiat::USD), "65000.00");
        assert_eq!(fiat_string(d("64124.505"), &Fiat::USD), "64124.505");
        assert_eq!(fiat_string(d("64125.000"), &Fiat::EUR), "64125.00");
        assert_eq!(fiat_string(d("9750000"), &Fiat::JPY), "9750000");
    }

    #[test]
    fn source_label_names_the_sources() {
        let mut r = rate("1", OffsetDateTime::UNIX_EPOCH);
        assert_eq!(r.source_label(), "sandbox");
        r.sources = vec!["coinbase".into(), "kraken".into()];
        assert_eq!(r.source_label(), "median of coinbase, kraken");
    }

    #[tokio::test]
    async fn current_rate_missing_fresh_and_stale() {
        let clock = ManualClock::new(OffsetDateTime::now_utc());
        let app = app_at(&clock);
        let e = current_rate(&app, &Fiat::USD)
            .await
            .map_err(crate::error::ApiError::from)
            .expect_err("no price");
        assert_eq!((e.status, e.code.as_str()), (503, "rate_unavailable"));
        assert_eq!(
            e.message,
            "no BTC/USD price yet; the price poller has not run"
        );

        store(&app, &rate("65000.00", clock.now())).await;
        clock.advance(time::Duration::minutes(10));
        let r = current_rate(&app, &Fiat::USD)
            .await
            .expect("exactly 10 minutes is fresh");
        assert_eq!(r.price, d("65000.00"));

        clock.advance(time::Duration::minutes(4));
        let e = current_rate(&app, &Fiat::USD)
            .await
            .map_err(crate::error::ApiError::from)
            .expect_err("stale");
        assert_eq!(e.status, 503);
        assert!(
            e.message
                .starts_with("the BTC/USD price is 14 minutes old (limit 10 minutes)"),
            "{}",
            e.message
        );
    }

    #[tokio::test]
    async fn all_rates_reads_configured_fiats_and_fresh_rates_filters() {
        let clock = ManualClock::new(OffsetDateTime::now_utc());
        let app = app_at(&clock);
        assert!(all_rates(&app).await.expect("none").is_empty());
        let e = fresh_rates(&app)
            .await
            .map_err(crate::error::ApiError::from)
            .expect_err("none yet");
        assert!(e.message.contains("has not run"));

        let old = Rate {
            fiat: Fiat::JPY,
            ..rate("9750000", clock.now())
        };
        store(&app, &old).await;
        clock.advance(time::Duration::minutes(30));
        let e = fresh_rates(&app)
            .await
            .map_err(crate::error::ApiError::from)
            .expect_err("all stale");
        assert!(e.message.contains("30 minutes old"), "{}", e.message);

        store(&app, &rate("65000.00", clock.now())).await;
        let all = all_rates(&app).await.expect("rates");
        let codes: Vec<&str> = all.iter().map(|r| r.fiat.as_str()).collect();
        assert_eq!(codes, vec!["USD", "JPY"], "configured order");
        let fresh = fresh_rates(&app).await.expect("fresh");
        assert_eq!(fresh.len(), 1);
        assert_eq!(fresh[0].fiat, Fiat::USD);
    }

    #[test]
    fn currencies_parse_against_the_configuration() {
        let app = App::in_memory();
        assert_eq!(parse_currency(&app, "btc"), Ok(Currency::Btc));
        assert_eq!(parse_currency(&app, " usd "), Ok(Currency::Fiat(Fiat::USD)));
        let e = parse_currency(&app, "XYZ").expect_err("unsupported");
        assert!(
            e.starts_with("unsupported currency `XYZ`; supported: BTC, USD, EUR"),
            "{e}"
        );
        assert!(parse_currency(&app, "dollars")
            .expect_err("bad")
            .contains("not a currency code"));
        assert_eq!(fiat_name(&Fiat::EUR), "Euro");
        assert_eq!(fiat_name(&Fiat::new("XAU").expect("fiat")), "XAU");
    }

    #[test]
    fn conversion_checks_name_the_field() {
        let usd = Currency::Fiat(Fiat::USD);
        let e =
            check_conversion(&usd, &Currency::Fiat(Fiat::EUR), d("1")).expect_err("fiat to fiat");
        assert!(e.details.contains_key("to"));
        let e = check_conversion(&Currency::Btc, &usd, d("0.000000001")).expect_err("9 places");
        assert_eq!(
            e.details["amount"],
            vec!["BTC amounts have at most 8 decimal places"]
        );
        let e = check_conversion(&usd, &Currency::Btc, d("0")).expect_err("zero");
        assert_eq!(e.details["amount"], vec!["must be greater than 0"]);
        let e = check_conversion(&usd, &Currency::Btc, d("1000000000001")).expect_err("huge");
        assert!(e.details.contains_key("amount"));
        assert_eq!(
            check_conversion(&Currency::Btc, &usd, d("21000000")),
            Ok(Fiat::USD)
        );
    }

    #[test]
    fn conversion_round_trips_within_a_satoshi() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let usd = || Currency::Fiat(Fiat::USD);
        for price in [
            "65000.00",
            "64124.505",
            "64123.45",
            "0.01",
            "123456789.987654321",
        ] {
            for btc in ["1", "0.00000001", "0.00012345", "0.5", "20999999.99999999"] {
                let there =
                    convert_at(rate(price, at), Currency::Btc, usd(), d(btc)).expect("btc->usd");
                let back = convert_at(rate(price, at), usd(), Currency::Btc, there.value)
                    .expect("usd->btc");
                let diff = back.sats.abs_diff(there.sats);
                assert!(
                    diff <= 1,
                    "{btc} BTC at {price}: {} sats -> {} -> {} sats",
                    there.sats,
                    there.value,
                    back.sats
                );
            }
        }
        let c = convert_at(rate("65000.00", at), Currency::Btc, usd(), d("1")).expect("1 BTC");
        assert_eq!(c.to_json()["base_value"], "65000.00");
        assert_eq!(c.to_json()["quote_value"], "1.00000000");
        assert_eq!(c.to_json()["quote_value_sats"], 100_000_000u64);
        // 10 USD at 65000 is 15384.6 sats: rounded up.
        let c = convert_at(rate("65000.00", at), usd(), Currency::Btc, d("10")).expect("usd->btc");
        assert_eq!(c.sats, 15385);
        let j = c.to_json();
        assert_eq!(
            (j["base_value"].as_str(), j["base_value_sats"].as_u64()),
            (Some("0.00015385"), Some(15385))
        );
        assert_eq!(j["quote_value"], "10.00");
    }
}
