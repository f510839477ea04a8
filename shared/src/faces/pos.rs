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

use crate::clock::Stamp;
use crate::error::{ApiError, FieldErrors};
use crate::handlers::ctx::Ctx;
use crate::handlers::invoices::{
    check_refund_address, create_invoice, request_refund, CreateInvoiceRequest, NewInvoice,
    MAX_SORT_WINDOW,
};
use crate::handlers::read_all;
use crate::http::Response;
use crate::ids::{is_id, IdKind};
use crate::invoice::lifecycle::Input as Change;
use crate::invoice::repo::{apply_input, load_for_store};
use crate::invoice::{Invoice, PaymentStatus, Status};
use crate::money::{amount_to_btc_string, btc_to_amount, check_amount, parse_decimal};
use crate::prices::quotes::{self, QuoteBody, QuoteRecord};
use crate::prices::rates::{fiat_name, parse_currency, Currency};
use crate::records::from_item;
use crate::request::{self, Field, Flag, Limit, Unknown, DEFAULT_LIMIT};
use crate::schema;
use crate::store::{SpeedPolicy, Store};
use crate::table::{Index, Query};
use bitcoin::Amount;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Map, Value};

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

/// An amount of BTC (up to 8 decimals), in satoshis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BtcSats(pub u64);

impl<'de> Deserialize<'de> for BtcSats {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = String::deserialize(d)?;
        parse_decimal(&v)
            .and_then(|d| check_amount(d, "BTC"))
            .and_then(btc_to_amount)
            .map(|a| BtcSats(a.to_sat()))
            .map_err(serde::de::Error::custom)
    }
}

/// `true`/`1` or `false`/`0` (any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PosFlag(pub bool);

impl<'de> Deserialize<'de> for PosFlag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match String::deserialize(d)?.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(PosFlag(true)),
            "false" | "0" => Ok(PosFlag(false)),
            _ => Err(serde::de::Error::custom("must be true or false")),
        }
    }
}

/// The POS fields of a query (kept in the invoice's metadata, and filters
/// of GetTransactions).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PosFields {
    pub pos_id: Field<String>,
    pub reference_no: Field<String>,
    pub payer_ip_address: Field<String>,
    pub payer_user_agent: Field<String>,
    pub locale: Field<String>,
    pub user: Field<String>,
}

impl PosFields {
    /// The fields sent, by name (each at most 500 characters).
    fn take(self, e: &mut FieldErrors) -> Map<String, Value> {
        let mut m = Map::new();
        for (name, f) in [
            ("pos_id", self.pos_id),
            ("reference_no", self.reference_no),
            ("payer_ip_address", self.payer_ip_address),
            ("payer_user_agent", self.payer_user_agent),
            ("locale", self.locale),
            ("user", self.user),
        ] {
            if let Some(v) = f.take(name, e) {
                if v.len() > 500 {
                    e.add(name, "must be at most 500 characters");
                }
                m.insert(name.to_string(), json!(v));
            }
        }
        m
    }
}

/// `currency` must be BTC (the only cryptocurrency served).
fn crypto(currency: Field<String>, e: &mut FieldErrors) {
    if let Some(c) = currency.take("currency", e) {
        if !c.eq_ignore_ascii_case("BTC") {
            e.add("currency", format!("`{c}` is not supported: only BTC"));
        }
    }
}

/// The parameters GetRate and StartPayment share (next to the POS fields).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RateParams {
    pub currency: Field<String>,
    pub invoice_amount: Field<String>,
    pub invoice_currency: Field<String>,
    pub accept_zero_confirmations: Field<PosFlag>,
    pub require_kyt_for_confirmation: Field<PosFlag>,
}

/// A checked rate request: the v1 amount and currency (still as sent),
/// `accept_zero_confirmations` and the POS fields.
struct Rate {
    amount: Field<String>,
    currency: Field<String>,
    zero_conf: Option<bool>,
    metadata: Map<String, Value>,
}

