//! Events: every state change writes one event item in the same transaction
//! as the change (the outbox). Webhooks and WebSocket pushes are fed from
//! these items only, so a crash between "changed" and "told" loses nothing.
//!
//! Item: pk `EVT#<store_id>`, sk `<evt id>` (UUIDv7: time order), `ttl` 30
//! days; gsi1 `EVTINV#<invoice_id>` / `<evt id>` lists an invoice's events;
//! gsi2 `OUTBOX` / `<evt id>` marks events not yet handed to fan-out (the
//! fan-out removes `gsi2pk` once every delivery is enqueued).

use crate::clock::Stamp;
use crate::ids::{new_id, IdKind};
use crate::records::to_item;
use crate::schema;
use crate::table::{Cond, Item, Key, TxOp};
use crate::view::EventObject;
use crate::wire::{wire_serde, wire_words};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The kind of a merchant event (API.md "Webhooks"), `type` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    InvoiceCreated,
    InvoiceUpdated,
    InvoicePaid,
    InvoiceCompleted,
    InvoiceExpired,
    InvoiceCancelled,
    InvoiceUnderpaid,
    InvoiceInvalid,
    PaymentReceived,
    PaymentConfirmed,
    PaymentRefunded,
    /// New prices, pushed to WebSocket subscribers only (store `_prices`);
    /// not an event merchants subscribe to (not in [`EVENT_TYPES`]).
    PriceUpdated,
    /// The signed test event of `POST /v1/webhook-endpoints/{id}/test`;
    /// not in [`EVENT_TYPES`] either.
    WebhookTest,
}

wire_words!(EventKind {
    InvoiceCreated => "invoice.created",
    InvoiceUpdated => "invoice.updated",
    InvoicePaid => "invoice.paid",
    InvoiceCompleted => "invoice.completed",
    InvoiceExpired => "invoice.expired",
    InvoiceCancelled => "invoice.cancelled",
    InvoiceUnderpaid => "invoice.underpaid",
    InvoiceInvalid => "invoice.invalid",
    PaymentReceived => "payment.received",
    PaymentConfirmed => "payment.confirmed",
    PaymentRefunded => "payment.refunded",
    PriceUpdated => "price.updated",
    WebhookTest => "webhook.test",
});
wire_serde!(EventKind);
crate::wire::wire_schema!(EventKind as "EventType");

/// Event types merchants subscribe to (API.md "Webhooks"): the words of
/// [`EventKind`] but the last two, `price.updated` and `webhook.test`.
pub const EVENT_TYPES: &[&str] = EventKind::NAMES.split_at(EventKind::NAMES.len() - 2).0;

/// Events are kept 30 days.
pub const EVENT_TTL_SECONDS: i64 = 30 * 24 * 3600;
pub use crate::schema::OUTBOX;

/// An event as stored and as delivered: `{id, type, created_at, data}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub created_at: Stamp,
    pub store_id: String,
    #[serde(default)]
    pub invoice_id: Option<String>,
    /// `{"invoice": {...}}` and, for payment events, `"payment": {...}`.
    pub data: Value,
}

impl Event {
    pub fn new(
        kind: EventKind,
        store_id: &str,
        invoice_id: Option<&str>,
        data: Value,
        now: time::OffsetDateTime,
    ) -> Event {
        Event {
            id: new_id(IdKind::Event),
            kind,
            created_at: Stamp::new(now),
            store_id: store_id.to_string(),
            invoice_id: invoice_id.map(str::to_string),
            data,
        }
    }

    pub fn key(store_id: &str, event_id: &str) -> Key {
        schema::event(store_id, event_id)
    }

    /// The event item, in the outbox.
    pub fn to_item(&self, now: time::OffsetDateTime) -> Item {
        let mut extra = vec![
            (schema::TTL, json!(now.unix_timestamp() + EVENT_TTL_SECONDS)),
            (schema::GSI2_PK, json!(OUTBOX)),
            (schema::GSI2_SK, json!(self.id)),
        ];
        if let Some(inv) = &self.invoice_id {
            extra.push((schema::GSI1_PK, json!(schema::events_of_invoice(inv))));
            extra.push((schema::GSI1_SK, json!(self.id)));
        }
        to_item(self, &Event::key(&self.store_id, &self.id), &extra)
    }

    /// The write that records this event inside a state change's transaction.
    pub fn put_op(&self, now: time::OffsetDateTime) -> TxOp {
        TxOp::Put {
            item: self.to_item(now),
            cond: Some(Cond::NotExists),
        }
    }

    /// The public shape (webhook body, `GET /v1/events`).
    pub fn view(&self) -> EventView<'_> {
        EventView {
            id: &self.id,
            object: EventObject,
            kind: self.kind,
            created_at: self.created_at,
            data: &self.data,
        }
    }

    /// The public shape as JSON ([`EventView`]).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.view()).expect("an event serializes")
    }

    /// Whether an item is an event item.
    pub fn is_event_item(item: &Item) -> bool {
        item.get(schema::PK)
            .and_then(Value::as_str)
            .is_some_and(schema::is_event_pk)
    }
}

/// An event as the API shows it (and as webhooks deliver it).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Event)]
pub struct EventView<'a> {
    pub id: &'a str,
    #[schema(inline)]
    pub object: EventObject,
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub created_at: Stamp,
    /// `{"invoice": {...}}` and, for payment events, `"payment": {...}`.
    #[schema(value_type = Object)]
    pub data: &'a Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merchants_subscribe_to_every_kind_but_prices_and_the_test_event() {
        let others: Vec<&str> = EventKind::ALL
            .iter()
            .filter(|k| !matches!(k, EventKind::PriceUpdated | EventKind::WebhookTest))
            .map(|k| k.as_str())
            .collect();
        assert_eq!(EVENT_TYPES, others.as_slice());
        assert_eq!(EVENT_TYPES.len(), 11);
    }
}
