//! Stores and their API keys (API.md "Accounts, stores, keys").

use super::{list_body, page_of};
use crate::account::ApiKeyRecord;
use crate::clock::Stamp;
use crate::error::{ApiError, FieldErrors};
use crate::handlers::ctx::Ctx;
use crate::http::Response;
use crate::ids::{new_id, IdKind};
use crate::records::{from_item, to_item};
use crate::request::{self, Field, Strings, Text, Unknown};
use crate::schema;
use crate::store::{Store, StoreSettings};
use crate::table::{Cond, Index, Query, SortKey, TxOp};
use serde::Deserialize;
use serde_json::{json, Value};

/// `POST /v1/stores` -> 201 `{store, api_key}`.
pub async fn create(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let account_id = cx.account_id()?.to_string();
    let settings = StoreSettings::parse(cx.app, &cx.req.body, None)?;
    let (store, key, secret) = create_store(cx.app, &account_id, settings).await?;
    Ok(Response::created(json!({
        "store": store.to_json(Some((0, 0))),
        "api_key": key.to_json_with_secret(&secret),
    })))
}

/// Create a store of `account_id` with its first store key (the use case
/// behind `POST /v1/stores` and seed 004's merchant wallets): (store, key
/// record, key secret shown once).
pub async fn create_store(
    app: &crate::app::App,
    account_id: &str,
    settings: StoreSettings,
) -> Result<(Store, ApiKeyRecord, String), ApiError> {
    let now = app.now();
    let store = settings.into_store(
        new_id(IdKind::Store),
        account_id.to_string(),
        Stamp::new(now),
    );
    let (key, secret) = ApiKeyRecord::new(
        account_id,
        Some(&store),
        Some("default".into()),
        vec![],
        now,
    );
    app.table
        .transact(vec![
            TxOp::Put {
                item: store_item(&store),
                cond: Some(Cond::NotExists),
            },
            key.put_op(),
        ])
        .await?;
    Ok((store, key, secret))
}

/// Change the settings sent (the use case behind `PATCH /v1/stores/{id}`).
pub async fn update_store(
    app: &crate::app::App,
    store: &Store,
    settings: StoreSettings,
) -> Result<Store, ApiError> {
    let update = settings.to_update(Stamp::new(app.now()));
    let item = app
        .table
        .update(&schema::store(&store.id), update, Some(Cond::Exists))
        .await
        .map_err(crate::error::missing_is_not_found("store"))?;
    from_item(item).map_err(Into::into)
}

/// The store resource with its current wallet's address state.
async fn store_json(cx: &Ctx<'_>, store: &Store) -> Result<Value, ApiError> {
    let state = crate::invoice::repo::address_state(cx.app, store).await?;
    Ok(store.to_json(Some(state)))
}

pub fn store_item(store: &Store) -> crate::table::Item {
    to_item(
        store,
        &schema::store(&store.id),
        &[
            (
                schema::GSI1_PK,
                Value::String(schema::stores_of(&store.account_id)),
            ),
            (schema::GSI1_SK, Value::String(store.id.clone())),
        ],
    )
}

/// `GET /v1/stores`: an account key lists its stores; a store key sees its own.
pub async fn list(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let paging = request::paging(&cx.req.query)?;
    let p = cx.principal()?;
    if let Some(own) = &p.store {
        return Ok(Response::ok(list_body(
            vec![store_json(&cx, own).await?],
            None,
        )));
    }
    let query = Query::index(Index::Gsi1, schema::stores_of(&p.key.account_id));
    let (stores, next) = page_of::<Store>(cx.app, query, paging).await?;
    let mut items = Vec::with_capacity(stores.len());
    for s in &stores {
        items.push(store_json(&cx, s).await?);
    }
    Ok(Response::ok(list_body(items, next)))
}

/// `GET /v1/stores/{id}`.
pub async fn get(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.visible_store(cx.param("id")).await?;
    Ok(Response::ok(store_json(&cx, &store).await?))
}

