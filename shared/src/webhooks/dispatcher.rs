//! The dispatcher: one queue message = one attempt of one delivery.
//!
//! For each message: load the delivery and its endpoint (one read); drop the
//! message if the delivery is finished or owned by another message; if it
//! arrived before its `next_attempt_at`, hide it again for the rest; else
//! POST, append the attempt to the delivery (conditional on the attempt
//! count, so a concurrent duplicate cannot log twice) and decide:
//! 2xx -> `succeeded`, message deleted; failure with attempts left ->
//! `pending`, message hidden until `next_attempt_at` (visibility timeout,
//! at most `MAX_STEP`); last attempt failed -> `failed`, message moved to
//! the dead-letter queue.
//!
//! `process_batch` is what both the SQS-triggered Lambda and satsgate-local's
//! loop call; messages of one target are handled one after another, in the
//! order given, targets in parallel.

use super::send::{post, Outgoing};
use super::{
    Attempt, Delivery, DeliveryStatus, Endpoint, MessageBody, INVOICE_URL_ENDPOINT, MAX_STEP,
};
use crate::app::App;
use crate::clock::Stamp;
use crate::error::ApiError;
use crate::queue::Message;
use crate::records::from_item;
use crate::schema;
use crate::table::{Cond, Update};
use serde_json::json;
use std::time::Duration;

/// What to do with a message after processing it.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Finished (or nothing to do): delete it.
    Done,
    /// Try again after this long: hide it (visibility timeout).
    RetryIn(Duration),
    /// Give up: move it to the dead-letter queue.
    DeadLetter,
}

/// A message arriving this much before its delivery's `next_attempt_at` is
/// early (queue timing is coarser than ours).
const EARLY_TOLERANCE: Duration = Duration::from_millis(250);
/// Wait after an internal error (storage unavailable...).
const ERROR_RETRY: Duration = Duration::from_secs(30);

/// How messages are acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// Delete finished messages explicitly (satsgate-local).
    Delete,
    /// Leave finished messages to the trigger (Lambda deletes what is not
    /// reported as a batch item failure).
    Trigger,
}

/// Process a batch; returns the ids of the messages that stay in the queue
/// (to report as batch item failures).
pub async fn process_batch(app: &App, messages: Vec<Message>, ack: Ack) -> Vec<String> {
    let mut groups: Vec<(String, Vec<Message>)> = Vec::new();
    for m in messages {
        let target = target_of(&m);
        match groups.iter_mut().find(|(t, _)| *t == target) {
            Some((_, g)) => g.push(m),
            None => groups.push((target, vec![m])),
        }
    }
    let runs = groups.into_iter().map(|(_, group)| async move {
        let mut kept = Vec::new();
        for m in group {
            if !process_and_settle(app, &m, ack).await {
                kept.push(m.id.clone());
            }
        }
        kept
    });
    futures::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// The dispatcher's grouping key of a message (its endpoint or invoice URL).
pub fn target_of(m: &Message) -> String {
    match serde_json::from_str::<MessageBody>(&m.body) {
        Ok(b) if !b.target.is_empty() => format!("{}/{}", b.store_id, b.target),
        Ok(b) => format!("{}/{}", b.store_id, b.endpoint_id),
        Err(_) => format!("?{}", m.id),
    }
}

/// Process one message and apply the step to the queue. Returns true when
/// the message is finished (deleted or dead-lettered).
pub async fn process_and_settle(app: &App, m: &Message, ack: Ack) -> bool {
    let step = process(app, m).await;
    settle(app, m, &step, ack).await
}

/// Apply a step to the queue; true when the message left the queue.
pub async fn settle(app: &App, m: &Message, step: &Step, ack: Ack) -> bool {
    match step {
        Step::Done => {
            if ack == Ack::Delete {
                if let Err(e) = app.queue.delete(&m.receipt).await {
                    tracing::debug!(error = %e, message = %m.id, "deleting a finished webhook message");
                }
            }
            true
        }
        Step::RetryIn(d) => {
            if let Err(e) = app
                .queue
                .change_visibility(&m.receipt, (*d).min(MAX_STEP))
                .await
            {
                // It comes back after the queue's visibility timeout and is
                // hidden again for the rest then.
                tracing::warn!(error = %e, message = %m.id, "hiding a webhook message for its retry");
            }
            false
        }
        Step::DeadLetter => match app.queue.dead_letter(m).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, message = %m.id, "moving a webhook message to the dead-letter queue");
                false
            }
        },
    }
}

/// Decide and do one message's attempt.
pub async fn process(app: &App, m: &Message) -> Step {
    match process_inner(app, m).await {
        Ok(step) => step,
        Err(e) => {
            tracing::error!(error = %e, message = %m.id, "webhook dispatch failed; retrying");
            Step::RetryIn(ERROR_RETRY)
        }
    }
}

