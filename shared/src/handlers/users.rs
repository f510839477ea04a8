//! Users and login (API.md "Users and login"): parse, call `crate::users`, render.

use super::list_body;
use crate::error::ApiError;
use crate::handlers::ctx::Ctx;
use crate::http::{json_type, Input, Response};
use crate::users::{self, User};
use serde_json::{json, Value};

/// `{username, password}` from the body; the password exactly as sent (not trimmed).
fn credentials(cx: &Ctx<'_>) -> Result<(String, String), ApiError> {
    let mut input = Input::from_body(&cx.req.body)?;
    let username = input.nonempty("username", 64);
    let username = input.required("username", username);
    let password = match input.raw("password") {
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            input.error(
                "password",
                format!("must be a string, got {}", json_type(&other)),
            );
            None
        }
        None => {
            input.error("password", "is required");
            None
        }
    };
    input.finish()?;
    match (username, password) {
        (Some(u), Some(p)) => Ok((u, p)),
        _ => Err(ApiError::bad_request("username and password are required")),
    }
}

/// `POST /v1/users {username, password}` (account key) -> 201 the user.
pub async fn create(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let account_id = cx.account_id()?.to_string();
    let (username, password) = credentials(&cx)?;
    let user =
        users::create_user(&*cx.app.table, &account_id, &username, &password, cx.now()).await?;
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
    let (username, password) = credentials(cx)?;
    let session = users::login(
        &*cx.app.table,
        &username,
        &password,
        cx.req.source_ip,
        cx.now(),
    )
    .await?;
    Ok(session)
}
