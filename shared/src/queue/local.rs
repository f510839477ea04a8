//! `TableQueue`: the queue of satsgate-local, kept in the `Table` so that the
//! embedded engine's log persists every message (a killed process loses
//! nothing) and the same code also works on DynamoDB. SQS semantics:
//! delays, visibility timeouts, receive counts, a redrive to
//! `<name>-dlq` after `max_receives` receives.
//!
//! A message is one item (`schema::queue_message`); its visibility time is
//! the sort key of a sparse gsi2 partition (`schema::queue_visibility`), so
//! `receive` is one index query for "visible at or before now" in send order,
//! then one conditional update per message to claim it (the condition is
//! on the item's current visibility, so two consumers never both win, even
//! when the index read is stale).

use super::{Message, Queue, QueueError, MAX_BATCH, MAX_DELAY, MAX_VISIBILITY};
use crate::clock::Clock;
use crate::schema;
use crate::table::{s, Cond, Index, Item, Key, Query, SortKey, Table, TableError, TxOp, Update};
use async_trait::async_trait;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Messages are kept this long at most (SQS's maximum retention).
pub const RETENTION_SECS: i64 = 14 * 24 * 3600;
/// Default redrive threshold (template.yaml's `maxReceiveCount`).
pub const DEFAULT_MAX_RECEIVES: u32 = 50;

pub struct TableQueue {
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
    name: String,
    max_receives: u32,
    notify: tokio::sync::Notify,
}

impl TableQueue {
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>, name: &str) -> TableQueue {
        TableQueue {
            table,
            clock,
            name: name.to_string(),
            max_receives: DEFAULT_MAX_RECEIVES,
            notify: tokio::sync::Notify::new(),
        }
    }

    /// Redrive to the dead-letter queue after this many receives.
    pub fn with_max_receives(mut self, n: u32) -> TableQueue {
        self.max_receives = n.max(1);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn dlq_name(&self) -> String {
        format!("{}-dlq", self.name)
    }

    fn now_ms(&self) -> i64 {
        (self.clock.now().unix_timestamp_nanos() / 1_000_000) as i64
    }

    fn message_item(
        queue: &str,
        id: &str,
        body: &str,
        visible_ms: i64,
        receive_count: u32,
        now_ms: i64,
    ) -> Item {
        let key = schema::queue_message(queue, id);
        let mut item = Item::new();
        item.insert(schema::PK.into(), json!(key.pk));
        item.insert(schema::SK.into(), json!(key.sk));
        item.insert("body".into(), json!(body));
        item.insert("receive_count".into(), json!(receive_count));
        item.insert("sent_at_ms".into(), json!(now_ms));
        item.insert(
            schema::GSI2_PK.into(),
            json!(schema::queue_visibility(queue)),
        );
        item.insert(
            schema::GSI2_SK.into(),
            json!(schema::queue_visible_sk(visible_ms, id)),
        );
        item.insert(schema::TTL.into(), json!(now_ms / 1000 + RETENTION_SECS));
        item
    }

    /// The message key a receipt (`<message id>.<nonce>`) belongs to.
    fn receipt_key(&self, receipt: &str) -> Result<Key, QueueError> {
        let (id, nonce) = receipt.split_once('.').ok_or(QueueError::InvalidReceipt)?;
        if id.is_empty() || nonce.is_empty() {
            return Err(QueueError::InvalidReceipt);
        }
        Ok(schema::queue_message(&self.name, id))
    }

    fn to_message(item: &Item) -> Option<Message> {
        Some(Message {
            id: s(item, schema::SK)?.to_string(),
            receipt: s(item, "receipt").unwrap_or_default().to_string(),
            body: s(item, "body")?.to_string(),
            receive_count: item
                .get("receive_count")
                .and_then(Value::as_u64)
                .unwrap_or(0) as u32,
        })
    }

    /// One pass: claim what is visible now.
    async fn try_receive(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<Message>, QueueError> {
        let now = self.now_ms();
        let page = self
            .table
            .query(
                Query::index(Index::Gsi2, schema::queue_visibility(&self.name))
                    .sk(SortKey::Le(schema::queue_visible_sk(now, "~")))
                    .limit(max * 2),
            )
            .await
            .map_err(backend)?;
        let mut out = Vec::new();
        for item in page.items {
            if out.len() >= max {
                break;
            }
            let (Some(key), Some(old_vis)) = (
                Key::of(&item),
                s(&item, schema::GSI2_SK).map(str::to_string),
            ) else {
                continue;
            };
            let count = item
                .get("receive_count")
                .and_then(Value::as_u64)
                .unwrap_or(0) as u32;
            let still_here = Cond::eq(schema::GSI2_SK, old_vis.clone());
            if count >= self.max_receives {
                // Redrive: received too often, to the dead-letter queue.
                let Some(m) = Self::to_message(&item) else {
                    continue;
                };
                let dlq = Self::message_item(&self.dlq_name(), &m.id, &m.body, now, count, now);
                match self
                    .table
                    .transact(vec![
                        TxOp::Delete {
                            key,
                            cond: Some(still_here),
                        },
                        TxOp::Put {
                            item: dlq,
                            cond: None,
                        },
                    ])
                    .await
                {
                    Ok(()) => {
                        tracing::warn!(queue = %self.name, message = %m.id, receives = count, "message moved to the dead-letter queue")
                    }
                    Err(e) if e.is_condition_failed() || e == TableError::Busy => {}
                    Err(e) => return Err(backend(e)),
                }
                continue;
            }
            let receipt = format!("{}.{}", key.sk, uuid::Uuid::new_v4().simple());
            let visible = now + visibility.as_millis() as i64;
            let update = Update::new()
                .set(schema::GSI2_SK, schema::queue_visible_sk(visible, &key.sk))
                .set("receipt", receipt.clone())
                .add("receive_count", 1);
            match self
                .table
                .update(
                    &key,
                    update,
                    Some(Cond::And(vec![Cond::Exists, still_here])),
                )
                .await
            {
                Ok(after) => {
                    if let Some(m) = Self::to_message(&after) {
                        out.push(m);
                    }
                }
                // Someone else claimed it (or it was deleted) meanwhile.
                Err(e) if e.is_condition_failed() || e == TableError::Busy => {}
                Err(e) => return Err(backend(e)),
            }
        }
        Ok(out)
    }

    /// When the next message becomes visible (epoch ms), if any is queued.
    async fn next_visible_ms(&self) -> Result<Option<i64>, QueueError> {
        let page = self
            .table
            .query(Query::index(Index::Gsi2, schema::queue_visibility(&self.name)).limit(1))
            .await
            .map_err(backend)?;
        Ok(page
            .items
            .first()
            .and_then(|i| s(i, schema::GSI2_SK))
            .and_then(|sk| sk.split('#').next())
            .and_then(|ms| ms.parse().ok()))
    }

    /// Every message currently queued (visible or not), in send order; for
    /// tests and diagnostics.
    pub async fn pending(&self) -> Result<Vec<Message>, QueueError> {
        list(&*self.table, &self.name).await
    }
}

async fn list(table: &dyn Table, queue: &str) -> Result<Vec<Message>, QueueError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                Query::table(schema::queue_messages(queue))
                    .limit(100)
                    .cursor(cursor),
            )
            .await
            .map_err(backend)?;
        out.extend(page.items.iter().filter_map(TableQueue::to_message));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

fn backend(e: TableError) -> QueueError {
    QueueError::Backend(e.to_string())
}

#[async_trait]
impl Queue for TableQueue {
    async fn send(&self, body: &str, delay: Duration) -> Result<String, QueueError> {
        if delay > MAX_DELAY {
            return Err(QueueError::Invalid(format!(
                "delay {delay:?} is over the 15 minute maximum"
            )));
        }
        let id = format!("msg_{}", uuid::Uuid::now_v7().simple());
        let now = self.now_ms();
        let item = Self::message_item(
            &self.name,
            &id,
            body,
            now + delay.as_millis() as i64,
            0,
            now,
        );
        self.table
            .put(item, Some(Cond::NotExists))
            .await
            .map_err(backend)?;
        self.notify.notify_waiters();
        Ok(id)
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Message>, QueueError> {
        if !(1..=MAX_BATCH).contains(&max) {
            return Err(QueueError::Invalid(format!("max must be 1..={MAX_BATCH}")));
        }
        if visibility > MAX_VISIBILITY {
            return Err(QueueError::Invalid(
                "visibility is over the 12 hour maximum".into(),
            ));
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let got = self.try_receive(max, visibility).await?;
            let now = tokio::time::Instant::now();
            if !got.is_empty() || now >= deadline {
                return Ok(got);
            }
            let mut until = deadline;
            if let Some(next) = self.next_visible_ms().await? {
                let in_ms = (next - self.now_ms()).max(1) as u64;
                until = until.min(now + Duration::from_millis(in_ms));
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(until) => {}
            }
        }
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        let key = self.receipt_key(receipt)?;
        match self
            .table
            .delete(&key, Some(Cond::eq("receipt", receipt)))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_condition_failed() => Err(QueueError::InvalidReceipt),
            Err(e) => Err(backend(e)),
        }
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        if timeout > MAX_VISIBILITY {
            return Err(QueueError::Invalid(format!(
                "visibility {timeout:?} is over the 12 hour maximum"
            )));
        }
        let key = self.receipt_key(receipt)?;
        let visible = self.now_ms() + timeout.as_millis() as i64;
        let update = Update::new().set(schema::GSI2_SK, schema::queue_visible_sk(visible, &key.sk));
        match self
            .table
            .update(&key, update, Some(Cond::eq("receipt", receipt)))
            .await
        {
            Ok(_) => {
                if timeout.is_zero() {
                    self.notify.notify_waiters();
                }
                Ok(())
            }
            Err(e) if e.is_condition_failed() => Err(QueueError::InvalidReceipt),
            Err(e) => Err(backend(e)),
        }
    }

    async fn dead_letter(&self, message: &Message) -> Result<(), QueueError> {
        let key = self.receipt_key(&message.receipt)?;
        let now = self.now_ms();
        let dlq = Self::message_item(
            &self.dlq_name(),
            &message.id,
            &message.body,
            now,
            message.receive_count,
            now,
        );
        match self
            .table
            .transact(vec![
                TxOp::Delete {
                    key,
                    cond: Some(Cond::eq("receipt", message.receipt.clone())),
                },
                TxOp::Put {
                    item: dlq,
                    cond: None,
                },
            ])
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if e.is_condition_failed() => Err(QueueError::InvalidReceipt),
            Err(e) => Err(backend(e)),
        }
    }

    async fn dead_letters(&self, max: usize) -> Result<Vec<Message>, QueueError> {
        let mut all = list(&*self.table, &self.dlq_name()).await?;
        all.truncate(max);
        Ok(all)
    }

    fn kind(&self) -> &'static str {
        "table"
    }
}
