//! Seed 002 (POS gateway, `GET /v2/...`, `Authorization: Basic
//! base64(<username>:<store key>)`): rates held as quotes, payments as
//! invoices, over the v1 use cases. Amounts are strings in BTC; errors are
//! `{"err": "..."}`.
//!
//! The POS fields `pos_id`, `reference_no`, `payer_ip_address`,
//! `payer_user_agent`, `locale` and `user` are kept in the invoice's
//! `metadata` (v1 shows them) and filter `GetTransactions`.
//!
//! The seed's example URLs show `¤cy=` where `&currency=` was meant (the
//! entity `&curren;` rendered by its HTML); it is read as `&currency=`, so
//! the examples work as printed.

use crate::error::ApiError;
use crate::handlers::ctx::Ctx;
use crate::handlers::invoices::{
    check_refund_address, create_invoice, parse_new_invoice, request_refund, MAX_SORT_WINDOW,
};
use crate::handlers::read_all;
use crate::http::{QueryInput, Response};
use crate::ids::{is_id, IdKind};
use crate::invoice::lifecycle::Input as Change;
use crate::invoice::repo::{apply_input, load_for_store};
use crate::invoice::{Invoice, PaymentStatus, Status};
use crate::money::{amount_to_btc_string, btc_to_amount, check_amount, parse_decimal};
use crate::prices::quotes::{self, QuoteRecord, QuoteRequest};
use crate::prices::rates::{fiat_name, parse_currency, Currency};
use crate::prices::Fiat;
use crate::records::from_item;
use crate::schema;
use crate::store::{SpeedPolicy, Store};
use crate::table::{Index, Query};
use bitcoin::Amount;
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

/// What the POS fields are called (query parameters and metadata keys).
pub const POS_FIELDS: [&str; 6] = [
    "pos_id",
    "reference_no",
    "payer_ip_address",
    "payer_user_agent",
    "locale",
    "user",
];

/// The query pairs, with the seed's `¤cy=` read as `&currency=`.
fn pairs(cx: &Ctx<'_>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in &cx.req.query {
        let (k, v) = match k.split_once("¤cy") {
            Some((before, "")) if before.is_empty() => ("currency".to_string(), v.clone()),
            _ => (k.clone(), v.clone()),
        };
        match v.split_once("¤cy=") {
            Some((value, currency)) => {
                out.push((k, value.to_string()));
                out.push(("currency".to_string(), currency.to_string()));
            }
            None => out.push((k, v)),
        }
    }
    out
}

fn btc(sats: u64) -> String {
    amount_to_btc_string(Amount::from_sat(sats))
}

/// An amount of BTC (up to 8 decimals) in satoshis.
fn btc_param(q: &mut QueryInput<'_>, name: &'static str) -> Option<u64> {
    let v = q.get(name)?;
    let sats = parse_decimal(v)
        .and_then(|d| check_amount(d, "BTC"))
        .and_then(btc_to_amount)
        .map(|a| a.to_sat());
    match sats {
        Ok(s) => Some(s),
        Err(e) => {
            q.errors.add(name, e);
            None
        }
    }
}

fn flag(q: &mut QueryInput<'_>, name: &'static str) -> Option<bool> {
    match q.get(name)?.to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => {
            q.errors.add(name, "must be true or false");
            None
        }
    }
}

fn required<'a>(q: &mut QueryInput<'a>, name: &'a str) -> Option<&'a str> {
    let v = q.get(name);
    if v.is_none() {
        q.errors.add(name, "is required");
    }
    v
}

/// `currency` must be BTC (the only cryptocurrency served).
fn crypto(q: &mut QueryInput<'_>) {
    if let Some(c) = q.get("currency") {
        if !c.eq_ignore_ascii_case("BTC") {
            q.errors
                .add("currency", format!("`{c}` is not supported: only BTC"));
        }
    }
}

/// There is no KYT provider: `require_kyt_for_confirmation=true` is refused.
fn no_kyt(q: &mut QueryInput<'_>) {
    if flag(q, "require_kyt_for_confirmation") == Some(true) {
        q.errors.add(
            "require_kyt_for_confirmation",
            "is not supported: satsgate has no KYT (transaction screening) provider; send false or leave it out",
        );
    }
}

