//! The caller pipeline every endpoint goes through, on Lambda and locally,
//! after the router (`crate::router`) matched the route and read the body:
//! authentication (one read for the key and the idempotency record), key
//! kind, store allowlist, rate limit, idempotent replay, the handler and
//! the error envelope. Request ids, CORS, the log line and panics are the
//! tower-http layers around it (`crate::edge`).

use crate::account::ApiKeyRecord;
use crate::app::App;
use crate::auth::{hash_key, key_from_headers, IpAllowlist, KeyKind};
use crate::clock::rfc3339;
use crate::error::{ApiError, ErrorCode};
use crate::http::{Request, Response};
use crate::ids::{new_id, IdKind};
use crate::records::from_item;
use crate::routes::{Auth, Route};
use crate::schema;
use crate::store::Store;
use crate::table::{Cond, Item, Key, TxOp, Update};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The handler's types, where code written before they moved to
/// `crate::handlers::ctx` looks for them.
pub use crate::handlers::ctx::{Ctx, HandlerFn, IdempotencyLease, Principal};

/// Run `route`'s handler for `req` (its path parameters in `params`)
/// through the pipeline. Errors answer in the error shape of the path's
/// face; the caller's key id goes into the request's log span.
pub async fn run(
    app: &App,
    route: &'static Route,
    params: BTreeMap<String, String>,
    req: Request,
) -> Response {
    let request_id = crate::edge::request_id(&req.headers);
    let path = req.path.clone();
    let mut key_id = None;
    let response = match pipeline(app, route, params, req, &request_id, &mut key_id).await {
        Ok(r) => r,
        Err(e) => crate::faces::error_response(&path, &e, app.now()),
    };
    if let Some(key_id) = &key_id {
        tracing::Span::current().record("key_id", key_id.as_str());
    }
    response
}

/// The `X-RateLimit-*` headers of a counted call.
pub struct RateInfo {
    headers: Vec<(String, String)>,
}

async fn pipeline(
    app: &App,
    route: &'static Route,
    params: BTreeMap<String, String>,
    req: Request,
    request_id: &str,
    key_id_out: &mut Option<String>,
) -> Result<Response, ApiError> {
    let secret = key_from_headers(&req.headers).map_err(ApiError::unauthenticated)?;
    if secret.is_none() && route.auth != Auth::Public {
        return Err(ApiError::unauthenticated(
            "missing API key: send `Authorization: Bearer <key>`, `Authorization: Basic base64(<key>:)` or `Api-Key: <key>`",
        ));
    }
    let Some(secret) = secret.filter(|_| route.auth != Auth::Public) else {
        let cx = Ctx {
            app,
            req,
            params,
            principal: None,
            request_id: request_id.to_string(),
            idempotency: None,
        };
        return (route.handler)(cx).await;
    };

    // One read: the key and (for POST with Idempotency-Key) the earlier response.
    let hash = hash_key(&secret);
    let idem = idempotency_key(&req)?;
    let mut keys = vec![schema::api_key(&hash)];
    if let Some(k) = &idem {
        keys.push(schema::idempotency(&hash, k));
    }
    let mut found = app.table.get_many(&keys).await?.into_iter();
    let key_item = found
        .next()
        .flatten()
        .ok_or_else(|| ApiError::unauthenticated("invalid API key"))?;
    let mut key: ApiKeyRecord = from_item(key_item)?;
    *key_id_out = Some(key.id.clone());
    act_on_store(app, &req, route.auth, &mut key).await?;
    let earlier = found.next().flatten();

    let principal = admit(app, key, route.auth, req.source_ip).await?;
    let rate = rate_limit(app, &principal.key.id).await?;

    let mut lease = None;
    if let Some(k) = &idem {
        let record = schema::idempotency(&hash, k);
        match claim_idempotency(app, record, earlier, &request_fingerprint(&req)).await? {
            Claim::Replay(resp) => return Ok(resp.with_rate(&rate)),
            Claim::Run(held) => lease = Some(held),
        }
    }

    let cx = Ctx {
        app,
        req,
        params,
        principal: Some(principal),
        request_id: request_id.to_string(),
        idempotency: lease.clone(),
    };
    let path = cx.req.path.clone();
    let result = (route.handler)(cx).await;
    let response = match &result {
        Ok(r) => r.clone(),
        Err(e) => crate::faces::error_response(&path, e, app.now()),
    };
    if let Some(lease) = &lease {
        finish(lease, app, &response).await;
    }
    Ok(response.with_rate(&rate))
}