impl RateParams {
    /// Check the POS side (`pos_id` required, BTC only, no KYT).
    fn take(self, pos: PosFields, e: &mut FieldErrors) -> Rate {
        if !pos.pos_id.is_sent() {
            e.add("pos_id", "is required");
        }
        crypto(self.currency, e);
        if self
            .require_kyt_for_confirmation
            .take("require_kyt_for_confirmation", e)
            == Some(PosFlag(true))
        {
            e.add(
                "require_kyt_for_confirmation",
                "is not supported: satsgate has no KYT (transaction screening) provider; send false or leave it out",
            );
        }
        let zero_conf = self
            .accept_zero_confirmations
            .take("accept_zero_confirmations", e)
            .map(|f| f.0);
        for (name, f) in [
            ("invoice_amount", &self.invoice_amount),
            ("invoice_currency", &self.invoice_currency),
        ] {
            if !f.is_sent() {
                e.add(name, "is required");
            }
        }
        Rate {
            amount: self.invoice_amount,
            currency: self.invoice_currency,
            zero_conf,
            metadata: pos.take(e),
        }
    }
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
        "amount_exchange": amount_to_btc_string(q.sats),
        "network_processing_fee": amount_to_btc_string(q.network_fee_sats),
        "amount": amount_to_btc_string(q.total_sats),
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

/// The query of `GET /v2/GetRate/`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct GetRateQuery {
    #[serde(flatten)]
    pub rate: RateParams,
    #[serde(flatten)]
    pub pos: PosFields,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// `GET /v2/GetRate/?pos_id=&invoice_currency=&invoice_amount=&currency=BTC
/// &accept_zero_confirmations=`: a quote held 5 minutes; `payment_id` is its id.
pub async fn get_rate(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let q: GetRateQuery = request::query(&pairs(&cx))?;
    let mut e = FieldErrors::default();
    let rate = q.rate.take(q.pos, &mut e);
    let rate = q.unknown.finish_query(e, Some(rate))?;
    let zero_conf = rate.zero_conf.unwrap_or(false);
    let req = QuoteBody {
        amount: rate.amount.read(),
        currency: rate.currency.read(),
        accept_zero_conf: Field::Given(Flag(zero_conf)),
        ..QuoteBody::default()
    }
    .into_quote(cx.app)
    .map_err(renamed)?;
    let quote = quotes::create_quote(cx.app, &store, req)
        .await
        .map_err(renamed)?;
    Ok(Response::ok(Value::Object(rate_json(
        &quote,
        policy_for(&store, zero_conf),
    ))))
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

/// The query of `GET /v2/StartPayment/`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StartPaymentQuery {
    pub payment_id: Field<String>,
    #[serde(flatten)]
    pub rate: RateParams,
    #[serde(flatten)]
    pub pos: PosFields,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// `GET /v2/StartPayment/?pos_id=&payment_id=&invoice_currency=&invoice_amount=
/// &currency=BTC&reference_no=&accept_zero_confirmations=&payer_ip_address=
/// &payer_user_agent=`: the payment (an invoice) at the quote's rate, with
/// its address and QR codes. Without `payment_id`, priced now.
pub async fn start_payment(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let q: StartPaymentQuery = request::query(&pairs(&cx))?;
    let mut e = FieldErrors::default();
    let rate = q.rate.take(q.pos, &mut e);
    let payment_id = q.payment_id.take("payment_id", &mut e);
    let rate = q.unknown.finish_query(e, Some(rate))?;
    let v1 = CreateInvoiceRequest {
        amount: rate.amount.read(),
        currency: rate.currency.read(),
        ..CreateInvoiceRequest::default()
    };
    let mut new = NewInvoice::try_from(v1).map_err(|e| renamed(e.into()))?;
    new.metadata = Some(rate.metadata);
    new.speed = rate.zero_conf.map(|z| policy_for(&store, z));
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
                currency: match &inv.currency {
                    Currency::Fiat(f) => f.clone(),
                    Currency::Btc => {
                        return Err(ApiError::field("invoice_currency", "must be a fiat code"))
                    }
                },
                rate: inv.rate.unwrap_or_default(),
                rate_updated_at: inv.created_at,
                rate_sources: vec![],
                sats: inv.crypto_amount_sats,
                network_fee_sats: Amount::ZERO,
                network_fee_rate: Decimal::ZERO,
                network_fee_source: "none".into(),
                total_sats: inv.crypto_amount_sats,
                accept_zero_conf: inv.speed_policy == SpeedPolicy::ZeroConf,
                created_at: inv.created_at,
                expires_at: inv.expires_at,
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

/// The parameters naming a payment (CheckPayment, CancelPayment,
/// AcceptPayment, RefundPayment).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PaymentParams {
    pub payment_id: Field<String>,
    pub address: Field<String>,
    pub pos_id: Field<String>,
    pub currency: Field<String>,
}

/// The invoice of a payment id: a GetRate quote's (once started) or an
/// invoice id; `address`, when sent, must be the payment's. Bad parameters
/// are recorded in `e`.
async fn payment(
    cx: &Ctx<'_>,
    store: &Store,
    p: PaymentParams,
    e: &mut FieldErrors,
) -> Result<Option<Invoice>, ApiError> {
    let id = p.payment_id.require("payment_id", e);
    let address = p.address.take("address", e);
    p.pos_id.take("pos_id", e);
    crypto(p.currency, e);
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
        e.add("address", "is not the address of this payment");
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
pub fn refund_open_sats(inv: &Invoice) -> Amount {
    let paid = inv.paid_sats();
    let open = match inv.status {
        Status::Expired | Status::Cancelled | Status::Invalid => paid,
        Status::Completed | Status::Pending | Status::Refunded => paid
            .checked_sub(inv.crypto_amount_sats)
            .unwrap_or(Amount::ZERO),
        _ => Amount::ZERO,
    };
    open.checked_sub(inv.refunds.iter().map(|r| r.amount_sats).sum())
        .unwrap_or(Amount::ZERO)
}

fn meta(inv: &Invoice, key: &str) -> Value {
    inv.metadata
        .as_ref()
        .and_then(|m| m.get(key).cloned())
        .unwrap_or(Value::Null)
}

/// The query of `GET /v2/CheckPayment/`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CheckPaymentQuery {
    #[serde(flatten)]
    pub payment: PaymentParams,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// `GET /v2/CheckPayment/?pos_id=&currency=BTC&payment_id=&address=`.
pub async fn check_payment(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let q: CheckPaymentQuery = request::query(&pairs(&cx))?;
    let mut e = FieldErrors::default();
    let inv = payment(&cx, &store, q.payment, &mut e).await?;
    let inv = q.unknown.finish_query(e, inv)?;
    let (state, _, status) = words(&inv);
    let counting: Vec<_> = inv.payments.iter().filter(|p| p.counts()).collect();
    let confirmations = counting.iter().map(|p| p.confirmations).min().unwrap_or(0);
    let open = refund_open_sats(&inv);
    Ok(Response::ok(json!({
        "reference_no": meta(&inv, "reference_no"),
        "invoice_amount": inv.amount.to_string(),
        "invoice_currency": inv.currency,
        "currency": "BTC",
        "amount": amount_to_btc_string(inv.crypto_amount_sats),
        "payment": amount_to_btc_string(inv.paid_sats()),
        "confirmations": confirmations,
        "min_confirmations": inv.speed_policy.confirmations(),
        "confirmed": inv.status == Status::Completed,
        "state": state,
        "status": status,
        "wait_time": wait_time(inv.speed_policy),
        "refund_amount_opened": if open > Amount::ZERO { amount_to_btc_string(open) } else { String::new() },
        "address": inv.address,
        "payment_id": inv.quote_id.clone().unwrap_or_else(|| inv.id.clone()),
        "invoice_id": inv.id,
    })))
}

/// The query of `GET /v2/CancelPayment/`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CancelPaymentQuery {
    #[serde(flatten)]
    pub payment: PaymentParams,
    pub reason: Field<String>,
    pub comment: Field<String>,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// `GET /v2/CancelPayment/?pos_id=&currency=&payment_id=&address=&reason=&comment=`.
pub async fn cancel_payment(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let q: CancelPaymentQuery = request::query(&pairs(&cx))?;
    let mut e = FieldErrors::default();
    let inv = payment(&cx, &store, q.payment, &mut e).await?;
    let reason = q.reason.take("reason", &mut e);
    let comment = q.comment.take("comment", &mut e);
    let inv = q.unknown.finish_query(e, inv)?;
    let comment = match (reason, comment) {
        (Some(r), Some(c)) => Some(format!("{r}: {c}")),
        (r, c) => r.or(c),
    };
    apply_input(cx.app, &store.id, &inv.id, Change::Cancel { comment }).await?;
    Ok(Response::ok(json!({ "cancelled": true })))
}

/// The query of `GET /v2/AcceptPayment/`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AcceptPaymentQuery {
    #[serde(flatten)]
    pub payment: PaymentParams,
    pub accepted_amount: Field<BtcSats>,
    /// Informational: the BTC amount decides.
    pub accepted_invoice_amount: Field<String>,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// `GET /v2/AcceptPayment/?pos_id=&currency=&payment_id=&address=
/// &accepted_amount=&accepted_invoice_amount=`: accept an underpayment;
/// `accepted_amount` must be what was paid (CheckPayment's `payment`).
pub async fn accept_payment(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let q: AcceptPaymentQuery = request::query(&pairs(&cx))?;
    let mut e = FieldErrors::default();
    let inv = payment(&cx, &store, q.payment, &mut e).await?;
    let sats = q
        .accepted_amount
        .require("accepted_amount", &mut e)
        .map(|s| Amount::from_sat(s.0));
    q.accepted_invoice_amount
        .take("accepted_invoice_amount", &mut e);
    let (inv, sats) = q.unknown.finish_query(e, inv.zip(sats))?;
    apply_input(
        cx.app,
        &store.id,
        &inv.id,
        Change::AcceptUnderpayment { sats },
    )
    .await
    .map_err(|e| rename_field(e.into(), "accepted_amount_sats", "accepted_amount"))?;
    Ok(Response::ok(json!({ "success": true })))
}

fn rename_field(mut e: ApiError, from: &str, to: &str) -> ApiError {
    if let Some(m) = e.details.remove(from) {
        e.details.insert(to.into(), m);
    }
    e
}

/// The query of `GET /v2/RefundPayment/`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RefundPaymentQuery {
    #[serde(flatten)]
    pub payment: PaymentParams,
    pub address_out: Field<String>,
    pub refund_amount: Field<BtcSats>,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// `GET /v2/RefundPayment/?pos_id=&payment_id=&currency=&address_out=
/// &refund_amount=`: a non-custodial refund request of exactly
/// CheckPayment's `refund_amount_opened`; the merchant sends it from their
/// own wallet and the chain poller marks it sent.
pub async fn refund_payment(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let q: RefundPaymentQuery = request::query(&pairs(&cx))?;
    let mut e = FieldErrors::default();
    let inv = payment(&cx, &store, q.payment, &mut e).await?;
    let address = q
        .address_out
        .require("address_out", &mut e)
        .and_then(|a| e.check("address_out", check_refund_address(&store, &a).map(|_| a)));
    let sats = q
        .refund_amount
        .require("refund_amount", &mut e)
        .map(|s| Amount::from_sat(s.0));
    if let (Some(inv), Some(s)) = (&inv, sats) {
        let open = refund_open_sats(inv);
        if s != open {
            e.add(
                "refund_amount",
                format!(
                    "must equal refund_amount_opened from CheckPayment ({})",
                    if open > Amount::ZERO {
                        amount_to_btc_string(open)
                    } else {
                        "nothing is open for refund".into()
                    }
                ),
            );
        }
    }
    let (inv, (address, sats)) = q.unknown.finish_query(e, inv.zip(address.zip(sats)))?;
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
        "refund_amount": amount_to_btc_string(r.amount_sats),
        "address_out": r.address,
    })))
}

