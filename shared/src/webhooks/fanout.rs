//! The fan-out: an outbox event becomes a `Push` and one delivery per
//! target, each with one queue message; then the event leaves the outbox
//! (its `gsi2pk`/`gsi2sk` are removed). Fed by DynamoDB Streams on AWS
//! (`events-fanout`) and by the embedded engine's change feed plus a
//! periodic sweep of the OUTBOX index in satsgate-local. Every step is
//! idempotent (delivery ids are derived from event and endpoint), so a
//! crash at any point followed by a repeat loses nothing and duplicates
//! nothing.

use super::{
    delivery_id_for, filters_match, Delivery, DeliveryStatus, Endpoint, Target,
    INVOICE_URL_ENDPOINT, PRICE_EVENTS_STORE,
};
use crate::app::App;
use crate::error::ApiError;
use crate::events::{Event, OUTBOX};
use crate::records::from_item;
use crate::schema;
use crate::table::{s, Cond, Index, Item, Query, SortKey, Update};
use serde_json::Value;
use std::time::Duration;

/// Fan out one event item read from the outbox (stream image or sweep).
/// Items that are not events, or no longer in the outbox, are skipped.
/// Returns the number of deliveries enqueued.
pub async fn fan_out_item(app: &App, item: &Item) -> Result<usize, ApiError> {
    if !Event::is_event_item(item) || s(item, schema::GSI2_PK) != Some(OUTBOX) {
        return Ok(0);
    }
    let event: Event = from_item(item.clone())?;
    app.push.push(&event).await;
    let n = if event.store_id == PRICE_EVENTS_STORE {
        0
    } else {
        enqueue_event(app, &event).await?
    };
    let cleared = Update::new()
        .remove(schema::GSI2_PK)
        .remove(schema::GSI2_SK);
    match app
        .table
        .update(
            &Event::key(&event.store_id, &event.id),
            cleared,
            Some(Cond::Exists),
        )
        .await
    {
        Ok(_) => {}
        Err(e) if e.is_condition_failed() => {} // expired or deleted meanwhile
        Err(e) => return Err(e.into()),
    }
    tracing::info!(event = %event.id, kind = %event.kind, deliveries = n, "event fanned out");
    Ok(n)
}

