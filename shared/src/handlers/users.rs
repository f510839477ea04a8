//! Users and login (API.md "Users and login"): parse, call `crate::users`, render.

use super::list_body;
use crate::error::{ApiError, FieldErrors};
use crate::handlers::ctx::Ctx;
use crate::http::Response;
use crate::request::{self, Field, NonEmpty, Unknown, Verbatim};
use crate::users::{self, User};
use serde::Deserialize;
use serde_json::json;

crate::request_schema::request_type! {
    /// The body of `POST /v1/users` and of the logins: `{username, password}`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct CredentialsRequest {
        pub username: Field<NonEmpty<64>>,
        /// Exactly as sent (not trimmed).
        pub password: Field<Verbatim>,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

/// A checked user name and password.
#[derive(Debug, Clone, PartialEq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl TryFrom<CredentialsRequest> for Credentials {
    type Error = ApiError;

    fn try_from(r: CredentialsRequest) -> Result<Credentials, ApiError> {
        let mut e = FieldErrors::default();
        let username = r.username.require("username", &mut e).map(|u| u.0);
        let password = r.password.require("password", &mut e).map(|p| p.0);
        r.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
        let value = username
            .zip(password)
            .map(|(username, password)| Credentials { username, password });
        request::finish(e, value)
    }
}

/// The `{username, password}` of the request body.
fn credentials(cx: &Ctx<'_>) -> Result<Credentials, ApiError> {
    Credentials::try_from(request::body::<CredentialsRequest>(&cx.req.body)?)
}

/// `POST /v1/users {username, password}` (account key) -> 201 the user.
pub async fn create(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let account_id = cx.account_id()?.to_string();
    let c = credentials(&cx)?;
    let user = users::create_user(
        &*cx.app.table,
        &account_id,
        &c.username,
        &c.password,
        cx.now(),
    )
    .await?;
    Ok(Response::created(user.to_json()))
}

/// `GET /v1/users` (account key): every user of the account.
pub async fn list(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let account_id = cx.account_id()?.to_string();
    let all = users::list_users(&*cx.app.table, &account_id).await?;
    Ok(Response::ok(list_body(
        all.iter().map(User::to_json).collect(),
        None,
    )))
}

/// `DELETE /v1/users/{id}` (account key): the user and its sessions are gone.
pub async fn delete(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let account_id = cx.account_id()?.to_string();
    let user = users::delete_user(&*cx.app.table, &account_id, cx.param("id")).await?;
    Ok(Response::ok(
        json!({ "id": user.id, "object": "user", "deleted": true }),
    ))
}

/// `POST /v1/auth/login {username, password}` -> `{token, expires_at}`.
pub async fn login(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let (session, token) = log_in(&cx).await?;
    Ok(Response::ok(json!({
        "object": "session",
        "token": token,
        "expires_at": session.expires_at,
        "account_id": session.account_id,
        "user_id": session.user_id,
    })))
}

/// `POST /v1/auth/logout` with the session token: the token stops working.
pub async fn logout(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let key = cx.principal()?.key.clone();
    users::logout(&*cx.app.table, &key).await?;
    Ok(Response::ok(
        json!({ "object": "session", "revoked": true }),
    ))
}

/// Log in with the `{username, password}` of the request body: (session
/// record, token). Shared by `POST /v1/auth/login` and the faces' logins.
pub async fn log_in(cx: &Ctx<'_>) -> Result<(crate::account::ApiKeyRecord, String), ApiError> {
    let c = credentials(cx)?;
    let session = users::login(
        &*cx.app.table,
        &c.username,
        &c.password,
        cx.req.source_ip,
        cx.now(),
    )
    .await?;
    Ok(session)
}
