//! The `Queue` port: an at-least-once message queue with SQS semantics.
//!
//! - `send` with a delay (at most 15 minutes, SQS's cap);
//! - `receive` hands out visible messages, hides each for a visibility
//!   timeout and counts the receive (`receive_count`);
//! - `delete` (by receipt) acknowledges, `change_visibility` hides a received
//!   message again for up to 12 hours (SQS's cap), which is how retries wait;
//! - a message received more than `max_receives` times moves to the queue's
//!   dead-letter queue on its next receive (SQS redrive policy), and
//!   `dead_letter` moves one there at once (the webhook dispatcher gives up).
//!
//! Two adapters: `sqs::SqsQueue` (AWS, and moto_server in tests) and
//! `local::TableQueue`, which keeps its messages in the `Table` so the
//! embedded engine persists them across a restart of satsgate-local. One
//! contract suite (`contract`) runs against both.

pub mod contract;
pub mod local;
pub mod sqs;

use async_trait::async_trait;
use std::time::Duration;

/// Longest `send` delay (SQS `DelaySeconds` maximum).
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Longest visibility timeout (SQS maximum, 12 hours).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);
/// Most messages one `receive` returns (SQS maximum).
pub const MAX_BATCH: usize = 10;

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Stable id of the message (the same on every receive).
    pub id: String,
    /// Handle of this receive, for `delete` and `change_visibility`.
    pub receipt: String,
    pub body: String,
    /// How many times the message has been received, this time included.
    pub receive_count: u32,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueueError {
    /// The receipt is unknown or stale (deleted, or received again since).
    #[error("receipt handle is invalid or expired")]
    InvalidReceipt,
    #[error("invalid queue request: {0}")]
    Invalid(String),
    #[error("queue backend error: {0}")]
    Backend(String),
}

/// The queue port.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Enqueue `body`, invisible for `delay` (at most `MAX_DELAY`). Returns
    /// the message id.
    async fn send(&self, body: &str, delay: Duration) -> Result<String, QueueError>;
    /// Up to `max` (1..=10) visible messages, oldest first, each hidden for
    /// `visibility`. Waits up to `wait` for a first message (long poll; SQS
    /// rounds it down to whole seconds, at most 20).
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Message>, QueueError>;
    /// Acknowledge a received message.
    async fn delete(&self, receipt: &str) -> Result<(), QueueError>;
    /// Hide a received message for `timeout` from now (at most
    /// `MAX_VISIBILITY`; zero makes it visible at once).
    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError>;
    /// Move a received message to the dead-letter queue now.
    async fn dead_letter(&self, message: &Message) -> Result<(), QueueError>;
    /// Up to `max` messages of the dead-letter queue, without consuming
    /// them (operators and tests look; nothing reads them automatically).
    async fn dead_letters(&self, max: usize) -> Result<Vec<Message>, QueueError>;
    /// The adapter's name for logs ("sqs" / "table").
    fn kind(&self) -> &'static str;
}

/// Whole seconds for SQS, rounding up so a delay is never shortened.
pub fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The queue of a Lambda without `WEBHOOK_QUEUE_URL`: every operation fails
/// with an error naming the missing setting (rather than writing messages
/// nobody would read).
#[derive(Debug, Default, Clone, Copy)]
pub struct Unconfigured;

impl Unconfigured {
    fn error() -> QueueError {
        QueueError::Invalid("WEBHOOK_QUEUE_URL is not set for this function (template.yaml)".into())
    }
}

#[async_trait]
impl Queue for Unconfigured {
    async fn send(&self, _body: &str, _delay: Duration) -> Result<String, QueueError> {
        Err(Self::error())
    }
    async fn receive(
        &self,
        _max: usize,
        _visibility: Duration,
        _wait: Duration,
    ) -> Result<Vec<Message>, QueueError> {
        Err(Self::error())
    }
    async fn delete(&self, _receipt: &str) -> Result<(), QueueError> {
        Err(Self::error())
    }
    async fn change_visibility(
        &self,
        _receipt: &str,
        _timeout: Duration,
    ) -> Result<(), QueueError> {
        Err(Self::error())
    }
    async fn dead_letter(&self, _message: &Message) -> Result<(), QueueError> {
        Err(Self::error())
    }
    async fn dead_letters(&self, _max: usize) -> Result<Vec<Message>, QueueError> {
        Err(Self::error())
    }
    fn kind(&self) -> &'static str {
        "unconfigured"
    }
}
