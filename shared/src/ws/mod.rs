//! The WebSocket protocol (API.md "WebSocket", seed 000), shared by
//! satsgate-local's sockets and the API Gateway WebSocket Lambdas.
//!
//! - `authenticate`: the optional key sent on connect (`Authorization:
//!   Bearer <key>` or `?token=<key>`); a bad key refuses the connection.
//! - `handle_text`: one text frame -> one reply (`{"status": "success",
//!   "data"|"message": ...}` or `{"status": "error", "message"}`) and, for
//!   `subscribe`/`unsubscribe`, the subscription change the transport
//!   applies. Errors never close the socket.
//! - `event_frame` / `event_topics`: which stored events are pushed, in
//!   what shape, to which subscriptions (the `Push` adapters use them).
//!
//! Subscriptions are topics: `invoice#<id>`, `address#<address>`,
//! `store#<store id>`, `account#<account id>` and `prices#all` (only
//! connections that sent `{"action": "subscribe", "type": "prices"}` get
//! `price.updated`: no frame arrives that was not asked for).
//! A client's `account` subscription with a store key (id = its store id
//! or its account id) is the store's topic; with an account key, id = the
//! account id is the whole account, id = one of its stores that store.

pub mod aws;
pub mod seed;

use crate::account::ApiKeyRecord;
use crate::app::App;
use crate::auth::{hash_key, key_from_headers, KeyKind};
use crate::error::ApiError;
use crate::events::{Event, EventKind};
use crate::handlers::ctx::Principal;
use crate::invoice::Invoice;
use crate::records::from_item;
use crate::routes::Auth;
use crate::schema;
use crate::table::Table;
use serde_json::{json, Map, Value};
use std::net::IpAddr;

/// Actions a client may send.
pub const ACTIONS: [&str; 8] = [
    "ping",
    "convert_price",
    "list_prices",
    "create_invoice",
    "fetch_invoice",
    "cancel_invoice",
    "subscribe",
    "unsubscribe",
];

/// Largest text frame accepted (API Gateway's limit is 128 KiB too).
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Subscriptions one connection may hold, `prices#all` not counted (on API
/// Gateway; satsgate-local's default, changed by
/// `SATSGATE_WS_MAX_SUBSCRIPTIONS`).
pub const MAX_SUBSCRIPTIONS: usize = 100;

/// The error reply text past the subscription cap.
pub fn subscription_limit(max: usize) -> String {
    format!("subscription limit reached: at most {max} per connection; unsubscribe from one first")
}

/// What a connection may be told about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    Invoice(String),
    Address(String),
    Store(String),
    Account(String),
    Prices,
}

impl Topic {
    /// The topic's key (`invoice#inv_...`); subscription items on AWS are
    /// `WSSUB#<key>`.
    pub fn key(&self) -> String {
        match self {
            Topic::Invoice(id) => format!("invoice#{id}"),
            Topic::Address(a) => format!("address#{a}"),
            Topic::Store(id) => format!("store#{id}"),
            Topic::Account(id) => format!("account#{id}"),
            Topic::Prices => "prices#all".into(),
        }
    }
}

/// Who is on the other end of a connection.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// The key sent on connect, if any (re-read on AWS for every message,
    /// so a deleted key stops working).
    pub key: Option<ApiKeyRecord>,
    pub source_ip: Option<IpAddr>,
}

/// A subscription change to apply after `handle_text`.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Subscribe(Topic),
    Unsubscribe(Topic),
}

/// The answer to one frame.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub reply: Value,
    pub effect: Option<Effect>,
}

impl Outcome {
    fn reply(reply: Value) -> Outcome {
        Outcome {
            reply,
            effect: None,
        }
    }
}

/// `{"status": "success", "data": ...}`.
pub fn success(data: Value) -> Value {
    json!({"status": "success", "data": data})
}

/// `{"status": "success", "message": ...}`.
pub fn success_message(message: impl Into<String>) -> Value {
    json!({"status": "success", "message": message.into()})
}

/// `{"status": "error", "message": ...}`.
pub fn error(message: impl Into<String>) -> Value {
    json!({"status": "error", "message": message.into()})
}

