//! Prices, rates, conversion and quotes (API.md "Public endpoints", "Quotes").
//! Only rates younger than `PRICE_MAX_AGE_SECONDS` are shown or used; with
//! none, the answer is `503 rate_unavailable` saying how old the price is.

use crate::app::App;
use crate::clock::rfc3339;
use crate::error::{ApiError, FieldErrors};
use crate::handlers::ctx::Ctx;
use crate::http::Response;
use crate::money::{fiat_decimals, parse_decimal};
use crate::prices::quotes::{self, QuoteBody};
use crate::prices::rates::{self, fiat_name, fiat_string, fresh_rates, parse_currency, Currency};
use crate::request::{self, Field, Unknown};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// `GET /v1/currencies`: BTC (with the networks served) and the fiats priced.
pub async fn currencies(cx: Ctx<'_>) -> Result<Response, ApiError> {
    request::no_query(&cx.req.query)?;
    let networks: Vec<&str> = cx.app.networks().map(|n| n.as_str()).collect();
    let fiat: Vec<Value> = cx
        .app
        .config
        .fiats
        .iter()
        .map(|f| json!({"code": f, "name": fiat_name(f), "decimals": fiat_decimals(f.as_str())}))
        .collect();
    Ok(Response::ok(json!({
        "crypto": [{"code": "BTC", "name": "Bitcoin", "decimals": 8, "networks": networks}],
        "fiat": fiat,
    })))
}

/// `GET /v1/prices` -> `{"prices": [{currency: "BTC", base, value, updated_at, source}]}`.
pub async fn list(cx: Ctx<'_>) -> Result<Response, ApiError> {
    request::no_query(&cx.req.query)?;
    let rates = fresh_rates(cx.app).await?;
    let prices: Vec<Value> = rates.iter().map(|r| r.to_price_json()).collect();
    Ok(Response::ok(json!({ "prices": prices })))
}

/// `GET /prices` (seed 000, as the anypay server serves it) -> `{"prices":
/// [{currency, base, value (a JSON number), updatedAt, source, ...}]}`: the
/// same fresh rates as `GET /v1/prices`, in the seed's shape.
pub async fn anypay_prices(cx: Ctx<'_>) -> Result<Response, ApiError> {
    request::no_query(&cx.req.query)?;
    let rates = fresh_rates(cx.app).await?;
    let prices: Vec<Value> = rates
        .iter()
        .map(|r| crate::ws::seed::price(&r.to_price_json()))
        .collect();
    Ok(Response::ok(json!({ "prices": prices })))
}

/// `GET /v1/rates` -> `{"base": "BTC", "rates": {"USD": "65000.00", ...},
/// "updated_at"}` (`updated_at`: the oldest of the rates shown).
pub async fn rates(cx: Ctx<'_>) -> Result<Response, ApiError> {
    request::no_query(&cx.req.query)?;
    let rates = fresh_rates(cx.app).await?;
    let oldest = rates.iter().map(|r| r.updated_at).min();
    let map: Map<String, Value> = rates
        .iter()
        .map(|r| {
            (
                r.fiat.to_string(),
                Value::String(fiat_string(r.price, &r.fiat)),
            )
        })
        .collect();
    Ok(Response::ok(json!({
        "base": "BTC",
        "rates": map,
        "updated_at": oldest.map(rfc3339),
    })))
}

crate::request_schema::request_type! {
    /// The query of `GET /v1/convert`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct ConvertQuery {
        pub from: Field<String>,
        pub to: Field<String>,
        pub amount: Field<String>,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

impl ConvertQuery {
    /// (from, to, amount): BTC or a configured fiat each, an exact decimal.
    pub fn into_conversion(self, app: &App) -> Result<(Currency, Currency, Decimal), ApiError> {
        let mut e = FieldErrors::default();
        let currency = |f: Field<String>, name: &str, e: &mut FieldErrors| {
            let code = f.require(name, e)?;
            e.check(name, parse_currency(app, &code))
        };
        let from = currency(self.from, "from", &mut e);
        let to = currency(self.to, "to", &mut e);
        let amount = self
            .amount
            .require("amount", &mut e)
            .and_then(|a| e.check("amount", parse_decimal(a.trim())));
        self.unknown
            .finish_query(e, from.zip(to).zip(amount).map(|((f, t), a)| (f, t, a)))
    }
}

/// `GET /v1/convert?from=BTC&to=USD&amount=1` (either direction) ->
/// `{quote_currency: from, base_currency: to, quote_value: amount,
/// base_value: result, rate, timestamp: the rate's time}`.
pub async fn convert(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let query: ConvertQuery = request::query(&cx.req.query)?;
    let (from, to, amount) = query.into_conversion(cx.app)?;
    let conversion = rates::convert(cx.app, from, to, amount).await?;
    Ok(Response::ok(conversion.to_json()))
}

/// `POST /v1/quotes {amount, currency, crypto_currency?, accept_zero_conf?}`
/// -> 201 quote (rate held 5 minutes).
pub async fn create_quote(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let req = request::body::<QuoteBody>(&cx.req.body)?.into_quote(cx.app)?;
    let quote = quotes::create_quote(cx.app, &store, req).await?;
    Ok(Response::created(quote.to_json()))
}