/// The caller behind a key, admitted to a route of `auth`: the key's kind
/// fits, the key's IP allowlist and (for a store key) its store's allow
/// `source_ip`. REST and the WebSocket protocol both admit callers here.
/// These checks come before the rate-limit counter: a call refused by an
/// allowlist does not use up the key's limit.
pub async fn admit(
    app: &App,
    key: ApiKeyRecord,
    auth: Auth,
    source_ip: Option<IpAddr>,
) -> Result<Principal, ApiError> {
    match (auth, key.kind) {
        (Auth::Account, KeyKind::Store) => {
            return Err(ApiError::forbidden(
                "this endpoint needs an account API key; store keys act only on their store",
            ))
        }
        (Auth::Store, KeyKind::Account) => return Err(ApiError::forbidden(
            "this endpoint needs a store API key; create one with POST /v1/stores/{id}/api-keys",
        )),
        _ => {}
    }
    check_key_ip(&key, source_ip)?;
    let store = match &key.store_id {
        Some(id) => match app.table.get(&schema::store(id)).await? {
            Some(item) => Some(from_item::<Store>(item)?),
            None => {
                return Err(ApiError::unauthenticated(
                    "invalid API key: its store no longer exists",
                ))
            }
        },
        None => None,
    };
    if let Some(s) = &store {
        let list = IpAllowlist::parse(&s.api_allowed_ips).unwrap_or_default();
        if !list.allows(source_ip) {
            return Err(ApiError::forbidden(format!(
                "store {} does not accept API calls from {}",
                s.id,
                shown(source_ip)
            )));
        }
    }
    Ok(Principal { key, store })
}

/// 403 unless the key's IP allowlist allows `source_ip`.
pub fn check_key_ip(key: &ApiKeyRecord, source_ip: Option<IpAddr>) -> Result<(), ApiError> {
    let allowlist = IpAllowlist::parse(&key.allowed_ips).unwrap_or_default();
    if allowlist.allows(source_ip) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "this API key may not be used from {}",
            shown(source_ip)
        )))
    }
}

fn shown(ip: Option<IpAddr>) -> String {
    ip.map(|i| i.to_string())
        .unwrap_or_else(|| "an unknown address".into())
}

/// The header with which a session (a user logged in, e.g. the dashboard)
/// names the store a store-level endpoint acts on.
pub const ACT_ON_STORE_HEADER: &str = "x-satsgate-store";

/// A session key of a store's account may call a store-level route for that
/// store by naming it in `X-Satsgate-Store`: for this request it acts as a
/// store key of that store (its IP allowlist and rate limit still apply).
/// Honoured only for session keys (never plain account keys) and only on
/// store-level routes; a store of another account is 404.
async fn act_on_store(
    app: &App,
    req: &Request,
    auth: Auth,
    key: &mut ApiKeyRecord,
) -> Result<(), ApiError> {
    let Some(store_id) = req.header(ACT_ON_STORE_HEADER) else {
        return Ok(());
    };
    if auth != Auth::Store || key.user_id.is_none() || key.kind != KeyKind::Account {
        return Ok(());
    }
    let store: Option<Store> = match app.table.get(&schema::store(store_id)).await? {
        Some(item) => Some(from_item(item)?),
        None => None,
    };
    match store {
        Some(s) if s.account_id == key.account_id => {
            key.kind = KeyKind::Store;
            key.store_id = Some(s.id);
            Ok(())
        }
        _ => Err(ApiError::not_found("store")),
    }
}

fn in_progress() -> ApiError {
    ApiError::new(
        409,
        ErrorCode::Conflict,
        "a request with this Idempotency-Key is still being processed; retry in a moment",
    )
}