/// The POS fields sent, for the invoice's metadata.
fn pos_metadata(q: &mut QueryInput<'_>) -> Map<String, Value> {
    let mut m = Map::new();
    for name in POS_FIELDS {
        if let Some(v) = q.get(name) {
            if v.len() > 500 {
                q.errors.add(name, "must be at most 500 characters");
            }
            m.insert(name.to_string(), json!(v));
        }
    }
    m
}

/// Expected wait for the confirmation the payment needs.
fn wait_time(policy: SpeedPolicy) -> String {
    match policy.confirmations() {
        0 => "5 seconds".into(),
        n => format!("{} minutes", 10 * n),
    }
}

/// sat/vB as BTC per byte, exact.
fn fee_per_byte(rate: Decimal) -> String {
    let mut v = rate / Decimal::from(100_000_000u64);
    if v.scale() < 8 {
        v.rescale(8);
    }
    v.to_string()
}

/// The GetRate fields of a quote.
fn rate_json(q: &QuoteRecord, policy: SpeedPolicy) -> Map<String, Value> {
    let v = json!({
        "invoice_amount": q.amount.to_string(),
        "invoice_currency": q.currency,
        "currency": "BTC",
        "rate": q.rate.to_string(),
        "amount_exchange": btc(q.sats),
        "network_processing_fee": btc(q.network_fee_sats),
        "amount": btc(q.total_sats),
        "fast_transaction_fee": fee_per_byte(q.network_fee_rate),
        "fast_transaction_fee_currency": "BTC/Byte",
        "wait_time": wait_time(policy),
        "payment_id": q.id,
        "expires_at": q.expires_at,
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!("an object"),
    }
}

fn policy_for(store: &Store, zero_conf: bool) -> SpeedPolicy {
    if zero_conf {
        SpeedPolicy::ZeroConf
    } else {
        store.speed_policy
    }
}

/// The parameters GetRate and StartPayment share: (accept_zero_confirmations,
/// POS fields).
fn rate_params(q: &mut QueryInput<'_>) -> (Option<bool>, Map<String, Value>) {
    required(q, "pos_id");
    crypto(q);
    no_kyt(q);
    (flag(q, "accept_zero_confirmations"), pos_metadata(q))
}

/// `GET /v2/GetRate/?pos_id=&invoice_currency=&invoice_amount=&currency=BTC
/// &accept_zero_confirmations=`: a quote held 5 minutes; `payment_id` is its id.
pub async fn get_rate(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let pairs = pairs(&cx);
    let mut q = QueryInput::new(&pairs);
    let (zero_conf, _) = rate_params(&mut q);
    let zero_conf = zero_conf.unwrap_or(false);
    let mut body = quote_body(&mut q);
    body["accept_zero_conf"] = json!(zero_conf);
    q.finish()?;
    let req = QuoteRequest::parse(cx.app, body.to_string().as_bytes()).map_err(renamed)?;
    let quote = quotes::create_quote(cx.app, &store, req)
        .await
        .map_err(renamed)?;
    Ok(Response::ok(Value::Object(rate_json(
        &quote,
        policy_for(&store, zero_conf),
    ))))
}

/// The v1 quote body from `invoice_amount` and `invoice_currency`.
fn quote_body(q: &mut QueryInput<'_>) -> Value {
    let amount = required(q, "invoice_amount").unwrap_or("");
    let currency = required(q, "invoice_currency").unwrap_or("");
    json!({"amount": amount, "currency": currency})
}

/// v1 field names in errors -> the seed's parameter names.
fn renamed(mut e: ApiError) -> ApiError {
    for (from, to) in [
        ("amount", "invoice_amount"),
        ("currency", "invoice_currency"),
    ] {
        if let Some(m) = e.details.remove(from) {
            e.details.insert(to.into(), m);
            e.message = e.message.replace(&format!("`{from}`"), &format!("`{to}`"));
        }
    }
    e
}

/// `GET /v2/StartPayment/?pos_id=&payment_id=&invoice_currency=&invoice_amount=
/// &currency=BTC&reference_no=&accept_zero_confirmations=&payer_ip_address=
/// &payer_user_agent=`: the payment (an invoice) at the quote's rate, with
/// its address and QR codes. Without `payment_id`, priced now.
pub async fn start_payment(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let pairs = pairs(&cx);
    let mut q = QueryInput::new(&pairs);
    let (zero_conf, metadata) = rate_params(&mut q);
    let payment_id = q.get("payment_id").map(str::to_string);
    let body = quote_body(&mut q);
    q.finish()?;
    let mut new = parse_new_invoice(body.to_string().as_bytes(), false)
        .await
        .map_err(renamed)?;
    new.metadata = Some(metadata);
    new.speed = zero_conf.map(|z| policy_for(&store, z));
    let quote = match &payment_id {
        Some(id) => Some(quotes::load_quote(cx.app, &store.id, id).await?),
        None => None,
    };
    if let Some(qr) = &quote {
        new.quote_id = Some(qr.id.clone());
        new.currency = Some(Currency::Fiat(qr.currency.clone()));
        if new.amount.is_some_and(|a| a != qr.amount) {
            return Err(ApiError::field(
                "invoice_amount",
                format!(
                    "must match the GetRate amount {} (or get a new rate)",
                    qr.amount
                ),
            ));
        }
    }
    let inv = create_invoice(cx.app, &store, new, None)
        .await
        .map_err(renamed)?;
    let mut out = match &quote {
        Some(qr) => rate_json(qr, inv.speed_policy),
        None => {
            let q = QuoteRecord {
                id: inv.id.clone(),
                store_id: store.id.clone(),
                network: inv.network,
                amount: inv.amount,
                currency: inv
                    .currency
                    .parse::<Fiat>()
                    .map_err(|_| ApiError::field("invoice_currency", "must be a fiat code"))?,
                rate: inv.rate.unwrap_or_default(),
                rate_updated_at: inv.created_at.clone(),
                rate_sources: vec![],
                sats: inv.crypto_amount_sats,
                network_fee_sats: 0,
                network_fee_rate: Decimal::ZERO,
                network_fee_source: "none".into(),
                total_sats: inv.crypto_amount_sats,
                accept_zero_conf: inv.speed_policy == SpeedPolicy::ZeroConf,
                created_at: inv.created_at.clone(),
                expires_at: inv.expires_at.clone(),
                used: true,
                used_at: None,
                invoice_id: Some(inv.id.clone()),
            };
            rate_json(&q, inv.speed_policy)
        }
    };
    let address = inv.address.clone().unwrap_or_default();
    let uri = inv.payment_uri().unwrap_or_default();
    let public = &cx.app.config.public_url;
    let qr_img = |data: &str| {
        format!(
            "{public}/v1/qr?format=png&data={}",
            percent_encoding::utf8_percent_encode(data, percent_encoding::NON_ALPHANUMERIC)
        )
    };
    out.insert("address".into(), json!(address));
    out.insert("qr".into(), json!(uri));
    out.insert("qr_alt".into(), json!(address));
    out.insert("qr_img".into(), json!(qr_img(&uri)));
    out.insert("qr_alt_img".into(), json!(qr_img(&address)));
    out.insert("expires_at".into(), json!(inv.expires_at));
    out.insert("invoice_id".into(), json!(inv.id));
    Ok(Response::ok(Value::Object(out)))
}

/// The invoice of a payment id: a GetRate quote's (once started) or an
/// invoice id; `address`, when sent, must be the payment's.
async fn payment(
    cx: &Ctx<'_>,
    store: &Store,
    q: &mut QueryInput<'_>,
) -> Result<Option<Invoice>, ApiError> {
    let id = required(q, "payment_id").map(str::to_string);
    let address = q.get("address").map(str::to_string);
    q.get("pos_id");
    crypto(q);
    let Some(id) = id else { return Ok(None) };
    let inv_id = if is_id(IdKind::Invoice, &id) {
        id.clone()
    } else {
        let quote = quotes::load_quote(cx.app, &store.id, &id)
            .await
            .map_err(|_| ApiError::not_found("payment"))?;
        quote.invoice_id.ok_or_else(|| {
            ApiError::new(
                404,
                crate::error::ErrorCode::NotFound,
                format!("payment {id} was not started: call StartPayment first"),
            )
        })?
    };
    let inv = load_for_store(cx.app, &store.id, &inv_id)
        .await
        .map_err(|_| ApiError::not_found("payment"))?;
    if address.is_some() && address != inv.address {
        q.errors
            .add("address", "is not the address of this payment");
    }
    Ok(Some(inv))
}

/// (state, GetTransactions status, CheckPayment status text).
fn words(inv: &Invoice) -> (&'static str, &'static str, &'static str) {
    match inv.status {
        Status::New => ("waiting", "Waiting", "Waiting for transaction."),
        Status::PaidPartial => (
            "underpaid",
            "Underpaid",
            "Payment received, lower than the amount.",
        ),
        Status::Pending => (
            "unconfirmed",
            "Unconfirmed",
            "Payment received, waiting for confirmations.",
        ),
        Status::Completed => ("confirmed", "Confirmed", "Payment confirmed."),
        Status::Expired => ("expired", "Expired", "Payment expired."),
        Status::Cancelled => ("cancelled", "Cancelled", "Payment cancelled."),
        Status::Invalid => ("invalid", "Invalid", "Payment invalid."),
        Status::Archived => ("archived", "Archived", "Archived payment."),
        Status::Refunded => ("refunded", "Refunded", "Payment refunded."),
    }
}

/// What is open for refund: everything paid to a payment that did not go
/// through, or the overpaid part of one that did; less refunds requested.
pub fn refund_open_sats(inv: &Invoice) -> u64 {
    let paid = inv.paid_sats();
    let open = match inv.status {
        Status::Expired | Status::Cancelled | Status::Invalid => paid,
        Status::Completed | Status::Pending | Status::Refunded => {
            paid.saturating_sub(inv.crypto_amount_sats)
        }
        _ => 0,
    };
    open.saturating_sub(inv.refunds.iter().map(|r| r.amount_sats).sum())
}

fn meta(inv: &Invoice, key: &str) -> Value {
    inv.metadata
        .as_ref()
        .and_then(|m| m.get(key).cloned())
        .unwrap_or(Value::Null)
}

/// `GET /v2/CheckPayment/?pos_id=&currency=BTC&payment_id=&address=`.
pub async fn check_payment(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let pairs = pairs(&cx);
    let mut q = QueryInput::new(&pairs);
    let inv = payment(&cx, &store, &mut q).await?;
    let inv = q.finish_with(inv)?;
    let (state, _, status) = words(&inv);
    let counting: Vec<_> = inv.payments.iter().filter(|p| p.counts()).collect();
    let confirmations = counting.iter().map(|p| p.confirmations).min().unwrap_or(0);
    let open = refund_open_sats(&inv);
    Ok(Response::ok(json!({
        "reference_no": meta(&inv, "reference_no"),
        "invoice_amount": inv.amount.to_string(),
        "invoice_currency": inv.currency,
        "currency": "BTC",
        "amount": btc(inv.crypto_amount_sats),
        "payment": btc(inv.paid_sats()),
        "confirmations": confirmations,
        "min_confirmations": inv.speed_policy.confirmations(),
        "confirmed": inv.status == Status::Completed,
        "state": state,
        "status": status,
        "wait_time": wait_time(inv.speed_policy),
        "refund_amount_opened": if open > 0 { btc(open) } else { String::new() },
        "address": inv.address,
        "payment_id": inv.quote_id.clone().unwrap_or_else(|| inv.id.clone()),
        "invoice_id": inv.id,
    })))
}

/// `GET /v2/CancelPayment/?pos_id=&currency=&payment_id=&address=&reason=&comment=`.
pub async fn cancel_payment(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let pairs = pairs(&cx);
    let mut q = QueryInput::new(&pairs);
    let inv = payment(&cx, &store, &mut q).await?;
    let reason = q.get("reason");
    let comment = q.get("comment");
    let inv = q.finish_with(inv)?;
    let comment = match (reason, comment) {
        (Some(r), Some(c)) => Some(format!("{r}: {c}")),
        (r, c) => r.or(c).map(str::to_string),
    };
    apply_input(cx.app, &store.id, &inv.id, Change::Cancel { comment }).await?;
    Ok(Response::ok(json!({ "cancelled": true })))
}

/// `GET /v2/AcceptPayment/?pos_id=&currency=&payment_id=&address=
/// &accepted_amount=&accepted_invoice_amount=`: accept an underpayment;
/// `accepted_amount` must be what was paid (CheckPayment's `payment`).
pub async fn accept_payment(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let pairs = pairs(&cx);
    let mut q = QueryInput::new(&pairs);
    let inv = payment(&cx, &store, &mut q).await?;
    let sats = btc_param(&mut q, "accepted_amount");
    if sats.is_none() && q.get("accepted_amount").is_none() {
        q.errors.add("accepted_amount", "is required");
    }
    // The fiat amount is informational: the BTC amount decides.
    q.get("accepted_invoice_amount");
    let (inv, sats) = q.finish_with(inv.zip(sats))?;
    apply_input(
        cx.app,
        &store.id,
        &inv.id,
        Change::AcceptUnderpayment { sats },
    )
    .await
    .map_err(|e| rename_field(e, "accepted_amount_sats", "accepted_amount"))?;
    Ok(Response::ok(json!({ "success": true })))
}

fn rename_field(mut e: ApiError, from: &str, to: &str) -> ApiError {
    if let Some(m) = e.details.remove(from) {
        e.details.insert(to.into(), m);
    }
    e
}

/// `GET /v2/RefundPayment/?pos_id=&payment_id=&currency=&address_out=
/// &refund_amount=`: a non-custodial refund request of exactly
/// CheckPayment's `refund_amount_opened`; the merchant sends it from their
/// own wallet and the chain poller marks it sent.
pub async fn refund_payment(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let pairs = pairs(&cx);
    let mut q = QueryInput::new(&pairs);
    let inv = payment(&cx, &store, &mut q).await?;
    let address = required(&mut q, "address_out").map(str::to_string);
    if let Some(Err(e)) = address.as_ref().map(|a| check_refund_address(&store, a)) {
        q.errors.add("address_out", e);
    }
    let sats = btc_param(&mut q, "refund_amount");
    if q.get("refund_amount").is_none() {
        q.errors.add("refund_amount", "is required");
    }
    if let (Some(inv), Some(s)) = (&inv, sats) {
        let open = refund_open_sats(inv);
        if s != open {
            q.errors.add(
                "refund_amount",
                format!(
                    "must equal refund_amount_opened from CheckPayment ({})",
                    if open > 0 {
                        btc(open)
                    } else {
                        "nothing is open for refund".into()
                    }
                ),
            );
        }
    }
    let (inv, (address, sats)) = q.finish_with(inv.zip(address.zip(sats)))?;
    let (inv, id) = request_refund(cx.app, &store, &inv.id, address, sats).await?;
    let r = inv
        .refunds
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(|| ApiError::internal("the refund was not recorded"))?;
    Ok(Response::ok(json!({
        "wait_time": "until the merchant sends it",
        "refund_id": r.id,
        "refund_status": r.status,
        "refund_amount": btc(r.amount_sats),
        "address_out": r.address,
    })))
}

/// `GET /v2/GetCurrencyList/`: `[{currency, name, type, decimals}]`.
pub async fn currency_list(cx: Ctx<'_>) -> Result<Response, ApiError> {
    QueryInput::new(&pairs(&cx)).finish()?;
    let mut out =
        vec![json!({"currency": "BTC", "name": "Bitcoin", "type": "crypto", "decimals": 8})];
    for f in &cx.app.config.fiats {
        if let Ok(Currency::Fiat(f)) = parse_currency(cx.app, f.as_str()) {
            out.push(json!({"currency": f, "name": fiat_name(&f), "type": "fiat", "decimals": crate::money::fiat_decimals(f.as_str())}));
        }
    }
    Ok(Response::ok(json!(out)))
}

/// "2020-03-27 11:00:00" from an RFC 3339 time.
fn seed_time(t: &str) -> String {
    t.get(..19).unwrap_or(t).replace('T', " ")
}

/// A GetTransactions row.
fn row(inv: &Invoice) -> Value {
    let (_, status, _) = words(inv);
    let open = refund_open_sats(inv);
    let refund = inv.refunds.last();
    let double_spent = inv
        .payments
        .iter()
        .any(|p| p.status == PaymentStatus::Replaced);
    json!({
        "status": status,
        "pos_id": meta(inv, "pos_id"),
        "payment_id": inv.quote_id.clone().unwrap_or_else(|| inv.id.clone()),
        "invoice_currency": inv.currency,
        "invoice_amount": inv.amount.to_string(),
        "currency": "BTC",
        "amount": btc(inv.crypto_amount_sats),
        "address": inv.address.clone().unwrap_or_default(),
        "type": "Sell",
        "payment": btc(inv.paid_sats()),
        "refund": refund.map(|r| btc(r.amount_sats)).unwrap_or_default(),
        "refund_amount_opened": if open > 0 { btc(open) } else { String::new() },
        "refund_status": refund.map(|r| json!(r.status)).unwrap_or(Value::Null),
        "inserted": seed_time(&inv.created_at),
        "confirmed": (inv.status == Status::Completed).then(|| seed_time(&inv.updated_at)),
        "cancelled": (inv.status == Status::Cancelled).then(|| seed_time(&inv.updated_at)),
        "double_spending_alert": double_spent.then_some(true),
        "accept_zero_confirmations": inv.speed_policy == SpeedPolicy::ZeroConf,
        "item_name": inv.order_name.clone().unwrap_or_default(),
        "access_token": inv.id,
        "reference_no": meta(inv, "reference_no"),
        "user": meta(inv, "user"),
        "locale": meta(inv, "locale"),
        "payer_ip_address": meta(inv, "payer_ip_address"),
        "payer_user_agent": meta(inv, "payer_user_agent"),
    })
}

/// `GET /v2/GetTransactions/?offset=&limit=` (and any POS field as a
/// filter): the store's payments, newest first.
pub async fn get_transactions(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let pairs = pairs(&cx);
    let mut q = QueryInput::new(&pairs);
    let offset = match q.get("offset").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            q.errors.add("offset", "must be a whole number");
            0
        }
    };
    let limit = q.limit();
    let filters: Vec<(&str, String)> = POS_FIELDS
        .iter()
        .filter_map(|f| q.get(f).map(|v| (*f, v.to_string())))
        .collect();
    q.finish()?;
    let query = Query::index(Index::Gsi1, schema::invoices_of(&store.id)).backward();
    let mut rows = Vec::new();
    let mut skipped = 0;
    for item in read_all(cx.app, query, MAX_SORT_WINDOW).await? {
        let inv: Invoice = from_item(item)?;
        if !filters
            .iter()
            .all(|(k, v)| meta(&inv, k).as_str() == Some(v))
        {
            continue;
        }
        if skipped < offset {
            skipped += 1;
            continue;
        }
        rows.push(row(&inv));
        if rows.len() == limit {
            break;
        }
    }
    Ok(Response::ok(json!(rows)))
}

/// Errors: `{"err": "..."}` (with `details` for bad parameters).
pub fn error_response(e: &ApiError) -> Response {
    let message = if e.status == 401 {
        "Invalid API key or authentication failed".to_string()
    } else {
        e.message.clone()
    };
    let mut body = json!({ "err": message });
    if !e.details.is_empty() {
        body["details"] = json!(e.details);
    }
    let mut r = Response::json(e.status, body);
    r.headers.extend(e.headers.iter().cloned());
    r
}
