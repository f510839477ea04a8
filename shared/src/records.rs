//! Domain records <-> table items: a record serializes to JSON and gets its
//! key attributes added; reading ignores the key attributes.

use crate::error::ApiError;
use crate::schema::{PK, SK};
use crate::table::{Item, Key};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// The item for `record` under `key`, plus extra attributes (GSI keys, ttl).
pub fn to_item<T: Serialize>(record: &T, key: &Key, extra: &[(&str, Value)]) -> Item {
    let mut item = match serde_json::to_value(record) {
        Ok(Value::Object(m)) => m,
        _ => panic!("records serialize to JSON objects"),
    };
    item.insert(PK.into(), Value::String(key.pk.clone()));
    item.insert(SK.into(), Value::String(key.sk.clone()));
    for (k, v) in extra {
        item.insert((*k).to_string(), v.clone());
    }
    item
}

/// A stored item that does not match its record type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("stored item {key} does not match its record type: {reason}")]
pub struct RecordError {
    /// `pk/sk` of the item.
    pub key: String,
    pub reason: String,
}

/// Read a record back; a malformed stored item is an internal API error
/// (for handlers; the domain error is [`record`]'s).
pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, ApiError> {
    Ok(record(item)?)
}

/// Read a record back; a malformed stored item is a [`RecordError`].
pub fn record<T: DeserializeOwned>(item: Item) -> Result<T, RecordError> {
    let key = format!(
        "{}/{}",
        item.get(PK).and_then(Value::as_str).unwrap_or("?"),
        item.get(SK).and_then(Value::as_str).unwrap_or("?")
    );
    serde_json::from_value(Value::Object(item)).map_err(|e| RecordError {
        key,
        reason: e.to_string(),
    })
}

impl From<RecordError> for ApiError {
    fn from(e: RecordError) -> Self {
        tracing::error!(item = %e.key, error = %e.reason, "stored item does not match its record type");
        ApiError::internal("stored data could not be read")
    }
}