/// An API error as one message: `<message> (field: problem; ...)`.
pub fn error_text(e: &ApiError) -> String {
    if e.details.is_empty() {
        return e.message.clone();
    }
    let parts: Vec<String> = e
        .details
        .iter()
        .map(|(field, msgs)| format!("{field}: {}", msgs.join(", ")))
        .collect();
    format!("{} ({})", e.message, parts.join("; "))
}

/// The key of a connection request: the `Authorization` / `Api-Key`
/// header, else the `token` query parameter. Ok(None) when none was sent.
pub fn credentials(
    headers: &http::HeaderMap,
    query: &[(String, String)],
) -> Result<Option<String>, String> {
    if let Some(k) = key_from_headers(headers)? {
        return Ok(Some(k));
    }
    match query.iter().find(|(k, _)| k == "token") {
        Some((_, v)) if !v.trim().is_empty() => Ok(Some(v.trim().to_string())),
        Some(_) => Err("`token` is empty".into()),
        None => Ok(None),
    }
}

/// The key record stored under this key hash (401 when there is none).
pub async fn load_key(table: &dyn Table, hash: &str) -> Result<ApiKeyRecord, ApiError> {
    let item = table
        .get(&schema::api_key(hash))
        .await?
        .ok_or_else(|| ApiError::unauthenticated("invalid API key"))?;
    from_item(item)
}

/// The session of a new connection: keyless, or the key's record when the
/// key exists and may be used from `source_ip`. Err refuses the connection.
pub async fn authenticate(
    app: &App,
    secret: Option<&str>,
    source_ip: Option<IpAddr>,
) -> Result<Session, ApiError> {
    let Some(secret) = secret else {
        return Ok(Session {
            key: None,
            source_ip,
        });
    };
    let key = load_key(&*app.table, &hash_key(secret)).await?;
    crate::dispatch::check_key_ip(&key, source_ip)?;
    Ok(Session {
        key: Some(key),
        source_ip,
    })
}

type Fields = Map<String, Value>;

fn field<'a>(m: &'a Fields, name: &str) -> Result<&'a Value, String> {
    match m.get(name) {
        None | Some(Value::Null) => Err(format!("missing field `{name}`")),
        Some(v) => Ok(v),
    }
}

/// A string field (numbers are taken as their text: seed clients send
/// `account_id: 1`).
fn text(m: &Fields, name: &str, max: usize) -> Result<String, String> {
    let s = match field(m, name)? {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        other => {
            return Err(format!(
                "`{name}` must be a string, not {}",
                crate::request::json_type(other)
            ))
        }
    };
    if s.is_empty() {
        return Err(format!("`{name}` must not be empty"));
    }
    if s.len() > max {
        return Err(format!("`{name}` must be at most {max} characters"));
    }
    Ok(s)
}

/// Handle one text frame. Never fails: every problem is an error reply.
pub async fn handle_text(app: &App, session: &Session, frame: &str) -> Outcome {
    if frame.len() > MAX_FRAME_BYTES {
        return Outcome::reply(error(format!(
            "message is larger than {MAX_FRAME_BYTES} bytes"
        )));
    }
    let m = match serde_json::from_str::<Value>(frame) {
        Ok(Value::Object(m)) => m,
        Ok(_) => {
            return Outcome::reply(error(
                "invalid request format: send a JSON object like {\"action\": \"ping\"}",
            ))
        }
        Err(e) => return Outcome::reply(error(format!("malformed JSON: {e}"))),
    };
    let action = match m.get("action") {
        Some(Value::String(a)) => a.clone(),
        Some(_) => return Outcome::reply(error("`action` must be a string")),
        None => {
            return Outcome::reply(error(format!(
                "missing field `action`; one of: {}",
                ACTIONS.join(", ")
            )))
        }
    };
    let result = match action.as_str() {
        "ping" => Ok(Outcome::reply(
            json!({"type": "pong", "status": "success", "timestamp": app.now().unix_timestamp()}),
        )),
        "convert_price" => convert_price(app, &m).await.map(Outcome::reply),
        "list_prices" => list_prices(app).await.map(Outcome::reply),
        "create_invoice" => create_invoice(app, session, &m).await.map(Outcome::reply),
        "fetch_invoice" => fetch_invoice(app, session, &m).await.map(Outcome::reply),
        "cancel_invoice" => cancel_invoice(app, session, &m).await.map(Outcome::reply),
        "subscribe" | "unsubscribe" => subscription(app, session, &m, action == "subscribe").await,
        other => {
            let shown: String = other.chars().take(40).collect();
            Err(format!(
                "unknown action `{shown}`; one of: {}",
                ACTIONS.join(", ")
            ))
        }
    };
    let mut out = result.unwrap_or_else(|msg| Outcome::reply(error(msg)));
    out.reply["action"] = Value::String(action.chars().take(40).collect());
    out
}

