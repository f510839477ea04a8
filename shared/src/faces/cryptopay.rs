//! Seed 004 (CryptoPay, `/api/...`): login, payment orders, transactions,
//! merchant wallets and webhook endpoints over the v1 use cases, with the
//! seed's `{success, data, message, timestamp}` envelope, its error body
//! `{success: false, error: {code, message, details}, timestamp}` and
//! `?page=&page_size=` pagination `{count, next, previous, results}`.
//!
//! Merchant wallets are stores (one Bitcoin wallet each: a descriptor or an
//! xpub). A store key acts on its store; an account key or a login token on
//! the stores of its account, naming one with `merchant_wallet` (a store id)
//! when the account has several. Only `blockchain: "bitcoin"` with BTC or a
//! fiat currency exists: other chains and tokens are `UNSUPPORTED`.

use crate::error::{ApiError, ErrorCode};
use crate::handlers::ctx::Ctx;
use crate::handlers::invoices::{payment_json, NewInvoice, MAX_SORT_WINDOW};
use crate::handlers::read_all;
use crate::handlers::stores::{caller_stores, create_store, update_store};
use crate::handlers::webhooks::{create_endpoint, endpoints_page, update_endpoint};
use crate::http::{json_type, Input, QueryInput, Response};
use crate::invoice::{Invoice, InvoiceError, Status};
use crate::prices::rates::Currency;
use crate::records::from_item;
use crate::schema;
use crate::store::{Store, StoreSettings};
use crate::table::{Index, Query};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// The only chain served.
pub const BLOCKCHAIN: &str = "bitcoin";
/// Tokens of other chains, refused as `UNSUPPORTED` (not as a bad currency).
const OTHER_TOKENS: [&str; 10] = [
    "USDC", "USDT", "DAI", "ETH", "WETH", "SOL", "MATIC", "POL", "TRX", "BNB",
];
const MAX_PAGE_SIZE: usize = 100;
const DEFAULT_PAGE_SIZE: usize = 20;

fn timestamp(now: OffsetDateTime) -> String {
    crate::clock::rfc3339(now.replace_nanosecond(0).unwrap_or(now))
}

/// `{success: true, data, message, timestamp}`.
fn envelope(status: u16, data: Value, message: &str, now: OffsetDateTime) -> Response {
    Response::json(
        status,
        json!({ "success": true, "data": data, "message": message, "timestamp": timestamp(now) }),
    )
}

/// `{success: false, error: {code, message, details}, timestamp}`.
fn error_body(
    status: u16,
    code: &str,
    message: &str,
    details: &BTreeMap<String, Vec<String>>,
    now: OffsetDateTime,
) -> Response {
    Response::json(
        status,
        json!({
            "success": false,
            "error": { "code": code, "message": message, "details": details },
            "timestamp": timestamp(now),
        }),
    )
}

/// Every error of this face, in the seed's shape.
pub fn error_response(e: &ApiError, now: OffsetDateTime) -> Response {
    let code = match e.code {
        ErrorCode::ValidationError => "VALIDATION_ERROR",
        ErrorCode::Unauthenticated => "UNAUTHORIZED",
        ErrorCode::Forbidden => "FORBIDDEN",
        ErrorCode::NotFound => "NOT_FOUND",
        ErrorCode::Conflict => "CONFLICT",
        ErrorCode::IdempotencyConflict => "IDEMPOTENCY_CONFLICT",
        ErrorCode::RateLimited => "RATE_LIMITED",
        ErrorCode::RateUnavailable => "RATE_UNAVAILABLE",
        ErrorCode::Internal => "INTERNAL_ERROR",
    };
    let mut r = error_body(e.status, code, &e.message, &e.details, now);
    r.headers.extend(e.headers.iter().cloned());
    r
}

/// 400 `UNSUPPORTED` on `field`.
fn unsupported(field: &str, message: String, now: OffsetDateTime) -> Response {
    let details = BTreeMap::from([(field.to_string(), vec![message.clone()])]);
    error_body(400, "UNSUPPORTED", &message, &details, now)
}

/// `?page=&page_size=` of a list endpoint, checked.
struct Paging {
    page: usize,
    size: usize,
    sent_size: bool,
}

fn paging(q: &mut QueryInput<'_>) -> Paging {
    let mut num = |name: &'static str, max: usize, default: usize| match q.get(name) {
        None => default,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                q.errors
                    .add(name, format!("must be a whole number from 1 to {max}"));
                default
            }
        },
    };
    let page = num("page", usize::MAX, 1);
    let size = num("page_size", MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE);
    let sent_size = q.get("page_size").is_some();
    Paging {
        page,
        size,
        sent_size,
    }
}

