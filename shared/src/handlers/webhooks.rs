//! Webhook endpoints and deliveries (API.md "Webhooks"). All with a store key.
//!
//! The built-in endpoint `invoice_url` stands for every invoice's own
//! `webhook_url`: `GET /v1/webhook-endpoints/invoice_url` shows it,
//! `POST /v1/webhook-endpoints/invoice_url/rotate-secret` returns the secret
//! that signs those deliveries (created on first use, shown only by that
//! call), `GET /v1/webhook-endpoints/invoice_url/deliveries` lists them.

use super::{list_body, page_of};
use crate::clock::{rfc3339, Stamp};
use crate::error::{ApiError, FieldErrors};
use crate::events::Event;
use crate::handlers::ctx::Ctx;
use crate::http::Response;
use crate::ids::{new_id, IdKind};
use crate::records::from_item;
use crate::request::{self, Field, Int, NonEmpty, Paging, Patch, Strings, Text, Unknown};
use crate::schema;
use crate::table::{Cond, Query, SortKey, Update};
use crate::webhooks::fanout::{ensure_enqueued, ensure_invoice_endpoint};
use crate::webhooks::send::{post, Outgoing};
use crate::webhooks::url::check_url;
use crate::webhooks::{
    parse_event_filters, Delivery, DeliveryStatus, Endpoint, Target, DEFAULT_PREVIOUS_SECRET_HOURS,
    INVOICE_URL_DESCRIPTION, INVOICE_URL_ENDPOINT, MAX_ENDPOINTS, TEST_EVENT_TYPE,
};
use serde::Deserialize;
use serde_json::{json, Value};

const MAX_EVENTS: usize = 50;
const MAX_DESCRIPTION: usize = 500;
const MAX_URL: usize = crate::webhooks::url::MAX_URL_LEN;

fn builtin_refusal(what: &str) -> ApiError {
    ApiError::bad_request(format!(
        "the built-in endpoint `{INVOICE_URL_ENDPOINT}` stands for each invoice's own webhook_url and cannot be {what}; set `webhook_url` on invoices instead"
    ))
}

/// Check a URL for an endpoint (https, public address); a 400 on `url`.
async fn checked_url(app: &crate::app::App, url: String) -> Result<String, ApiError> {
    check_url(&url, app.config.allow_insecure_urls)
        .await
        .map_err(|e| ApiError::field("url", e))
}

/// The event filters of `events`, checked (`parse_event_filters`).
fn take_events(events: Field<Strings<MAX_EVENTS, 64>>, e: &mut FieldErrors) -> Option<Vec<String>> {
    let Strings(events) = events.take("events", e)?;
    e.check("events", parse_event_filters(&events))
}

crate::request_schema::request_type! {
    /// The body of `POST /v1/webhook-endpoints`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct CreateEndpointRequest {
        pub url: Field<NonEmpty<MAX_URL>>,
        pub events: Field<Strings<MAX_EVENTS, 64>>,
        pub description: Field<Text<MAX_DESCRIPTION>>,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

/// A checked new endpoint (its URL not yet resolved).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEndpoint {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
}

impl TryFrom<CreateEndpointRequest> for NewEndpoint {
    type Error = ApiError;

    fn try_from(r: CreateEndpointRequest) -> Result<NewEndpoint, ApiError> {
        let mut e = FieldErrors::default();
        let url = r.url.require("url", &mut e).map(|u| u.0);
        let events = if r.events.is_sent() {
            take_events(r.events, &mut e)
        } else {
            Some(vec!["*".to_string()])
        };
        let description = r
            .description
            .take("description", &mut e)
            .map(|d| d.0)
            .filter(|d| !d.is_empty());
        r.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
        let value = url.zip(events).map(|(url, events)| NewEndpoint {
            url,
            events,
            description,
        });
        request::finish(e, value)
    }
}

crate::request_schema::request_type! {
    /// The body of `PATCH /v1/webhook-endpoints/{id}`: only the fields sent change.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct UpdateEndpointRequest {
        pub url: Field<NonEmpty<MAX_URL>>,
        pub events: Field<Strings<MAX_EVENTS, 64>>,
        /// `null` or `""` clears it.
        pub description: Patch<Text<MAX_DESCRIPTION>>,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

/// A checked endpoint change: `None` keeps a field; a `description` of
/// `Some(None)` clears it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
}

impl TryFrom<UpdateEndpointRequest> for EndpointChange {
    type Error = ApiError;

    fn try_from(r: UpdateEndpointRequest) -> Result<EndpointChange, ApiError> {
        let mut e = FieldErrors::default();
        let change = EndpointChange {
            url: r.url.take("url", &mut e).map(|u| u.0),
            events: take_events(r.events, &mut e),
            description: r
                .description
                .take("description", &mut e)
                .map(|d| d.map(|t| t.0).filter(|t| !t.is_empty())),
        };
        r.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
        e.finish()?;
        Ok(change)
    }
}