/// `GET /v2/GetCurrencyList/`: `[{currency, name, type, decimals}]`.
pub async fn currency_list(cx: Ctx<'_>) -> Result<Response, ApiError> {
    request::no_query(&pairs(&cx))?;
    let mut out =
        vec![json!({"currency": "BTC", "name": "Bitcoin", "type": "crypto", "decimals": 8})];
    for f in &cx.app.config.fiats {
        if let Ok(Currency::Fiat(f)) = parse_currency(cx.app, f.as_str()) {
            out.push(json!({"currency": f, "name": fiat_name(&f), "type": "fiat", "decimals": crate::money::fiat_decimals(f.as_str())}));
        }
    }
    Ok(Response::ok(json!(out)))
}

/// "2020-03-27 11:00:00" from a time.
fn seed_time(t: &Stamp) -> String {
    let t = t.to_string();
    t.get(..19).unwrap_or(&t).replace('T', " ")
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
        "amount": amount_to_btc_string(inv.crypto_amount_sats),
        "address": inv.address.clone().unwrap_or_default(),
        "type": "Sell",
        "payment": amount_to_btc_string(inv.paid_sats()),
        "refund": refund.map(|r| amount_to_btc_string(r.amount_sats)).unwrap_or_default(),
        "refund_amount_opened": if open > Amount::ZERO { amount_to_btc_string(open) } else { String::new() },
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

/// The query of `GET /v2/GetTransactions/`: paging and POS field filters.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TransactionsQuery {
    pub offset: Field<String>,
    pub limit: Field<Limit>,
    #[serde(flatten)]
    pub pos: PosFields,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// `GET /v2/GetTransactions/?offset=&limit=` (and any POS field as a
/// filter): the store's payments, newest first.
pub async fn get_transactions(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let q: TransactionsQuery = request::query(&pairs(&cx))?;
    let mut e = FieldErrors::default();
    let offset = match q.offset.take("offset", &mut e).map(|o| o.parse::<usize>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            e.add("offset", "must be a whole number");
            0
        }
    };
    let limit = q.limit.take("limit", &mut e).map_or(DEFAULT_LIMIT, |l| l.0);
    let filters = q.pos.take(&mut e);
    q.unknown.finish_query(e, Some(()))?;
    let query = Query::index(Index::Gsi1, schema::invoices_of(&store.id)).backward();
    let mut rows = Vec::new();
    let mut skipped = 0;
    for item in read_all(cx.app, query, MAX_SORT_WINDOW).await? {
        let inv: Invoice = from_item(item)?;
        if !filters.iter().all(|(k, v)| &meta(&inv, k) == v) {
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
