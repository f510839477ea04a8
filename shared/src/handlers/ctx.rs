//! What a handler receives: the request, its path parameters, the caller
//! (`Principal`) the pipeline authenticated, and the `Idempotency-Key`
//! lease it holds. The pipeline (`crate::dispatch`) builds a `Ctx`; the
//! route table (`crate::routes`) names one `HandlerFn` per row.

use crate::account::ApiKeyRecord;
use crate::app::App;
use crate::auth::KeyKind;
use crate::error::ApiError;
use crate::http::{Request, Response};
use crate::records::from_item;
use crate::schema;
use crate::store::Store;
use crate::table::{Cond, Key, TxOp, Update};
use futures::future::BoxFuture;
use serde_json::json;
use std::collections::BTreeMap;

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key: ApiKeyRecord,
    /// The store of a store key.
    pub store: Option<Store>,
}

/// What a handler receives.
pub struct Ctx<'a> {
    pub app: &'a App,
    pub req: Request,
    pub params: BTreeMap<String, String>,
    pub principal: Option<Principal>,
    pub request_id: String,
    /// The `Idempotency-Key` lease this request holds, if it sent one.
    pub idempotency: Option<IdempotencyLease>,
}

/// A route's handler: `async fn(Ctx<'_>) -> Result<Response, ApiError>` boxed
/// (the `handler!` macro makes one).
pub type HandlerFn = for<'a> fn(Ctx<'a>) -> BoxFuture<'a, Result<Response, ApiError>>;

/// Turn `async fn(Ctx) -> Result<Response, ApiError>` into a `HandlerFn`.
#[macro_export]
macro_rules! handler {
    ($f:path) => {{
        fn h<'a>(
            cx: $crate::handlers::ctx::Ctx<'a>,
        ) -> futures::future::BoxFuture<'a, Result<$crate::http::Response, $crate::error::ApiError>>
        {
            Box::pin($f(cx))
        }
        h as $crate::handlers::ctx::HandlerFn
    }};
}

impl<'a> Ctx<'a> {
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map(String::as_str).unwrap_or("")
    }

    pub fn principal(&self) -> Result<&Principal, ApiError> {
        self.principal
            .as_ref()
            .ok_or_else(|| ApiError::unauthenticated("this endpoint needs an API key"))
    }

    /// The store a store key acts on.
    pub fn store(&self) -> Result<&Store, ApiError> {
        self.principal()?.store.as_ref().ok_or_else(|| {
            ApiError::forbidden("this endpoint needs a store API key, not an account key")
        })
    }

    /// The account of an account key.
    pub fn account_id(&self) -> Result<&str, ApiError> {
        let p = self.principal()?;
        if p.key.kind != KeyKind::Account {
            return Err(ApiError::forbidden(
                "this endpoint needs an account API key",
            ));
        }
        Ok(&p.key.account_id)
    }

    /// A store the caller may see: its own (store key) or one of its
    /// account's (account key). Anything else is 404, never 403, so ids of
    /// other merchants cannot be probed.
    pub async fn visible_store(&self, id: &str) -> Result<Store, ApiError> {
        let p = self.principal()?;
        if let Some(own) = &p.store {
            return if own.id == id {
                Ok(own.clone())
            } else {
                Err(ApiError::not_found("store"))
            };
        }
        match self.app.table.get(&schema::store(id)).await? {
            Some(item) => {
                let store: Store = from_item(item)?;
                if store.account_id == p.key.account_id {
                    Ok(store)
                } else {
                    Err(ApiError::not_found("store"))
                }
            }
            None => Err(ApiError::not_found("store")),
        }
    }

    /// A store the caller manages (account keys only).
    pub async fn managed_store(&self, id: &str) -> Result<Store, ApiError> {
        self.account_id()?;
        self.visible_store(id).await
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.app.now()
    }
}

/// The in-flight claim a request holds on its `Idempotency-Key`. `token`
/// is this attempt's; every write of the record is conditioned on it, so a
/// request whose lease was taken over by a retry can no longer record.
#[derive(Debug, Clone)]
pub struct IdempotencyLease {
    pub record: Key,
    pub token: String,
}

impl IdempotencyLease {
    /// The write that stores `response` as this key's answer, held by the
    /// lease. A handler puts it in the transaction of its effect, so the
    /// effect and its answer commit together (a crash right after the
    /// commit still replays the answer).
    pub fn answer_op(&self, response: &Response) -> TxOp {
        let body = String::from_utf8_lossy(&response.body_bytes()).into_owned();
        TxOp::Update {
            key: self.record.clone(),
            update: Update::new()
                .set("state", "done")
                .set("status", response.status)
                .set("content_type", response.content_type())
                .set("body", body)
                .set("headers", json!(response.headers)),
            cond: Some(self.held()),
        }
    }

    /// The condition that this lease still holds the record.
    pub fn held(&self) -> Cond {
        Cond::eq("token", self.token.as_str())
    }
}