async fn convert_price(app: &App, m: &Fields) -> Result<Value, String> {
    use crate::prices::rates::{convert, parse_currency};
    let quote = text(m, "quote_currency", 16)?;
    let base = text(m, "base_currency", 16)?;
    let amount = crate::money::decimal_from_json(field(m, "quote_value")?)
        .map_err(|e| format!("`quote_value` {e}"))?;
    let from = parse_currency(app, &quote).map_err(|e| format!("`quote_currency`: {e}"))?;
    let to = parse_currency(app, &base).map_err(|e| format!("`base_currency`: {e}"))?;
    let conversion = convert(app, from, to, amount).await.map_err(|mut e| {
        // The REST names (`from`, `to`, `amount`) as the seed's fields.
        e.details = std::mem::take(&mut e.details)
            .into_iter()
            .map(|(k, v)| {
                let k = match k.as_str() {
                    "from" => "quote_currency".to_string(),
                    "to" => "base_currency".to_string(),
                    "amount" => "quote_value".to_string(),
                    _ => k,
                };
                (k, v)
            })
            .collect();
        error_text(&e)
    })?;
    Ok(success(seed::conversion(&conversion.to_json())))
}

async fn list_prices(app: &App) -> Result<Value, String> {
    let rates = crate::prices::rates::fresh_rates(app)
        .await
        .map_err(|e| error_text(&e.into()))?;
    let list: Vec<Value> = rates
        .iter()
        .map(|r| seed::price(&r.to_price_json()))
        .collect();
    Ok(success(Value::Array(list)))
}

fn needs_key(action: &str) -> String {
    format!(
        "{action} needs an API key: connect with `Authorization: Bearer <key>` or `?token=<key>`"
    )
}

/// Count one keyed call in the key's rate-limit window (the REST
/// pipeline's counter).
async fn rate_limit(app: &App, key: &ApiKeyRecord) -> Result<(), String> {
    crate::dispatch::rate_limit(app, &key.id)
        .await
        .map(|_| ())
        .map_err(|e| error_text(&e))
}

/// The connection's store key, admitted as the REST pipeline admits a
/// caller of a store-level route (key kind, the key's and the store's IP
/// allowlists), then counted in the key's rate limit.
async fn store_caller(app: &App, session: &Session, action: &str) -> Result<Principal, String> {
    let key = session.key.clone().ok_or_else(|| needs_key(action))?;
    let caller = crate::dispatch::admit(app, key, Auth::Store, session.source_ip)
        .await
        .map_err(|e| error_text(&e))?;
    rate_limit(app, &caller.key).await?;
    Ok(caller)
}

/// `create_invoice`: the use case of `POST /v1/invoices` for the
/// connection's store; `account_id` (seed clients send `1`) is accepted
/// and ignored: the key decides the store. -> `data: {invoice: <seed invoice>}`.
async fn create_invoice(app: &App, session: &Session, m: &Fields) -> Result<Value, String> {
    let caller = store_caller(app, session, "create_invoice").await?;
    let store = caller.store.ok_or_else(|| needs_key("create_invoice"))?;
    let mut body = m.clone();
    body.remove("action");
    body.remove("account_id");
    let body = Value::Object(body).to_string();
    let new = crate::handlers::invoices::parse_new_invoice(
        body.as_bytes(),
        app.config.allow_insecure_urls,
    )
    .await
    .map_err(|e| error_text(&e))?;
    let inv = crate::handlers::invoices::create_invoice(app, &store, new, None)
        .await
        .map_err(|e| error_text(&e))?;
    let inv = inv.to_json(&app.config.public_url);
    Ok(success(json!({"invoice": seed::invoice(&inv)})))
}