async fn process_inner(app: &App, m: &Message) -> Result<Step, ApiError> {
    let Ok(body) = serde_json::from_str::<MessageBody>(&m.body) else {
        tracing::error!(message = %m.id, body = %m.body, "malformed webhook message; dead-lettering it");
        return Ok(Step::DeadLetter);
    };
    let dkey = schema::webhook_delivery(&body.store_id, &body.delivery_id);
    let ekey = schema::webhook_endpoint(&body.store_id, &body.endpoint_id);
    let mut got = app.table.get_many(&[dkey.clone(), ekey]).await?.into_iter();
    let Some(ditem) = got.next().flatten() else {
        tracing::debug!(message = %m.id, delivery = %body.delivery_id, "delivery gone; dropping its message");
        return Ok(Step::Done);
    };
    let mut d: Delivery = from_item(ditem)?;
    let endpoint: Option<Endpoint> = got.next().flatten().map(from_item).transpose()?;
    if d.status != DeliveryStatus::Pending {
        tracing::debug!(message = %m.id, delivery = %d.id, status = %d.status, "delivery finished; dropping its message");
        return Ok(Step::Done);
    }
    // One message owns a delivery's retries; a duplicate goes away.
    match &d.message_id {
        Some(owner) if *owner != m.id => {
            tracing::debug!(message = %m.id, owner = %owner, delivery = %d.id, "another message owns this delivery; dropping this one");
            return Ok(Step::Done);
        }
        Some(_) => {}
        None => {
            let claim = Cond::And(vec![Cond::Exists, Cond::AttrNotExists("message_id".into())]);
            match app
                .table
                .update(
                    &dkey,
                    Update::new().set("message_id", m.id.clone()),
                    Some(claim),
                )
                .await
            {
                Ok(item) => d = from_item(item)?,
                Err(e) if e.is_condition_failed() => {
                    tracing::debug!(message = %m.id, delivery = %d.id, "another message claimed this delivery first; dropping this one");
                    return Ok(Step::Done);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    let now = app.now();
    if let Some(next) = d.next_attempt_at {
        let early = next - now;
        if early > time::Duration::try_from(EARLY_TOLERANCE).unwrap_or_default() {
            return Ok(Step::RetryIn(early.try_into().unwrap_or(ERROR_RETRY)));
        }
    }
    let Some(endpoint) = endpoint else {
        let why = if d.endpoint_id == INVOICE_URL_ENDPOINT {
            "the invoice_url signing secret is missing"
        } else {
            "the endpoint was deleted"
        };
        finish_without_attempt(app, &d, why).await?;
        return Ok(Step::Done);
    };
    let url = if endpoint.is_builtin() {
        d.url.clone()
    } else {
        endpoint.url.clone().unwrap_or_else(|| d.url.clone())
    };
    let attempt = post(
        &Outgoing {
            url: &url,
            body: &d.payload,
            event_id: &d.event_id,
            event_type: d.event_type.as_str(),
            delivery_id: &d.id,
            secrets: endpoint.signing_secrets(now),
        },
        now,
        app.config.webhooks.timeout,
        app.config.allow_insecure_urls,
    )
    .await;
    record_attempt(app, &d, &url, attempt).await
}

/// Append the attempt and move the delivery on; the step for its message.
async fn record_attempt(
    app: &App,
    d: &Delivery,
    url: &str,
    attempt: Attempt,
) -> Result<Step, ApiError> {
    let n = d.attempt_count as usize;
    let now = app.now();
    let ok = attempt.succeeded();
    let next = if ok {
        None
    } else {
        app.config.webhooks.delay_after(n + 1)
    };
    let status = if ok {
        DeliveryStatus::Succeeded
    } else if next.is_some() {
        DeliveryStatus::Pending
    } else {
        DeliveryStatus::Failed
    };
    tracing::info!(
        delivery = %d.id, event = %d.event_id, attempt = n + 1, status = %status, code = attempt.status_code,
        error = attempt.error.as_deref().unwrap_or(""), ms = attempt.duration_ms, "webhook attempt"
    );
    let mut attempts = d.attempts.clone();
    attempts.push(attempt);
    let mut update = Update::new()
        .set("attempts", json!(attempts))
        .set("attempt_count", n as u64 + 1)
        .set("status", status)
        .set("url", url)
        .set("updated_at", Stamp::new(now));
    update = match next {
        Some(wait) => update.set(
            "next_attempt_at",
            Stamp::new(now + time::Duration::try_from(wait).unwrap_or_default()),
        ),
        None => update.set("next_attempt_at", serde_json::Value::Null),
    };
    let cond = Cond::And(vec![
        Cond::eq("attempt_count", n as u64),
        Cond::eq("status", DeliveryStatus::Pending),
    ]);
    let key = schema::webhook_delivery(&d.store_id, &d.id);
    match app.table.update(&key, update, Some(cond)).await {
        Ok(_) => Ok(match (status, next) {
            (DeliveryStatus::Pending, Some(wait)) => Step::RetryIn(wait),
            (DeliveryStatus::Failed, _) => Step::DeadLetter,
            _ => Step::Done,
        }),
        Err(e) if e.is_condition_failed() => {
            // A duplicate recorded first; follow what it decided.
            let Some(item) = app.table.get(&key).await? else {
                return Ok(Step::Done);
            };
            let now_d: Delivery = from_item(item)?;
            Ok(match now_d.next_attempt_at {
                Some(t) if now_d.status == DeliveryStatus::Pending => {
                    Step::RetryIn((t - now).try_into().unwrap_or(Duration::ZERO))
                }
                _ => Step::Done,
            })
        }
        Err(e) => Err(e.into()),
    }
}

async fn finish_without_attempt(app: &App, d: &Delivery, why: &str) -> Result<(), ApiError> {
    let key = schema::webhook_delivery(&d.store_id, &d.id);
    let update = Update::new()
        .set("status", DeliveryStatus::Failed)
        .set("error", why)
        .set("next_attempt_at", serde_json::Value::Null)
        .set("updated_at", Stamp::new(app.now()));
    match app
        .table
        .update(
            &key,
            update,
            Some(Cond::eq("status", DeliveryStatus::Pending)),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_condition_failed() => Ok(()),
        Err(e) => Err(e.into()),
    }
}