/// The `Idempotency-Key` of a POST, validated.
fn idempotency_key(req: &Request) -> Result<Option<String>, ApiError> {
    if req.method != http::Method::POST {
        return Ok(None);
    }
    let Some(v) = req.headers.get("idempotency-key") else {
        return Ok(None);
    };
    let v = v.to_str().unwrap_or("").trim();
    if v.is_empty() || v.len() > 255 || !v.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err(ApiError::field(
            "Idempotency-Key",
            "must be 1 to 255 printable ASCII characters without spaces",
        ));
    }
    Ok(Some(v.to_string()))
}

/// What makes two requests "the same": method, path and body.
pub fn request_fingerprint(req: &Request) -> String {
    let mut h = Sha256::new();
    h.update(req.method.as_str().as_bytes());
    h.update(b" ");
    h.update(req.path.as_bytes());
    h.update(b"\n");
    h.update(&req.body);
    hex::encode(h.finalize())
}

/// The longest an API request runs: the largest `Timeout` of an API
/// function in template.yaml (the webhook test sends for up to 10 s).
pub const MAX_REQUEST_SECS: i64 = 15;
/// How long a request holds its `Idempotency-Key` while it runs: the request
/// timeout plus a margin for clock skew and the final write. A request that
/// crashed (or whose Lambda timed out) without answering frees the key when
/// the lease ends: a retry then runs again, unless the effect committed, in
/// which case the answer was stored with it and is replayed.
pub const IDEMPOTENCY_LEASE_SECS: i64 = MAX_REQUEST_SECS + 45;
/// Finished answers (and abandoned leases) are kept this long.
pub const IDEMPOTENCY_KEEP_SECS: i64 = 24 * 3600;

/// After the handler: store the answer, or free the key after a 5xx
/// (not applied: a retry runs again). Only while the lease is ours.
async fn finish(lease: &IdempotencyLease, app: &App, response: &Response) {
    let result = if response.status >= 500 {
        app.table
            .delete(&lease.record, Some(lease.held()))
            .await
            .map(|_| ())
    } else {
        match lease.answer_op(response) {
            TxOp::Update { key, update, cond } => {
                app.table.update(&key, update, cond).await.map(|_| ())
            }
            _ => unreachable!("answer_op is an update"),
        }
    };
    match result {
        Err(e) if e.is_condition_failed() => {
            tracing::warn!("idempotency lease was taken over by a retry; answer not stored")
        }
        Err(e) => tracing::error!(error = %e, "saving idempotent response"),
        Ok(()) => {}
    }
}

/// What the record of a request's `Idempotency-Key` says to do.
enum Claim {
    /// Answer with the stored response.
    Replay(Response),
    /// Run the request, holding this lease.
    Run(IdempotencyLease),
}

/// The record a request writes when it takes its key's lease (what a
/// request that crashes leaves behind).
pub fn lease_update(fingerprint: &str, token: &str, now: i64) -> Update {
    Update::new()
        .set("state", "pending")
        .set("fingerprint", fingerprint)
        .set("token", token)
        .set("lease_until", now + IDEMPOTENCY_LEASE_SECS)
        .set(schema::TTL, now + IDEMPOTENCY_KEEP_SECS)
}

/// Take the key's lease (a fresh key, or one whose holder's lease ended), or
/// replay its answer, or 409 while another attempt holds it.
async fn claim_idempotency(
    app: &App,
    record: Key,
    mut current: Option<Item>,
    fingerprint: &str,
) -> Result<Claim, ApiError> {
    for _ in 0..3 {
        let now = app.now().unix_timestamp();
        let cond = match &current {
            None => Cond::NotExists,
            Some(item) => {
                if let Some(resp) = replay(Some(item.clone()), fingerprint, now)? {
                    return Ok(Claim::Replay(resp));
                }
                // The lease ended: take it over, unless another retry just did.
                match item.get("token") {
                    Some(t) => Cond::Eq("token".into(), t.clone()),
                    None => Cond::And(vec![Cond::Exists, Cond::AttrNotExists("token".into())]),
                }
            }
        };
        let token = new_id(IdKind::Request);
        let update = lease_update(fingerprint, &token, now);
        match app.table.update(&record, update, Some(cond)).await {
            Ok(_) => return Ok(Claim::Run(IdempotencyLease { record, token })),
            Err(e) if e.is_condition_failed() => current = app.table.get(&record).await?,
            Err(e) => return Err(e.into()),
        }
    }
    Err(in_progress())
}

