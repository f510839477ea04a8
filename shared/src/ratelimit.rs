//! Counting each API key's requests per one-minute window, for the rate
//! limit of the REST pipeline and the WebSocket protocol.
//!
//! Where several processes serve one key (Lambda on DynamoDB), the count
//! lives in the table: one atomic ADD per request. Where one process serves
//! every key (satsgate-local on the embedded engine), an in-process counter
//! does the same without a durable write per request. `App::new` picks one.

use crate::schema;
use crate::table::{Table, TableError, Update};
use async_trait::async_trait;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Counts requests of a key in a window.
#[async_trait]
pub trait RateCounter: Send + Sync {
    /// Count one request of `key_id` in window `minute` (epoch seconds / 60)
    /// and return the window's count including it.
    async fn hit(&self, key_id: &str, minute: i64) -> Result<u64, TableError>;
}

/// The count in the table (`RL#<key>` / `W#<minute>`, expiring two minutes
/// after its window): shared by every process on the table.
pub struct TableCounter {
    table: Arc<dyn Table>,
}

impl TableCounter {
    pub fn new(table: Arc<dyn Table>) -> Self {
        TableCounter { table }
    }
}

#[async_trait]
impl RateCounter for TableCounter {
    async fn hit(&self, key_id: &str, minute: i64) -> Result<u64, TableError> {
        let item = self
            .table
            .update(
                &schema::rate_window(key_id, minute),
                Update::new()
                    .add("count", 1)
                    .set(schema::TTL, (minute + 1) * 60 + 120),
                None,
            )
            .await?;
        Ok(item.get("count").and_then(Value::as_u64).unwrap_or(1))
    }
}

/// Keys counted before old windows are dropped.
const MEMORY_KEYS: usize = 10_000;

/// The count in this process's memory: key -> (window, count).
#[derive(Default)]
pub struct MemoryCounter {
    windows: Mutex<HashMap<String, (i64, u64)>>,
}

impl MemoryCounter {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl RateCounter for MemoryCounter {
    async fn hit(&self, key_id: &str, minute: i64) -> Result<u64, TableError> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((window, count)) = windows.get_mut(key_id) {
            if *window < minute {
                (*window, *count) = (minute, 0);
            }
            // (A request stamped a minute late, by a race, counts in the new window.)
            *count += 1;
            return Ok(*count);
        }
        if windows.len() >= MEMORY_KEYS {
            windows.retain(|_, (window, _)| *window >= minute);
        }
        windows.insert(key_id.to_string(), (minute, 1));
        Ok(1)
    }
}

/// The counter for an app on `table`: the table's where several processes
/// share it (DynamoDB), this process's memory on the embedded engine.
pub fn counter_for(table: &Arc<dyn Table>) -> Arc<dyn RateCounter> {
    if table.engine() == "dynamodb" {
        Arc::new(TableCounter::new(table.clone()))
    } else {
        Arc::new(MemoryCounter::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::sqlite::SqliteTable;
    use crate::table::Query;

    /// The current minute (table windows expire two minutes after theirs).
    fn minute() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp() / 60
    }

    async fn counts_per_key_and_window(c: &dyn RateCounter) -> i64 {
        let m = minute();
        assert_eq!(c.hit("a", m).await.unwrap(), 1);
        assert_eq!(c.hit("a", m).await.unwrap(), 2);
        assert_eq!(c.hit("b", m).await.unwrap(), 1, "keys count apart");
        assert_eq!(c.hit("a", m).await.unwrap(), 3);
        assert_eq!(
            c.hit("a", m + 1).await.unwrap(),
            1,
            "a new minute starts at 1"
        );
        assert_eq!(c.hit("a", m + 1).await.unwrap(), 2);
        m
    }

    #[tokio::test]
    async fn memory_counter_counts_per_key_and_window() {
        counts_per_key_and_window(&MemoryCounter::new()).await;
    }

    #[tokio::test]
    async fn memory_counter_drops_old_windows_when_full() {
        let c = MemoryCounter::new();
        for i in 0..MEMORY_KEYS {
            c.hit(&format!("k{i}"), 1).await.unwrap();
        }
        c.hit("new", 2).await.unwrap();
        let len = c.windows.lock().unwrap().len();
        assert_eq!(len, 1, "only the current window's keys stay");
    }

    #[tokio::test]
    async fn table_counter_counts_per_key_and_window() {
        let table: Arc<dyn Table> = Arc::new(SqliteTable::in_memory());
        let m = counts_per_key_and_window(&TableCounter::new(table.clone())).await;
        let stored = table.get(&schema::rate_window("a", m + 1)).await.unwrap();
        assert_eq!(stored.unwrap()["count"].as_u64(), Some(2));
    }

    #[tokio::test]
    async fn the_embedded_engine_counts_in_memory() {
        let app = crate::app::App::in_memory();
        assert_eq!(app.rate_counter.hit("k", 5).await.unwrap(), 1);
        assert_eq!(app.rate_counter.hit("k", 5).await.unwrap(), 2);
        let page = app
            .table
            .query(Query::table(schema::rate_window("k", 0).pk))
            .await
            .unwrap();
        assert!(page.items.is_empty(), "no table write per request");
    }
}
