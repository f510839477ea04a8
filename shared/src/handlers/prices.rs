//! Prices, rates, conversion and quotes (API.md "Public endpoints", "Quotes").
//! Only rates younger than `PRICE_MAX_AGE_SECONDS` are shown or used; with
//! none, the answer is `503 rate_unavailable` saying how old the price is.

use crate::app::App;
use crate::clock::rfc3339;
use crate::error::ApiError;
use crate::handlers::ctx::Ctx;
use crate::http::{QueryInput, Response};
use crate::money::{fiat_decimals, parse_decimal};
use crate::prices::quotes::{self, QuoteRequest};
use crate::prices::rates::{self, fiat_name, fiat_string, fresh_rates, parse_currency, Currency};
use serde_json::{json, Map, Value};

/// `GET /v1/currencies`: BTC (with the networks served) and the fiats priced.
pub async fn currencies(cx: Ctx<'_>) -> Result<Response, ApiError> {
    QueryInput::new(&cx.req.query).finish()?;
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
    QueryInput::new(&cx.req.query).finish()?;
    let rates = fresh_rates(cx.app).await?;
    let prices: Vec<Value> = rates.iter().map(|r| r.to_price_json()).collect();
    Ok(Response::ok(json!({ "prices": prices })))
}

/// `GET /prices` (seed 000, as the anypay server serves it) -> `{"prices":
/// [{currency, base, value (a JSON number), updatedAt, source, ...}]}`: the
/// same fresh rates as `GET /v1/prices`, in the seed's shape.
pub async fn anypay_prices(cx: Ctx<'_>) -> Result<Response, ApiError> {
    QueryInput::new(&cx.req.query).finish()?;
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
    QueryInput::new(&cx.req.query).finish()?;
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

/// `GET /v1/convert?from=BTC&to=USD&amount=1` (either direction) ->
/// `{quote_currency: from, base_currency: to, quote_value: amount,
/// base_value: result, rate, timestamp: the rate's time}`.
pub async fn convert(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let app = cx.app;
    let mut q = QueryInput::new(&cx.req.query);
    let from = currency_param(app, &mut q, "from");
    let to = currency_param(app, &mut q, "to");
    let amount =
        required(&mut q, "amount").and_then(|a| q.errors.check("amount", parse_decimal(a.trim())));
    q.finish()?;
    let (Some(from), Some(to), Some(amount)) = (from, to, amount) else {
        return Err(ApiError::bad_request("invalid conversion request"));
    };
    let conversion = rates::convert(app, from, to, amount).await?;
    Ok(Response::ok(conversion.to_json()))
}

/// A required currency parameter (BTC or a configured fiat).
fn currency_param(app: &App, q: &mut QueryInput<'_>, field: &'static str) -> Option<Currency> {
    let code = required(q, field)?;
    q.errors.check(field, parse_currency(app, code))
}

/// A query parameter that must be there.
fn required<'a>(q: &mut QueryInput<'a>, field: &'static str) -> Option<&'a str> {
    let v = q.get(field);
    if v.is_none() {
        q.errors.add(field, "is required");
    }
    v
}

/// `POST /v1/quotes {amount, currency, crypto_currency?, accept_zero_conf?}`
/// -> 201 quote (rate held 5 minutes).
pub async fn create_quote(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let req = QuoteRequest::parse(cx.app, &cx.req.body)?;
    let quote = quotes::create_quote(cx.app, &store, req).await?;
    Ok(Response::created(quote.to_json()))
}