/// The stored response for a repeated idempotency key, if finished; None
/// when its last attempt's lease ended without an answer (run it again).
fn replay(record: Option<Item>, fingerprint: &str, now: i64) -> Result<Option<Response>, ApiError> {
    let Some(r) = record else { return Ok(None) };
    if r.get("fingerprint").and_then(Value::as_str) != Some(fingerprint) {
        return Err(ApiError::new(
            409,
            ErrorCode::IdempotencyConflict,
            "this Idempotency-Key was already used with a different request; use a new key for a new request",
        ));
    }
    if r.get("state").and_then(Value::as_str) != Some("done") {
        // Records written before leases existed have none: ended.
        let lease_until = r.get("lease_until").and_then(Value::as_i64).unwrap_or(0);
        return if now < lease_until {
            Err(in_progress())
        } else {
            Ok(None)
        };
    }
    let status = r.get("status").and_then(Value::as_u64).unwrap_or(200) as u16;
    let ct = r
        .get("content_type")
        .and_then(Value::as_str)
        .unwrap_or("application/json");
    let body = r.get("body").and_then(Value::as_str).unwrap_or("");
    let mut resp = if ct == "application/json" {
        Response::json(status, serde_json::from_str(body).unwrap_or(Value::Null))
    } else if body.is_empty() {
        Response {
            status,
            headers: vec![],
            body: crate::http::Body::Empty,
        }
    } else {
        Response::raw(status, ct, body.to_string())
    };
    if let Some(Value::Array(hs)) = r.get("headers") {
        for h in hs {
            if let (Some(k), Some(v)) = (
                h.get(0).and_then(Value::as_str),
                h.get(1).and_then(Value::as_str),
            ) {
                resp.headers.push((k.to_string(), v.to_string()));
            }
        }
    }
    resp.headers
        .push(("Idempotent-Replayed".into(), "true".into()));
    Ok(Some(resp))
}

/// Count this call in the key's current one-minute window: 429 past the
/// limit (REST and the WebSocket protocol count alike).
pub async fn rate_limit(app: &App, key_id: &str) -> Result<RateInfo, ApiError> {
    let now = app.now().unix_timestamp();
    let minute = now / 60;
    let reset = (minute + 1) * 60;
    let count = app.rate_counter.hit(key_id, minute).await?;
    let limit = app.config.rate_limit_per_minute;
    let headers = vec![
        ("X-RateLimit-Limit".into(), limit.to_string()),
        (
            "X-RateLimit-Remaining".into(),
            limit.saturating_sub(count).to_string(),
        ),
        ("X-RateLimit-Reset".into(), reset.to_string()),
    ];
    let info = RateInfo { headers };
    if count > limit {
        let mut e = ApiError::new(
            429,
            ErrorCode::RateLimited,
            format!(
                "rate limit of {limit} requests per minute reached; retry after {}s",
                reset - now
            ),
        )
        .with_header("Retry-After", (reset - now).max(1).to_string());
        e.headers.extend(info.headers.iter().cloned());
        return Err(e);
    }
    Ok(info)
}

trait WithRate {
    fn with_rate(self, rate: &RateInfo) -> Self;
}

impl WithRate for Response {
    fn with_rate(mut self, rate: &RateInfo) -> Self {
        self.headers
            .retain(|(k, _)| !k.to_ascii_lowercase().starts_with("x-ratelimit-"));
        self.headers.extend(rate.headers.iter().cloned());
        self
    }
}

impl WithRate for ApiError {
    fn with_rate(mut self, rate: &RateInfo) -> Self {
        self.headers.extend(rate.headers.iter().cloned());
        self
    }
}

/// A resource time stamp.
pub fn now_string(app: &App) -> String {
    rfc3339(app.now())
}
