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

use crate::error::{ApiError, ErrorCode, FieldErrors};
use crate::handlers::ctx::Ctx;
use crate::handlers::invoices::{payment_json, NewInvoice, MAX_SORT_WINDOW};
use crate::handlers::read_all;
use crate::handlers::stores::{caller_stores, create_store, update_store};
use crate::handlers::webhooks::{create_endpoint, endpoints_page, update_endpoint};
use crate::http::Response;
use crate::invoice::{Invoice, InvoiceError, Status};
use crate::prices::rates::Currency;
use crate::records::from_item;
use crate::request::{self, json_type, Dec, Field, NonEmpty, Patch, Text, Unknown};
use crate::schema;
use crate::store::{Store, StoreRequest, StoreSettings};
use crate::table::{Index, Query};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
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

/// The `?page=&page_size=` of a list endpoint, as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    pub page: Field<String>,
    pub page_size: Field<String>,
}

impl PageQuery {
    /// The page asked for; bad values are recorded.
    fn take(self, e: &mut FieldErrors) -> Paging {
        let sent_size = self.page_size.is_sent();
        let mut num = |f: Field<String>, name: &str, max: usize, default: usize| match f
            .take(name, e)
            .map(|v| v.parse::<usize>())
        {
            None => default,
            Some(Ok(n)) if (1..=max).contains(&n) => n,
            Some(_) => {
                e.add(name, format!("must be a whole number from 1 to {max}"));
                default
            }
        };
        Paging {
            page: num(self.page, "page", usize::MAX, 1),
            size: num(
                self.page_size,
                "page_size",
                MAX_PAGE_SIZE,
                DEFAULT_PAGE_SIZE,
            ),
            sent_size,
        }
    }
}

/// The query of `GET /api/payment-orders/`: paging and a status word.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OrdersQuery {
    pub status: Field<String>,
    #[serde(flatten)]
    pub page: PageQuery,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// The paging of a list that takes nothing else.
fn paging(cx: &Ctx<'_>) -> Result<Paging, ApiError> {
    request::ListQuery::<PageQuery>::parse(&cx.req.query, PageQuery::take)
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

/// A `string or number` of at most 64 characters (`nonce`), kept as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Nonce(pub Value);

impl<'de> Deserialize<'de> for Nonce {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            v @ Value::String(_) if v.as_str().is_some_and(|s| !s.is_empty() && s.len() <= 64) => {
                Ok(Nonce(v))
            }
            v @ Value::Number(_) if v.to_string().len() <= 64 => Ok(Nonce(v)),
            other => Err(serde::de::Error::custom(format!(
                "must be a string or number of at most 64 characters, got {}",
                json_type(&other)
            ))),
        }
    }
}

/// A string or an object of at most 4000 bytes (`order_info`), kept as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderInfo(pub Value);

impl<'de> Deserialize<'de> for OrderInfo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            v @ (Value::String(_) | Value::Object(_)) if v.to_string().len() <= 4000 => {
                Ok(OrderInfo(v))
            }
            _ => Err(serde::de::Error::custom(
                "must be a string or an object of at most 4000 bytes",
            )),
        }
    }
}

/// `UNSUPPORTED` for any blockchain but bitcoin.
fn unsupported_chain(blockchain: Option<&str>, now: OffsetDateTime) -> Option<Response> {
    let b = blockchain.filter(|b| *b != BLOCKCHAIN)?;
    Some(unsupported(
        "blockchain",
        format!("blockchain `{b}` is not supported yet: only `bitcoin` (EVM chains are planned)"),
        now,
    ))
}

/// The body of `POST /api/payment-orders/`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OrderBody {
    pub amount: Field<Dec>,
    pub currency: Field<NonEmpty<10>>,
    pub blockchain: Field<NonEmpty<32>>,
    pub order_info: Field<OrderInfo>,
    pub nonce: Field<Nonce>,
    pub merchant_wallet: Field<NonEmpty<64>>,
    pub description: Field<Text<1000>>,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// A checked payment order: the v1 invoice, its nonce (as text) and the
/// merchant wallet named.
struct NewOrder {
    invoice: NewInvoice,
    nonce: Option<String>,
    wallet: Option<String>,
}