/// `{count, next, previous, results}` of one page of `items`.
fn paginate(path: &str, items: Vec<Value>, p: &Paging) -> Value {
    let count = items.len();
    let link = |page: usize| {
        if p.sent_size {
            format!("{path}?page={page}&page_size={}", p.size)
        } else {
            format!("{path}?page={page}")
        }
    };
    let start = (p.page - 1).saturating_mul(p.size);
    let results: Vec<Value> = items.into_iter().skip(start).take(p.size).collect();
    let next = (start.saturating_add(p.size) < count).then(|| link(p.page + 1));
    let previous = (p.page > 1).then(|| link((p.page - 1).min(count.div_ceil(p.size).max(1))));
    json!({ "count": count, "next": next, "previous": previous, "results": results })
}

/// The list path the request came on (with its trailing slash, as the seed writes it).
fn list_path(cx: &Ctx<'_>) -> String {
    let p = cx.req.path.trim_end_matches('/');
    format!("{p}/")
}

/// The store a request acts on: a store key's own; for an account key the
/// one named by `merchant_wallet`, or its only store.
async fn target_store(cx: &Ctx<'_>, wanted: Option<&str>) -> Result<Store, ApiError> {
    if let Some(id) = wanted {
        return cx.visible_store(id).await;
    }
    let mut stores = caller_stores(cx).await?;
    match stores.len() {
        1 => Ok(stores.remove(0)),
        0 => Err(ApiError::field(
            "merchant_wallet",
            "this account has no merchant wallet yet: add one with POST /api/merchant-wallets/",
        )),
        _ => Err(ApiError::field(
            "merchant_wallet",
            "is required: this account has several merchant wallets; give the id of one",
        )),
    }
}

/// The seed's payment order status words.
pub fn status_word(s: Status) -> &'static str {
    match s {
        Status::New => "pending",
        Status::PaidPartial => "partially_paid",
        Status::Pending => "confirming",
        Status::Completed => "completed",
        Status::Invalid => "failed",
        other => other.as_str(),
    }
}

/// A payment order: the v1 invoice under the seed's names.
pub fn order_json(inv: &Invoice, public_url: &str) -> Value {
    let v = inv.to_json(public_url);
    let meta = inv.metadata.clone().unwrap_or_default();
    json!({
        "id": inv.id,
        "amount": v["amount"],
        "currency": inv.currency,
        "blockchain": BLOCKCHAIN,
        "network": inv.network,
        "status": status_word(inv.status),
        "state": inv.status,
        "order_info": meta.get("order_info").cloned().unwrap_or(Value::Null),
        "nonce": meta.get("nonce").cloned().unwrap_or(Value::Null),
        "merchant_wallet": inv.store_id,
        "payment_address": inv.address,
        "crypto_amount": v["crypto_amount"],
        "crypto_amount_sats": inv.crypto_amount_sats,
        "amount_paid": v["amount_paid"],
        "amount_paid_sats": v["amount_paid_sats"],
        "rate": v["rate"],
        "payment_uri": v["payment_uri"],
        "checkout_url": v["checkout_url"],
        "transactions": inv.payments.iter().map(|p| p.txid.clone()).collect::<Vec<_>>(),
        "expires_at": inv.expires_at,
        "created_at": inv.created_at,
        "updated_at": inv.updated_at,
    })
}

/// A merchant wallet: a store and its wallet.
pub fn wallet_json(s: &Store) -> Value {
    json!({
        "id": s.id,
        "blockchain": BLOCKCHAIN,
        "network": s.network,
        "address": s.wallet,
        "wallet_type": s.wallet_type,
        "label": s.name,
        "default_currency": s.default_currency,
        "is_active": true,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
    })
}

/// A transaction: a detected payment under the seed's names.
fn transaction_json(item: &crate::table::Item) -> Value {
    let mut v = payment_json(item);
    if let Value::Object(m) = &mut v {
        m.insert("hash".into(), m.get("txid").cloned().unwrap_or(Value::Null));
        m.insert("blockchain".into(), json!(BLOCKCHAIN));
        m.insert(
            "payment_order_id".into(),
            m.get("invoice_id").cloned().unwrap_or(Value::Null),
        );
    }
    v
}

/// `POST /api/auth/login {username, password}` -> `data: {token, ...}`: a
/// session token usable as `Authorization: Bearer <token>`.
pub async fn login(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let (session, token) = crate::handlers::users::log_in(&cx).await?;
    let data = json!({
        "token": token,
        "access_token": token,
        "token_type": "Bearer",
        "expires_at": session.expires_at,
        "account_id": session.account_id,
        "user_id": session.user_id,
    });
    Ok(envelope(200, data, "Login successful", cx.now()))
}