/// `cancel_invoice {uid}`: the use case of `POST /v1/invoices/{uid}/cancel`
/// for the connection's store (through the same caller checks) -> `data: {invoice: <seed invoice>}`.
async fn cancel_invoice(app: &App, session: &Session, m: &Fields) -> Result<Value, String> {
    let uid = text(m, "uid", 64)?;
    if !uid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!("invoice {uid} not found"));
    }
    let caller = store_caller(app, session, "cancel_invoice").await?;
    let store = caller.store.ok_or_else(|| needs_key("cancel_invoice"))?;
    let cancel = crate::invoice::lifecycle::Input::Cancel { comment: None };
    let inv = crate::invoice::repo::apply_input(app, &store.id, &uid, cancel)
        .await
        .map_err(|e| error_text(&e.into()))?;
    let inv = inv.to_json(&app.config.public_url);
    Ok(success(json!({"invoice": seed::invoice(&inv)})))
}

/// `fetch_invoice {id}`: without a key any invoice by exact id (the public
/// fields the checkout page shows); with a key only its store's (store
/// key) or its account's (account key) invoices.
async fn fetch_invoice(app: &App, session: &Session, m: &Fields) -> Result<Value, String> {
    let id = text(m, "id", 64)?;
    let not_found = || format!("invoice {id} not found");
    let item = app
        .table
        .get(&schema::invoice(&id))
        .await
        .map_err(|e| error_text(&e.into()))?;
    let inv: Invoice = from_item(item.ok_or_else(not_found)?).map_err(|e| error_text(&e))?;
    if let Some(key) = &session.key {
        rate_limit(app, key).await?;
        let visible = match &key.store_id {
            Some(s) => *s == inv.store_id,
            None => {
                store_account(&*app.table, &inv.store_id).await.as_deref()
                    == Some(key.account_id.as_str())
            }
        };
        if !visible {
            return Err(not_found());
        }
    }
    Ok(success(seed::invoice(&inv.to_json(&app.config.public_url))))
}

/// The account of a store, if the store exists.
async fn store_account(table: &dyn Table, store_id: &str) -> Option<String> {
    let item = table.get(&schema::store(store_id)).await.ok()??;
    item.get("account_id")
        .and_then(Value::as_str)
        .map(str::to_string)
}

async fn subscription(
    app: &App,
    session: &Session,
    m: &Fields,
    subscribe: bool,
) -> Result<Outcome, String> {
    let kind = text(m, "type", 16)?;
    if kind == "prices" {
        // `price.updated` only for connections that ask; `id` is optional.
        let (reply, effect) = if subscribe {
            ("Subscribed to prices", Effect::Subscribe(Topic::Prices))
        } else {
            (
                "Unsubscribed from prices",
                Effect::Unsubscribe(Topic::Prices),
            )
        };
        return Ok(Outcome {
            reply: success_message(reply),
            effect: Some(effect),
        });
    }
    let id = text(m, "id", 128)?;
    let topic = match kind.as_str() {
        "invoice" => Topic::Invoice(id.clone()),
        "address" => Topic::Address(id.clone()),
        "account" => {
            let key = session.key.as_ref().ok_or_else(|| {
                "`account` subscriptions need an API key; without one, subscribe to an `invoice` or `address` by id"
                    .to_string()
            })?;
            match (&key.store_id, key.kind) {
                (Some(store), _) if id == *store || id == key.account_id => {
                    Topic::Store(store.clone())
                }
                (Some(store), _) => {
                    return Err(format!(
                        "a store key may subscribe to its own store only: `account` {store}"
                    ))
                }
                (None, KeyKind::Account) | (None, KeyKind::Store) if id == key.account_id => {
                    Topic::Account(id.clone())
                }
                (None, _) => {
                    if store_account(&*app.table, &id).await.as_deref()
                        == Some(key.account_id.as_str())
                    {
                        Topic::Store(id.clone())
                    } else {
                        return Err(format!("account {id} not found"));
                    }
                }
            }
        }
        other => {
            let shown: String = other.chars().take(16).collect();
            return Err(format!(
                "unknown subscription type `{shown}`; use invoice, account, address or prices"
            ));
        }
    };
    Ok(if subscribe {
        Outcome {
            reply: success_message(format!("Subscribed to {kind} {id}")),
            effect: Some(Effect::Subscribe(topic)),
        }
    } else {
        Outcome {
            reply: success_message(format!("Unsubscribed from {kind} {id}")),
            effect: Some(Effect::Unsubscribe(topic)),
        }
    })
}