crate::request_schema::request_type! {
    /// The body of `POST /v1/webhook-endpoints/{id}/rotate-secret`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct RotateSecretRequest {
        pub previous_secret_expires_in_hours: Field<Int<0, 168>>,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

impl RotateSecretRequest {
    /// How many hours the previous secret still signs (24 when left out).
    fn hours(self) -> Result<i64, ApiError> {
        let mut e = FieldErrors::default();
        let hours = self
            .previous_secret_expires_in_hours
            .take("previous_secret_expires_in_hours", &mut e)
            .map_or(DEFAULT_PREVIOUS_SECRET_HOURS, |h| h.0);
        self.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
        e.finish()?;
        Ok(hours)
    }
}

async fn load_endpoint(
    cx: &Ctx<'_>,
    store_id: &str,
    id: &str,
) -> Result<Option<Endpoint>, ApiError> {
    if !id.starts_with("whk_") && id != INVOICE_URL_ENDPOINT {
        return Ok(None);
    }
    match cx
        .app
        .table
        .get(&schema::webhook_endpoint(store_id, id))
        .await?
    {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

/// An endpoint of the caller's store; `invoice_url` always exists (it is
/// created on first use).
async fn endpoint(cx: &Ctx<'_>, id: &str) -> Result<Endpoint, ApiError> {
    let store_id = cx.store()?.id.clone();
    if id == INVOICE_URL_ENDPOINT {
        return ensure_invoice_endpoint(cx.app, &store_id).await;
    }
    load_endpoint(cx, &store_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint"))
}

fn builtin_json(e: &Endpoint) -> Value {
    let mut v = e.to_json();
    v["description"] = json!(INVOICE_URL_DESCRIPTION);
    v
}

/// `POST /v1/webhook-endpoints {url, events?, description?}` -> 201 with
/// the secret (shown only here and by rotate-secret).
pub async fn create(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store_id = cx.store()?.id.clone();
    let e = create_endpoint(cx.app, &store_id, &cx.req.body).await?;
    Ok(Response::created(e.to_json_with_secret()))
}

/// Create a webhook endpoint of `store_id` from a v1 body `{url, events?,
/// description?}` (the use case behind v1 and seed 004's webhook endpoints).
pub async fn create_endpoint(
    app: &crate::app::App,
    store_id: &str,
    body: &[u8],
) -> Result<Endpoint, ApiError> {
    let new = NewEndpoint::try_from(request::body::<CreateEndpointRequest>(body)?)?;
    let NewEndpoint {
        url,
        events,
        description,
    } = new;
    let url = checked_url(app, url).await?;
    let existing = app
        .table
        .query(
            Query::table(schema::webhook_endpoints_of(store_id))
                .sk(SortKey::BeginsWith("whk_".into()))
                .limit(100),
        )
        .await?;
    if existing.items.len() >= MAX_ENDPOINTS {
        return Err(ApiError::conflict(format!(
            "a store has at most {MAX_ENDPOINTS} webhook endpoints; delete one or widen the `events` of an existing one"
        )));
    }
    let e = Endpoint::new(store_id, url, events, description, app.now());
    app.table.put(e.to_item(), Some(Cond::NotExists)).await?;
    Ok(e)
}

/// `GET /v1/webhook-endpoints` (no secrets; without the built-in one).
pub async fn list(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store_id = cx.store()?.id.clone();
    let paging = request::paging(&cx.req.query)?;
    let (endpoints, next) = endpoints_page(cx.app, &store_id, paging).await?;
    Ok(Response::ok(list_body(
        endpoints.iter().map(Endpoint::to_json).collect(),
        next,
    )))
}

/// `GET /v1/webhook-endpoints/{id}`.
pub async fn get(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let id = cx.param("id").to_string();
    let e = endpoint(&cx, &id).await?;
    Ok(Response::ok(if e.is_builtin() {
        builtin_json(&e)
    } else {
        e.to_json()
    }))
}

/// `PATCH /v1/webhook-endpoints/{id} {url?, events?, description?}`.
pub async fn update(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store_id = cx.store()?.id.clone();
    let e = update_endpoint(cx.app, &store_id, cx.param("id"), &cx.req.body).await?;
    Ok(Response::ok(e.to_json()))
}

/// Change the fields sent of an endpoint of `store_id` (the use case behind
/// v1's PATCH and seed 004's PUT).
pub async fn update_endpoint(
    app: &crate::app::App,
    store_id: &str,
    id: &str,
    body: &[u8],
) -> Result<Endpoint, ApiError> {
    if id == INVOICE_URL_ENDPOINT {
        return Err(builtin_refusal("changed"));
    }
    let change = EndpointChange::try_from(request::body::<UpdateEndpointRequest>(body)?)?;
    let url = match change.url {
        Some(u) => Some(checked_url(app, u).await?),
        None => None,
    };
    let mut update = Update::new().set("updated_at", rfc3339(app.now()));
    if let Some(u) = url {
        update = update.set("url", u);
    }
    if let Some(e) = change.events {
        update = update.set("events", json!(e));
    }
    match change.description {
        Some(Some(d)) => update = update.set("description", d),
        Some(None) => update = update.set("description", Value::Null),
        None => {}
    }
    if !id.starts_with("whk_") {
        return Err(ApiError::not_found("webhook endpoint"));
    }
    let item = app
        .table
        .update(
            &schema::webhook_endpoint(store_id, id),
            update,
            Some(Cond::Exists),
        )
        .await
        .map_err(crate::error::missing_is_not_found("webhook endpoint"))?;
    from_item(item).map_err(Into::into)
}

/// `DELETE /v1/webhook-endpoints/{id}`: pending deliveries to it end `failed`.
pub async fn delete(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store_id = cx.store()?.id.clone();
    let id = cx.param("id").to_string();
    if id == INVOICE_URL_ENDPOINT {
        return Err(builtin_refusal("deleted"));
    }
    if !id.starts_with("whk_") {
        return Err(ApiError::not_found("webhook endpoint"));
    }
    cx.app
        .table
        .delete(
            &schema::webhook_endpoint(&store_id, &id),
            Some(Cond::Exists),
        )
        .await
        .map_err(crate::error::missing_is_not_found("webhook endpoint"))?;
    Ok(Response::ok(
        json!({ "id": id, "object": "webhook_endpoint", "deleted": true }),
    ))
}

/// `POST /v1/webhook-endpoints/{id}/rotate-secret {previous_secret_expires_in_hours?}`
/// -> the endpoint with its new secret (shown once). The previous secret
/// also signs (a second `v1=`) for 24 hours by default, 0 to drop it now.
pub async fn rotate_secret(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store_id = cx.store()?.id.clone();
    let id = cx.param("id").to_string();
    let hours = request::body::<RotateSecretRequest>(&cx.req.body)?.hours()?;
    let mut e = endpoint(&cx, &id).await?;
    let now = cx.now();
    let old_secret = std::mem::replace(&mut e.secret, crate::webhooks::generate_secret());
    let mut update = Update::new()
        .set("secret", e.secret.clone())
        .set("updated_at", rfc3339(now));
    if hours > 0 {
        let exp = Stamp::new(now + time::Duration::hours(hours));
        update = update
            .set("previous_secret", old_secret.clone())
            .set("previous_secret_expires_at", exp);
        e.previous_secret = Some(old_secret.clone());
        e.previous_secret_expires_at = Some(exp);
    } else {
        update = update
            .remove("previous_secret")
            .remove("previous_secret_expires_at");
        e.previous_secret = None;
        e.previous_secret_expires_at = None;
    }
    // Only if nobody rotated meanwhile (the secret we replace is current).
    cx.app
        .table
        .update(
            &schema::webhook_endpoint(&store_id, &id),
            update,
            Some(Cond::eq("secret", old_secret)),
        )
        .await
        .map_err(|err| {
            if err.is_condition_failed() {
                ApiError::conflict("the endpoint changed meanwhile (deleted or rotated); retry")
            } else {
                err.into()
            }
        })?;
    e.updated_at = Stamp::new(now);
    let mut body = e.to_json_with_secret();
    if e.is_builtin() {
        body["description"] = json!(INVOICE_URL_DESCRIPTION);
    }
    Ok(Response::ok(body))
}

/// `POST /v1/webhook-endpoints/{id}/test`: sends a signed `webhook.test`
/// event now (one attempt, no retries) and answers with the logged
/// delivery, whose status says whether the receiver answered 2xx.
pub async fn test(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store_id = cx.store()?.id.clone();
    let id = cx.param("id").to_string();
    request::no_body(&cx.req.body)?;
    if id == INVOICE_URL_ENDPOINT {
        return Err(ApiError::bad_request(
            "the built-in endpoint `invoice_url` has no URL of its own; create an invoice with a webhook_url to see its deliveries",
        ));
    }
    let e = endpoint(&cx, &id).await?;
    let d = send_test(cx.app, &store_id, &e).await?;
    Ok(Response::ok(d.to_json()))
}

/// Send a signed `webhook.test` event to `e` now (one attempt, no retries)
/// and log the delivery (the use case behind the test endpoints of v1 and
/// the panel face).
pub async fn send_test(
    app: &crate::app::App,
    store_id: &str,
    e: &Endpoint,
) -> Result<Delivery, ApiError> {
    let url = e.url.clone().unwrap_or_default();
    let now = app.now();
    let event = Event::new(
        TEST_EVENT_TYPE,
        store_id,
        None,
        json!({ "webhook_endpoint": { "id": e.id, "url": url }, "message": "This is a test event from satsgate." }),
        now,
    );
    let payload = event.to_json().to_string();
    let mut d = Delivery::new(
        new_id(IdKind::Delivery),
        store_id,
        &e.id,
        &event.id,
        TEST_EVENT_TYPE,
        &url,
        payload,
        Target::Endpoint(e.id.clone()),
        now,
    );
    let attempt = post(
        &Outgoing {
            url: &url,
            body: &d.payload,
            event_id: &d.event_id,
            event_type: TEST_EVENT_TYPE.as_str(),
            delivery_id: &d.id,
            secrets: e.signing_secrets(now),
        },
        now,
        app.config.webhooks.timeout,
        app.config.allow_insecure_urls,
    )
    .await;
    d.status = if attempt.succeeded() {
        DeliveryStatus::Succeeded
    } else {
        DeliveryStatus::Failed
    };
    d.attempts.push(attempt);
    d.attempt_count = 1;
    d.next_attempt_at = None;
    d.updated_at = Stamp::new(app.now());
    app.table.put(d.to_item(now), Some(Cond::NotExists)).await?;
    Ok(d)
}

/// The webhook endpoints of a store (without the built-in one), one page.
pub async fn endpoints_page(
    app: &crate::app::App,
    store_id: &str,
    paging: Paging,
) -> Result<(Vec<Endpoint>, Option<String>), ApiError> {
    let query =
        Query::table(schema::webhook_endpoints_of(store_id)).sk(SortKey::BeginsWith("whk_".into()));
    page_of(app, query, paging).await
}

/// `GET /v1/webhook-endpoints/{id}/deliveries`: newest first.
pub async fn list_deliveries(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store_id = cx.store()?.id.clone();
    let id = cx.param("id").to_string();
    let paging = request::paging(&cx.req.query)?;
    if id != INVOICE_URL_ENDPOINT && load_endpoint(&cx, &store_id, &id).await?.is_none() {
        return Err(ApiError::not_found("webhook endpoint"));
    }
    let query = Query::index(
        crate::table::Index::Gsi1,
        schema::deliveries_of(&store_id, &id),
    )
    .backward();
    let (ds, next) = page_of::<Delivery>(cx.app, query, paging).await?;
    Ok(Response::ok(list_body(
        ds.iter().map(Delivery::to_json).collect(),
        next,
    )))
}

async fn load_delivery(cx: &Ctx<'_>) -> Result<Delivery, ApiError> {
    let store_id = cx.store()?.id.clone();
    let id = cx.param("id");
    if !crate::ids::is_id(IdKind::Delivery, id) {
        return Err(ApiError::not_found("webhook delivery"));
    }
    match cx
        .app
        .table
        .get(&schema::webhook_delivery(&store_id, id))
        .await?
    {
        Some(item) => from_item(item),
        None => Err(ApiError::not_found("webhook delivery")),
    }
}

/// `GET /v1/webhook-deliveries/{id}`.
pub async fn get_delivery(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let d = load_delivery(&cx).await?;
    Ok(Response::ok(d.to_json()))
}

/// `POST /v1/webhook-deliveries/{id}/redeliver` -> 201: a new delivery of
/// the same event (same body and event id) to the same endpoint, queued
/// now, with `redelivery_of` naming the original.
pub async fn redeliver(cx: Ctx<'_>) -> Result<Response, ApiError> {
    request::no_body(&cx.req.body)?;
    let old = load_delivery(&cx).await?;
    let url = if old.endpoint_id == INVOICE_URL_ENDPOINT {
        old.url.clone()
    } else {
        let e = load_endpoint(&cx, &old.store_id, &old.endpoint_id)
            .await?
            .ok_or_else(|| {
                ApiError::conflict(
                    "the endpoint of this delivery was deleted; there is nowhere to redeliver to",
                )
            })?;
        e.url.unwrap_or(old.url.clone())
    };
    let mut d = Delivery::new(
        new_id(IdKind::Delivery),
        &old.store_id,
        &old.endpoint_id,
        &old.event_id,
        old.event_type,
        &url,
        old.payload.clone(),
        old.target.clone(),
        cx.now(),
    );
    d.redelivery_of = Some(old.id.clone());
    ensure_enqueued(cx.app, d.clone()).await?;
    Ok(Response::created(d.to_json()))
}
