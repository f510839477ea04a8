//! The `Push` port: live events to WebSocket subscribers. The events
//! fan-out hands every event to it (after the outbox, like webhooks); the
//! WebSocket adapters (API Gateway @connections on AWS, satsgate-local's own
//! sockets) implement it. Best effort: a push that fails is not retried,
//! subscribers re-fetch on reconnect.

use crate::events::Event;
use async_trait::async_trait;

#[async_trait]
pub trait Push: Send + Sync {
    /// Tell the subscribers of this event (its invoice, store, address,
    /// or the price feed for `_prices` events).
    async fn push(&self, event: &Event);
}

/// Pushes nothing (the default until a WebSocket adapter is installed).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPush;

#[async_trait]
impl Push for NoPush {
    async fn push(&self, _event: &Event) {}
}