/// The frame pushed for a stored event, or None when the event is not
/// pushed. `invoice.updated` (written with every status change) is the one
/// status push; `invoice.paid`/`completed`/`expired`/... are webhook-only,
/// so one change is pushed once. `payment.confirmed`/`refunded` are not
/// pushed (their status effect arrives as `invoice.updated`).
pub fn event_frame(event: &Event) -> Option<Value> {
    let inv = &event.data["invoice"];
    let data = match event.kind {
        EventKind::InvoiceCreated => seed::invoice(inv),
        EventKind::InvoiceUpdated => json!({
            "id": inv["id"],
            "status": seed::status_word(&inv["status"]),
            "state": inv["status"],
            "updated_at": inv["updated_at"],
        }),
        EventKind::PaymentReceived => seed::payment(&event.data["payment"], inv),
        EventKind::PriceUpdated => {
            let prices = event.data["prices"].as_array().cloned().unwrap_or_default();
            json!({"prices": prices.iter().map(seed::price).collect::<Vec<_>>()})
        }
        _ => return None,
    };
    Some(json!({"type": event.kind, "data": data}))
}

/// The topics an event is pushed to: price events to `prices#all`;
/// invoice events to the invoice, its address, its store and its account.
pub async fn event_topics(table: &dyn Table, event: &Event) -> Vec<Topic> {
    if event.store_id == crate::prices::poller::PRICE_EVENTS_STORE {
        return vec![Topic::Prices];
    }
    let mut topics = vec![Topic::Store(event.store_id.clone())];
    if let Some(id) = &event.invoice_id {
        topics.push(Topic::Invoice(id.clone()));
    }
    if let Some(a) = event.data["invoice"]["address"].as_str() {
        topics.push(Topic::Address(a.to_string()));
    }
    if let Some(account) = store_account(table, &event.store_id).await {
        topics.push(Topic::Account(account));
    }
    topics
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_are_answered_and_errors_keep_the_shape() {
        let app = App::in_memory();
        let s = Session::default();
        let r = handle_text(&app, &s, "{nope").await;
        assert_eq!(r.reply["status"], "error");
        assert!(r.reply["message"]
            .as_str()
            .unwrap()
            .contains("malformed JSON"));
        let r = handle_text(&app, &s, r#"{"action":"dance"}"#).await;
        assert!(r.reply["message"]
            .as_str()
            .unwrap()
            .contains("unknown action"));
        let r = handle_text(&app, &s, r#"{"action":"subscribe","type":"invoice"}"#).await;
        assert_eq!(r.reply["message"], "missing field `id`");
        let r = handle_text(
            &app,
            &s,
            r#"{"action":"subscribe","type":"account","id":"st_1"}"#,
        )
        .await;
        assert_eq!(r.reply["status"], "error");
        assert!(r.effect.is_none());
        let r = handle_text(
            &app,
            &s,
            r#"{"action":"subscribe","type":"invoice","id":"inv_1"}"#,
        )
        .await;
        assert_eq!(r.reply["message"], "Subscribed to invoice inv_1");
        assert_eq!(
            r.effect,
            Some(Effect::Subscribe(Topic::Invoice("inv_1".into())))
        );
        let r = handle_text(&app, &s, r#"{"action":"ping"}"#).await;
        assert_eq!(r.reply["status"], "success");
    }

    #[test]
    fn status_changes_push_once() {
        let now = time::OffsetDateTime::now_utc();
        let inv = json!({"invoice": {"id": "inv_1", "status": "pending", "updated_at": "t"}});
        let e = Event::new(
            EventKind::InvoiceUpdated,
            "st_1",
            Some("inv_1"),
            inv.clone(),
            now,
        );
        let f = event_frame(&e).unwrap();
        assert_eq!(f["data"]["status"], "paid");
        assert_eq!(f["data"]["state"], "pending");
        assert!(event_frame(&Event::new(
            EventKind::InvoicePaid,
            "st_1",
            Some("inv_1"),
            inv,
            now
        ))
        .is_none());
    }
}