impl OrderBody {
    /// The order, or the answer refusing it (`UNSUPPORTED` is a response
    /// of its own, before any other error).
    fn into_order(self, now: OffsetDateTime) -> Result<NewOrder, Result<Response, ApiError>> {
        let mut e = FieldErrors::default();
        let blockchain = self
            .blockchain
            .take("blockchain", &mut e)
            .map(|b| b.0.to_ascii_lowercase());
        let currency = self
            .currency
            .require("currency", &mut e)
            .map(|c| c.0.to_ascii_uppercase());
        if let Some(r) = unsupported_chain(blockchain.as_deref(), now) {
            return Err(Ok(r));
        }
        if let Some(c) = currency.as_deref().filter(|c| OTHER_TOKENS.contains(c)) {
            return Err(Ok(unsupported(
                "currency",
                format!("currency `{c}` is not supported yet: use BTC, or a fiat code priced in BTC (tokens need EVM support, which is planned)"),
                now,
            )));
        }
        let amount = self.amount.require("amount", &mut e).and_then(|a| {
            e.check(
                "amount",
                a.within(Decimal::ZERO, Decimal::from(1_000_000_000_000i64)),
            )
        });
        let currency = currency.and_then(|c| e.check("currency", c.parse::<Currency>()));
        let order_info = self.order_info.take("order_info", &mut e).map(|o| o.0);
        let nonce = self.nonce.take("nonce", &mut e).map(|n| n.0);
        let wallet = self
            .merchant_wallet
            .take("merchant_wallet", &mut e)
            .map(|w| w.0);
        let memo = self.description.take("description", &mut e).map(|d| d.0);
        self.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
        e.finish().map_err(Err)?;
        let nonce_text = nonce.as_ref().map(|n| match n {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let mut metadata = Map::new();
        if let Some(o) = order_info {
            metadata.insert("order_info".into(), o);
        }
        if let Some(n) = nonce {
            metadata.insert("nonce".into(), n);
        }
        Ok(NewOrder {
            invoice: NewInvoice {
                amount,
                currency,
                memo,
                order_id: nonce_text.as_ref().map(|n| format!("nonce:{n}")),
                metadata: (!metadata.is_empty()).then_some(metadata),
                ..NewInvoice::default()
            },
            nonce: nonce_text,
            wallet,
        })
    }
}

/// `POST /api/payment-orders/ {amount, currency, blockchain, order_info,
/// nonce, merchant_wallet?, description?}` -> 201 the order. A nonce is
/// single-use per merchant wallet: a repeat is refused (409 `DUPLICATE_NONCE`).
pub async fn create_order(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let now = cx.now();
    let order = match request::body::<OrderBody>(&cx.req.body)?.into_order(now) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let store = target_store(&cx, order.wallet.as_deref()).await?;
    let (new, nonce_text) = (order.invoice, order.nonce);
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
    let q: OrdersQuery = request::query(&cx.req.query)?;
    let mut e = FieldErrors::default();
    let p = q.page.take(&mut e);
    let status = q.status.take("status", &mut e);
    q.unknown.finish_query(e, Some(()))?;
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
    let p = paging(&cx)?;
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

/// The body of `POST /api/merchant-wallets/` and `PUT
/// /api/merchant-wallets/{id}/`: a v1 store body under the seed's names.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WalletBody {
    pub blockchain: Field<NonEmpty<32>>,
    pub address: Field<NonEmpty<1000>>,
    pub label: Field<NonEmpty<100>>,
    pub network: Patch<Value>,
    pub default_currency: Field<Text<8>>,
    #[serde(flatten)]
    pub unknown: Unknown,
}

impl WalletBody {
    /// The store settings (create when `network` is `None`, else update of a
    /// store on that network); errors on `wallet`/`name` are reported
    /// under the seed's names, `UNSUPPORTED` is a response of its own.
    fn into_settings(
        self,
        cx: &Ctx<'_>,
        network: Option<crate::network::Network>,
    ) -> Result<StoreSettings, Result<Response, ApiError>> {
        let mut e = FieldErrors::default();
        let blockchain = self
            .blockchain
            .take("blockchain", &mut e)
            .map(|b| b.0.to_ascii_lowercase());
        if let Some(r) = unsupported_chain(blockchain.as_deref(), cx.now()) {
            return Err(Ok(r));
        }
        if network.is_none() && blockchain.is_none() {
            e.add("blockchain", "is required (`bitcoin`)");
        }
        self.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
        e.finish().map_err(Err)?;
        let creating = network.is_none();
        let mut v1 = StoreRequest {
            name: self.label,
            wallet: self.address,
            network: match self.network {
                Patch::Clear => Patch::Keep,
                other => other,
            },
            default_currency: self.default_currency,
            ..StoreRequest::default()
        };
        if creating {
            if !v1.name.is_sent() {
                v1.name = Field::Given(NonEmpty("Bitcoin wallet".into()));
            }
            if matches!(v1.network, Patch::Keep) {
                v1.network = Patch::Set(json!("mainnet"));
            }
        }
        v1.into_settings(cx.app, network).map_err(|mut e| {
            for (from, to) in [("wallet", "address"), ("name", "label")] {
                if let Some(m) = e.details.remove(from) {
                    e.details.insert(to.into(), m);
                    e.message = e.message.replace(&format!("`{from}`"), &format!("`{to}`"));
                }
            }
            Err(e)
        })
    }
}

/// The store settings of a merchant wallet body.
fn wallet_settings(
    cx: &Ctx<'_>,
    network: Option<crate::network::Network>,
) -> Result<StoreSettings, Result<Response, ApiError>> {
    request::body::<WalletBody>(&cx.req.body)
        .map_err(Err)?
        .into_settings(cx, network)
}

/// `GET /api/merchant-wallets/`.
pub async fn list_wallets(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let p = paging(&cx)?;
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
    let p = paging(&cx)?;
    let mut items = Vec::new();
    for s in caller_stores(&cx).await? {
        let (endpoints, _) = endpoints_page(
            cx.app,
            &s.id,
            crate::request::Paging {
                limit: 100,
                cursor: None,
            },
        )
        .await?;
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

/// The query of `POST /api/webhook-endpoints/`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WalletQuery {
    pub merchant_wallet: Field<String>,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// `POST /api/webhook-endpoints/?merchant_wallet= {url, events?,
/// description?}` -> 201 with the signing secret (shown once).
pub async fn create_webhook(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let q: WalletQuery = request::query(&cx.req.query)?;
    let mut e = FieldErrors::default();
    let wanted = q.merchant_wallet.take("merchant_wallet", &mut e);
    q.unknown.finish_query(e, Some(()))?;
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
