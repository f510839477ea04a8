//! One async function per endpoint: typed input in, response out.

pub mod checkout;
pub mod ctx;
pub mod health;
pub mod invoices;
pub mod openapi;
pub mod prices;
pub mod sandbox;
pub mod stores;
pub mod users;
pub mod webhooks;

use crate::error::ApiError;
use serde_json::Value;

/// The list envelope `{"items": [...], "next_cursor": ...}`.
pub fn list_body(items: Vec<Value>, next_cursor: Option<String>) -> Value {
    let list = crate::view::ListView {
        object: crate::view::ListObject,
        items,
        next_cursor,
    };
    serde_json::to_value(list).expect("a list serializes")
}

/// One page of `query` read as `T`s: the one place a v1 list turns its
/// checked `?limit=&cursor=` into a table read.
pub async fn page_of<T: serde::de::DeserializeOwned>(
    app: &crate::app::App,
    query: crate::table::Query,
    paging: crate::request::Paging,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let page = app
        .table
        .query(query.limit(paging.limit).cursor(paging.cursor))
        .await
        .map_err(cursor_error)?;
    let items = page
        .items
        .into_iter()
        .map(crate::records::from_item::<T>)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((items, page.next_cursor))
}

/// A table cursor error is the client's: 400 on `cursor`.
pub fn cursor_error(e: crate::table::TableError) -> ApiError {
    match e {
        crate::table::TableError::Validation(_) => {
            ApiError::field("cursor", "is not a cursor this endpoint returned")
        }
        other => other.into(),
    }
}

/// Every item `query` finds, page by page, stopping after at least `cap`.
pub async fn read_all(
    app: &crate::app::App,
    query: crate::table::Query,
    cap: usize,
) -> Result<Vec<crate::table::Item>, ApiError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = app
            .table
            .query(query.clone().limit(1000).cursor(cursor))
            .await?;
        out.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() || out.len() >= cap {
            return Ok(out);
        }
    }
}
