//! The two webhook jobs as Lambda handlers (see `satsgate::webhooks`):
//! `events-fanout` (DynamoDB Streams, filtered to event items, plus a
//! schedule that sweeps what the stream could not deliver) and
//! `webhook-dispatcher` (SQS, partial batch responses).

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use futures::future::BoxFuture;
use satsgate::app::App;
use satsgate::queue::Message;
use satsgate::webhooks::dispatcher::{process_batch, Ack};
use satsgate::webhooks::{fan_out_item, sweep_outbox};
use serde_json::{json, Value};
use std::time::Duration;

/// The scheduled sweep leaves events younger than this to the stream.
pub const SWEEP_MIN_AGE: Duration = Duration::from_secs(120);

/// `events-fanout`: a DynamoDB Streams batch (`{"Records": [...]}`) or a
/// scheduled event (anything else: sweep the OUTBOX index). For a stream
/// batch, records are fanned out in order; at the first failure the rest
/// is left and that record is reported (`batchItemFailures`), so Lambda
/// retries from it and event order holds.
pub fn events_fanout(app: &App, event: Value) -> BoxFuture<'_, Result<Value, String>> {
    Box::pin(async move {
        if event.get("Records").is_none() {
            let n = sweep_outbox(app, Some(SWEEP_MIN_AGE))
                .await
                .map_err(|e| e.to_string())?;
            return Ok(json!({ "swept": n }));
        }
        let batch: StreamEvent = serde_json::from_value(event)
            .map_err(|e| format!("not a DynamoDB stream event: {e}"))?;
        let mut failures = Vec::new();
        let mut deliveries = 0;
        for record in batch.records {
            if !matches!(record.event_name.as_str(), "INSERT" | "MODIFY") {
                continue;
            }
            let seq = record.change.sequence_number.clone().unwrap_or_default();
            let result = match satsgate::table::dynamo::from_attrs(record.change.new_image.into()) {
                Ok(item) => fan_out_item(app, &item).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match result {
                Ok(n) => deliveries += n,
                Err(e) => {
                    tracing::error!(error = %e, sequence_number = %seq, "fan-out failed; Lambda retries from this record");
                    failures.push(json!({ "itemIdentifier": seq }));
                    break;
                }
            }
        }
        Ok(json!({ "batchItemFailures": failures, "deliveries": deliveries }))
    })
}

/// `webhook-dispatcher`: one attempt per SQS message; the messages to try
/// again (hidden until their next attempt) are reported as batch item
/// failures, the others are done (or moved to the dead-letter queue).
pub fn webhook_dispatcher(app: &App, event: Value) -> BoxFuture<'_, Result<Value, String>> {
    Box::pin(async move {
        let batch: SqsEvent =
            serde_json::from_value(event).map_err(|e| format!("not an SQS event: {e}"))?;
        let messages: Vec<Message> = batch
            .records
            .into_iter()
            .map(|r| Message {
                id: r.message_id.unwrap_or_default(),
                receipt: r.receipt_handle.unwrap_or_default(),
                body: r.body.unwrap_or_default(),
                receive_count: r
                    .attributes
                    .get("ApproximateReceiveCount")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1),
            })
            .collect();
        let kept = process_batch(app, messages, Ack::Trigger).await;
        satsgate::metrics::count(&[(satsgate::metrics::DELIVERIES_FAILED, kept.len() as u64)]);
        let mut response = SqsBatchResponse::default();
        for id in kept {
            response.add_failure(id);
        }
        serde_json::to_value(response).map_err(|e| e.to_string())
    })
}