/// A `string or number` field as text (`nonce`, `order_info` keeps JSON).
fn text_or_number(input: &mut Input, field: &str) -> Option<Value> {
    match input.raw(field) {
        None => None,
        Some(v @ Value::String(_))
            if v.as_str().is_some_and(|s| !s.is_empty() && s.len() <= 64) =>
        {
            Some(v)
        }
        Some(v @ Value::Number(_)) if v.to_string().len() <= 64 => Some(v),
        Some(other) => {
            input.error(
                field,
                format!(
                    "must be a string or number of at most 64 characters, got {}",
                    json_type(&other)
                ),
            );
            None
        }
    }
}

/// `POST /api/payment-orders/ {amount, currency, blockchain, order_info,
/// nonce, merchant_wallet?, description?}` -> 201 the order. A nonce is
/// single-use per merchant wallet: a repeat is refused (409 `DUPLICATE_NONCE`).
pub async fn create_order(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let now = cx.now();
    let mut input = Input::from_body(&cx.req.body)?;
    let blockchain = input
        .nonempty("blockchain", 32)
        .map(|b| b.to_ascii_lowercase());
    let currency = input
        .nonempty("currency", 10)
        .map(|c| c.to_ascii_uppercase());
    if let Some(b) = blockchain.as_deref().filter(|b| *b != BLOCKCHAIN) {
        return Ok(unsupported(
            "blockchain",
            format!(
                "blockchain `{b}` is not supported yet: only `bitcoin` (EVM chains are planned)"
            ),
            now,
        ));
    }
    if let Some(c) = currency.as_deref().filter(|c| OTHER_TOKENS.contains(c)) {
        return Ok(unsupported(
            "currency",
            format!("currency `{c}` is not supported yet: use BTC, or a fiat code priced in BTC (tokens need EVM support, which is planned)"),
            now,
        ));
    }
    let amount = input.decimal("amount", Decimal::ZERO, Decimal::from(1_000_000_000_000i64));
    let amount = input.required("amount", amount);
    let currency = input.required("currency", currency);
    let currency = currency.and_then(|c| match c.parse::<Currency>() {
        Ok(c) => Some(c),
        Err(e) => {
            input.error("currency", e);
            None
        }
    });
    let order_info = match input.raw("order_info") {
        None => None,
        Some(v @ (Value::String(_) | Value::Object(_))) if v.to_string().len() <= 4000 => Some(v),
        Some(_) => {
            input.error(
                "order_info",
                "must be a string or an object of at most 4000 bytes",
            );
            None
        }
    };
    let nonce = text_or_number(&mut input, "nonce");
    let wallet = input.nonempty("merchant_wallet", 64);
    let memo = input.string("description", 1000);
    input.finish()?;
    let store = target_store(&cx, wallet.as_deref()).await?;
    let nonce_text = nonce.as_ref().map(|n| match n {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let mut metadata = Map::new();
    if let Some(o) = order_info {
        metadata.insert("order_info".into(), o);
    }
    if let Some(n) = &nonce {
        metadata.insert("nonce".into(), n.clone());
    }
    let new = NewInvoice {
        amount,
        currency,
        memo,
        order_id: nonce_text.as_ref().map(|n| format!("nonce:{n}")),
        metadata: (!metadata.is_empty()).then_some(metadata),
        ..NewInvoice::default()
    };
    match crate::invoice::create(cx.app, &store, new, None).await {
        Ok(inv) => Ok(envelope(
            201,
            order_json(&inv, &cx.app.config.public_url),
            "Payment order created",
            now,
        )),
        Err(InvoiceError::OrderIdTaken(_)) if nonce_text.is_some() => {
            let n = nonce_text.unwrap_or_default();
            let details = BTreeMap::from([(
                "nonce".to_string(),
                vec![format!(
                    "nonce {n} was already used for this merchant wallet"
                )],
            )]);
            Ok(error_body(
                409,
                "DUPLICATE_NONCE",
                &format!("nonce {n} was already used; send a new nonce for a new payment order"),
                &details,
                now,
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// The caller's invoices, newest first (at most `MAX_SORT_WINDOW` per store).
async fn caller_orders(cx: &Ctx<'_>) -> Result<Vec<Invoice>, ApiError> {
    let mut all = Vec::new();
    for s in caller_stores(cx).await? {
        let query = Query::index(Index::Gsi1, schema::invoices_of(&s.id)).backward();
        for item in read_all(cx.app, query, MAX_SORT_WINDOW).await? {
            all.push(from_item::<Invoice>(item)?);
        }
    }
    all.sort_by(|a, b| (&b.created_at, &b.id).cmp(&(&a.created_at, &a.id)));
    Ok(all)
}

/// `GET /api/payment-orders/?page=&page_size=&status=`.
pub async fn list_orders(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let mut q = QueryInput::new(&cx.req.query);
    let p = paging(&mut q);
    let status = q.get("status").map(str::to_string);
    q.finish()?;
    let public = &cx.app.config.public_url;
    let items = caller_orders(&cx)
        .await?
        .iter()
        .filter(|i| status.as_deref().is_none_or(|s| status_word(i.status) == s))
        .map(|i| order_json(i, public))
        .collect();
    Ok(envelope(
        200,
        paginate(&list_path(&cx), items, &p),
        "Success",
        cx.now(),
    ))
}

/// `GET /api/payment-orders/{id}/`.
pub async fn get_order(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let item = cx
        .app
        .table
        .get(&schema::invoice(cx.param("id")))
        .await?
        .ok_or_else(|| ApiError::not_found("payment order"))?;
    let inv: Invoice = from_item(item)?;
    cx.visible_store(&inv.store_id)
        .await
        .map_err(|_| ApiError::not_found("payment order"))?;
    Ok(envelope(
        200,
        order_json(&inv, &cx.app.config.public_url),
        "Success",
        cx.now(),
    ))
}

/// Every detected payment of the caller's stores, newest first.
async fn caller_transactions(cx: &Ctx<'_>) -> Result<Vec<Value>, ApiError> {
    let mut all = Vec::new();
    for s in caller_stores(cx).await? {
        let query = Query::index(Index::Gsi1, schema::payments_of(&s.id)).backward();
        let items = read_all(cx.app, query, MAX_SORT_WINDOW).await?;
        all.extend(items.iter().map(transaction_json));
    }
    all.sort_by(|a, b| b["seen_at"].as_str().cmp(&a["seen_at"].as_str()));
    Ok(all)
}

/// `GET /api/transactions/?page=&page_size=`.
pub async fn list_transactions(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let mut q = QueryInput::new(&cx.req.query);
    let p = paging(&mut q);
    q.finish()?;
    let items = caller_transactions(&cx).await?;
    Ok(envelope(
        200,
        paginate(&list_path(&cx), items, &p),
        "Success",
        cx.now(),
    ))
}

/// `GET /api/transactions/{hash}/`: the payment(s) of that transaction.
pub async fn get_transaction(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let hash = cx.param("hash").to_ascii_lowercase();
    let mut outputs: Vec<Value> = caller_transactions(&cx)
        .await?
        .into_iter()
        .filter(|t| t["hash"].as_str() == Some(hash.as_str()))
        .collect();
    if outputs.is_empty() {
        return Err(ApiError::not_found("transaction"));
    }
    let mut data = outputs.remove(0);
    data["outputs"] = json!(std::iter::once(data.clone())
        .chain(outputs)
        .collect::<Vec<_>>());
    Ok(envelope(200, data, "Success", cx.now()))
}

/// The v1 store body from a merchant wallet body `{blockchain, address,
/// network?, label?, default_currency?}`; errors on `wallet`/`name` are
/// reported under the seed's names.
fn wallet_settings(
    cx: &Ctx<'_>,
    network: Option<crate::network::Network>,
) -> Result<StoreSettings, Result<Response, ApiError>> {
    let now = cx.now();
    let mut input = Input::from_body(&cx.req.body).map_err(Err)?;
    let blockchain = input
        .nonempty("blockchain", 32)
        .map(|b| b.to_ascii_lowercase());
    if let Some(b) = blockchain.as_deref().filter(|b| *b != BLOCKCHAIN) {
        return Err(Ok(unsupported(
            "blockchain",
            format!(
                "blockchain `{b}` is not supported yet: only `bitcoin` (EVM chains are planned)"
            ),
            now,
        )));
    }
    if network.is_none() && blockchain.is_none() {
        input.error("blockchain", "is required (`bitcoin`)");
    }
    let mut v1 = Map::new();
    for (from, to) in [
        ("address", "wallet"),
        ("label", "name"),
        ("network", "network"),
        ("default_currency", "default_currency"),
    ] {
        if let Some(v) = input.raw(from) {
            v1.insert(to.into(), v);
        }
    }
    input.finish().map_err(Err)?;
    if network.is_none() {
        v1.entry("name").or_insert(json!("Bitcoin wallet"));
        v1.entry("network").or_insert(json!("mainnet"));
    }
    let body = Value::Object(v1).to_string();
    StoreSettings::parse(cx.app, body.as_bytes(), network).map_err(|mut e| {
        for (from, to) in [("wallet", "address"), ("name", "label")] {
            if let Some(m) = e.details.remove(from) {
                e.details.insert(to.into(), m);
                e.message = e.message.replace(&format!("`{from}`"), &format!("`{to}`"));
            }
        }
        Err(e)
    })
}

/// `GET /api/merchant-wallets/`.
pub async fn list_wallets(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let mut q = QueryInput::new(&cx.req.query);
    let p = paging(&mut q);
    q.finish()?;
    let items = caller_stores(&cx).await?.iter().map(wallet_json).collect();
    Ok(envelope(
        200,
        paginate(&list_path(&cx), items, &p),
        "Success",
        cx.now(),
    ))
}

/// `POST /api/merchant-wallets/ {blockchain: "bitcoin", address: <xpub or
/// descriptor>, network?, label?}` (account key or login token) -> 201: a
/// new store with that wallet, and its store key (shown once).
pub async fn create_wallet(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let account_id = cx.account_id()?.to_string();
    let settings = match wallet_settings(&cx, None) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (store, key, secret) = create_store(cx.app, &account_id, settings).await?;
    let mut data = wallet_json(&store);
    data["api_key"] = key.to_json_with_secret(&secret);
    Ok(envelope(201, data, "Merchant wallet created", cx.now()))
}

/// `PUT /api/merchant-wallets/{id}/ {address?, label?, default_currency?}`.
pub async fn update_wallet(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.managed_store(cx.param("id")).await?;
    let settings = match wallet_settings(&cx, Some(store.network)) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let store = update_store(cx.app, &store, settings).await?;
    Ok(envelope(
        200,
        wallet_json(&store),
        "Merchant wallet updated",
        cx.now(),
    ))
}

/// `GET /api/webhook-endpoints/`: the endpoints of the caller's stores.
pub async fn list_webhooks(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let mut q = QueryInput::new(&cx.req.query);
    let p = paging(&mut q);
    q.finish()?;
    let mut items = Vec::new();
    for s in caller_stores(&cx).await? {
        let (endpoints, _) = endpoints_page(cx.app, &s.id, 100, None).await?;
        items.extend(endpoints.iter().map(|e| {
            let mut v = e.to_json();
            v["merchant_wallet"] = json!(s.id);
            v
        }));
    }
    Ok(envelope(
        200,
        paginate(&list_path(&cx), items, &p),
        "Success",
        cx.now(),
    ))
}

/// `POST /api/webhook-endpoints/?merchant_wallet= {url, events?,
/// description?}` -> 201 with the signing secret (shown once).
pub async fn create_webhook(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let mut q = QueryInput::new(&cx.req.query);
    let wanted = q.get("merchant_wallet").map(str::to_string);
    q.finish()?;
    let store = target_store(&cx, wanted.as_deref()).await?;
    let e = create_endpoint(cx.app, &store.id, &cx.req.body).await?;
    Ok(envelope(
        201,
        e.to_json_with_secret(),
        "Webhook endpoint created",
        cx.now(),
    ))
}

/// `PUT /api/webhook-endpoints/{id}/ {url?, events?, description?}`.
pub async fn update_webhook(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let id = cx.param("id").to_string();
    for s in caller_stores(&cx).await? {
        match update_endpoint(cx.app, &s.id, &id, &cx.req.body).await {
            Err(e) if e.code == ErrorCode::NotFound => continue,
            Err(e) => return Err(e),
            Ok(e) => {
                return Ok(envelope(
                    200,
                    e.to_json(),
                    "Webhook endpoint updated",
                    cx.now(),
                ))
            }
        }
    }
    Err(ApiError::not_found("webhook endpoint"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_link_like_the_seed() {
        let items: Vec<Value> = (0..150).map(|i| json!(i)).collect();
        let p = Paging {
            page: 2,
            size: 50,
            sent_size: false,
        };
        let v = paginate("/api/payment-orders/", items.clone(), &p);
        assert_eq!(v["count"], 150);
        assert_eq!(v["next"], "/api/payment-orders/?page=3");
        assert_eq!(v["previous"], "/api/payment-orders/?page=1");
        assert_eq!(v["results"][0], 50);
        assert_eq!(v["results"].as_array().unwrap().len(), 50);
        let p = Paging {
            page: 3,
            size: 50,
            sent_size: true,
        };
        let v = paginate("/api/x/", items, &p);
        assert_eq!(v["next"], Value::Null);
        assert_eq!(v["previous"], "/api/x/?page=2&page_size=50");
    }
}