/// `PATCH /v1/stores/{id}`: change only the fields sent.
pub async fn update(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.managed_store(cx.param("id")).await?;
    let settings = StoreSettings::parse(cx.app, &cx.req.body, Some(store.network))?;
    let store = update_store(cx.app, &store, settings).await?;
    Ok(Response::ok(store_json(&cx, &store).await?))
}

crate::request_schema::request_type! {
    /// The body of `POST /v1/stores/{id}/api-keys`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct CreateKeyRequest {
        pub label: Field<Text<100>>,
        pub allowed_ips: Field<Strings<100, 64>>,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

/// A checked key request: its label and normalized IP allowlist.
#[derive(Debug, Clone, PartialEq)]
pub struct NewKey {
    pub label: Option<String>,
    pub allowed_ips: Vec<String>,
}

impl TryFrom<CreateKeyRequest> for NewKey {
    type Error = ApiError;

    fn try_from(r: CreateKeyRequest) -> Result<NewKey, ApiError> {
        let mut e = FieldErrors::default();
        let label = r.label.take("label", &mut e).map(|t| t.0);
        let allowed_ips = request::allowlist(r.allowed_ips, "allowed_ips", &mut e);
        r.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
        e.finish()?;
        Ok(NewKey {
            label,
            allowed_ips: allowed_ips.unwrap_or_default(),
        })
    }
}

/// `POST /v1/stores/{id}/api-keys {label?, allowed_ips?}` -> 201 with the key, shown once.
pub async fn create_key(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.managed_store(cx.param("id")).await?;
    let new = NewKey::try_from(request::body::<CreateKeyRequest>(&cx.req.body)?)?;
    let (key, secret) = ApiKeyRecord::new(
        &store.account_id,
        Some(&store),
        new.label,
        new.allowed_ips,
        cx.now(),
    );
    cx.app
        .table
        .transact(vec![
            TxOp::Check {
                key: schema::store(&store.id),
                cond: Cond::Exists,
            },
            key.put_op(),
        ])
        .await
        .map_err(crate::error::missing_is_not_found("store"))?;
    Ok(Response::created(key.to_json_with_secret(&secret)))
}

/// `GET /v1/stores/{id}/api-keys`: no secrets.
pub async fn list_keys(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.managed_store(cx.param("id")).await?;
    let paging = request::paging(&cx.req.query)?;
    let query = Query::index(Index::Gsi1, schema::keys_of(&store.id));
    let (keys, next) = page_of::<ApiKeyRecord>(cx.app, query, paging).await?;
    Ok(Response::ok(list_body(
        keys.iter().map(ApiKeyRecord::to_json).collect(),
        next,
    )))
}

/// `DELETE /v1/stores/{id}/api-keys/{key_id}`: the key stops working at once.
pub async fn delete_key(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.managed_store(cx.param("id")).await?;
    let key_id = cx.param("key_id");
    let page = cx
        .app
        .table
        .query(
            Query::index(Index::Gsi1, schema::keys_of(&store.id))
                .sk(SortKey::Eq(key_id.to_string()))
                .limit(1),
        )
        .await?;
    let Some(item) = page.items.into_iter().next() else {
        return Err(ApiError::not_found("API key"));
    };
    let key: ApiKeyRecord = from_item(item)?;
    cx.app
        .table
        .delete(&schema::api_key(&key.hash), None)
        .await?;
    Ok(Response::ok(
        json!({ "id": key.id, "object": "api_key", "deleted": true }),
    ))
}

/// The most stores one account lists at once (faces that list without paging).
pub const MAX_ACCOUNT_STORES: usize = 1000;

/// The stores the caller acts on: its own (store key) or every store of its
/// account (account key), oldest first.
pub async fn caller_stores(cx: &Ctx<'_>) -> Result<Vec<Store>, ApiError> {
    let p = cx.principal()?;
    if let Some(own) = &p.store {
        return Ok(vec![own.clone()]);
    }
    let query = Query::index(Index::Gsi1, schema::stores_of(&p.key.account_id));
    super::read_all(cx.app, query, MAX_ACCOUNT_STORES)
        .await?
        .into_iter()
        .map(from_item::<Store>)
        .collect()
}
