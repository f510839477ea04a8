//! Domain records <-> table items: a record serializes to JSON and gets its
//! key attributes added; reading ignores the key attributes.

use crate::error::ApiError;
use crate::table::{Item, Key, PK, SK};
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

/// Read a record back; a malformed stored item is an internal error.
pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, ApiError> {
    let key = format!(
        "{}/{}",
        item.get(PK).and_then(Value::as_str).unwrap_or("?"),
        item.get(SK).and_then(Value::as_str).unwrap_or("?")
    );
    serde_json::from_value(Value::Object(item)).map_err(|e| {
        tracing::error!(item = %key, error = %e, "stored item does not match its record type");
        ApiError::internal("stored data could not be read")
    })
}