/// Enqueue one delivery of `event` per target: each endpoint of its store
/// whose filter matches, and the invoice's own `webhook_url`
/// (`data.invoice.webhook_url`, signed with the built-in `invoice_url`
/// endpoint's secret). Idempotent for a given event id. Does not push and
/// does not touch the outbox (`POST /v1/sandbox/simulate-webhook` uses it
/// for events that are not stored). Returns the number of targets.
pub async fn enqueue_event(app: &App, event: &Event) -> Result<usize, ApiError> {
    if event.store_id == PRICE_EVENTS_STORE {
        return Ok(0);
    }
    let page = app
        .table
        .query(Query::table(schema::webhook_endpoints_of(&event.store_id)).limit(100))
        .await?;
    let mut endpoints = page
        .items
        .into_iter()
        .map(from_item::<Endpoint>)
        .collect::<Result<Vec<_>, _>>()?;
    let invoice_url = event
        .data
        .get("invoice")
        .and_then(|i| i.get("webhook_url"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_string);
    let mut targets: Vec<(String, String, Target)> = endpoints
        .iter()
        .filter(|e| !e.is_builtin() && filters_match(&e.events, event.kind.as_str()))
        .filter_map(|e| Some((e.id.clone(), e.url.clone()?, Target::Endpoint(e.id.clone()))))
        .collect();
    if let Some(url) = invoice_url {
        if !endpoints.iter().any(Endpoint::is_builtin) {
            endpoints.push(ensure_invoice_endpoint(app, &event.store_id).await?);
        }
        let inv = event.invoice_id.clone().unwrap_or_default();
        targets.push((
            INVOICE_URL_ENDPOINT.to_string(),
            url,
            Target::InvoiceUrl(inv),
        ));
    }
    let payload = event.to_json().to_string();
    let jobs = targets.iter().map(|(endpoint_id, url, target)| {
        let d = Delivery::new(
            delivery_id_for(&event.id, endpoint_id),
            &event.store_id,
            endpoint_id,
            &event.id,
            event.kind,
            url,
            payload.clone(),
            target.clone(),
            app.now(),
        );
        async move { ensure_enqueued(app, d).await }
    });
    for r in futures::future::join_all(jobs).await {
        r?;
    }
    Ok(targets.len())
}

/// The built-in `invoice_url` endpoint of a store, created on first use.
pub async fn ensure_invoice_endpoint(app: &App, store_id: &str) -> Result<Endpoint, ApiError> {
    let key = schema::webhook_endpoint(store_id, INVOICE_URL_ENDPOINT);
    if let Some(item) = app.table.get(&key).await? {
        return from_item(item);
    }
    let e = Endpoint::invoice_url(store_id, app.now());
    match app.table.put(e.to_item(), Some(Cond::NotExists)).await {
        Ok(()) => Ok(e),
        Err(err) if err.is_condition_failed() => match app.table.get(&key).await? {
            Some(item) => from_item(item),
            None => Err(ApiError::internal(
                "invoice_url endpoint vanished while being created",
            )),
        },
        Err(err) => Err(err.into()),
    }
}

/// Store the delivery (unless it exists) and send its queue message
/// (unless one already owns it).
pub async fn ensure_enqueued(app: &App, d: Delivery) -> Result<(), ApiError> {
    let key = schema::webhook_delivery(&d.store_id, &d.id);
    match app
        .table
        .put(d.to_item(app.now()), Some(Cond::NotExists))
        .await
    {
        Ok(()) => {}
        Err(e) if e.is_condition_failed() => {
            // A repeated fan-out: enqueue again only if no message owns it.
            let Some(item) = app.table.get(&key).await? else {
                return Ok(());
            };
            let existing: Delivery = from_item(item)?;
            if existing.message_id.is_some() || existing.status != DeliveryStatus::Pending {
                return Ok(());
            }
        }
        Err(e) => return Err(e.into()),
    }
    let message_id = app
        .queue
        .send(&d.message_body(), Duration::ZERO)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, delivery = %d.id, "enqueueing a webhook delivery");
            ApiError::internal("could not enqueue the webhook delivery; it will be retried")
        })?;
    // Name the owner, unless the dispatcher already claimed it.
    let owner = Cond::Or(vec![
        Cond::AttrNotExists("message_id".into()),
        Cond::eq("message_id", message_id.clone()),
    ]);
    match app
        .table
        .update(
            &key,
            Update::new().set("message_id", message_id),
            Some(Cond::And(vec![Cond::Exists, owner])),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_condition_failed() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Fan out every event still in the outbox (oldest first). `min_age`
/// leaves recent events to the stream consumer (AWS); locally it is None.
/// One failing event is logged and left for the next sweep. Returns the
/// number of events fanned out.
pub async fn sweep_outbox(app: &App, min_age: Option<Duration>) -> Result<usize, ApiError> {
    let newest = min_age.map(|age| {
        let t = app.now() - time::Duration::try_from(age).unwrap_or(time::Duration::ZERO);
        // Event ids are UUIDv7: the first 12 hex digits are the epoch ms.
        format!(
            "evt_{:012x}~",
            (t.unix_timestamp_nanos() / 1_000_000).max(0)
        )
    });
    let mut done = 0;
    let mut cursor = None;
    loop {
        let mut q = Query::index(Index::Gsi2, OUTBOX).limit(100).cursor(cursor);
        if let Some(n) = &newest {
            q = q.sk(SortKey::Le(n.clone()));
        }
        let page = app.table.query(q).await?;
        for item in &page.items {
            match fan_out_item(app, item).await {
                Ok(_) => done += 1,
                Err(e) => {
                    tracing::warn!(error = %e, event = s(item, schema::SK).unwrap_or("?"), "fan-out failed; retried on the next sweep")
                }
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(done),
        }
    }
}
