//! The merchant dashboard (`/dashboard`): one more face of the same router.
//!
//! - `GET /dashboard`: the HTML shell (its pages are `#/...` fragments); the
//!   script and style are files under `/dashboard/` embedded in the binary
//!   (`include_str!`), under a strict Content-Security-Policy (no inline
//!   script or style, no third-party origin).
//! - `POST /dashboard/login {username, password}`: `users::login`; the
//!   session token goes only into an `HttpOnly; SameSite=Strict` cookie
//!   (`Secure` over https), never into the page.
//! - `POST /dashboard/logout`: revokes the session on the server.
//! - `<METHOD> /dashboard/api/<v1 path>`: the v1 router with the
//!   cookie's session token as the Bearer key. The page names the store a
//!   store-level call acts on with `X-Satsgate-Store` (see
//!   `dispatch::act_on_store`).
//!
//! Every request that changes state (anything but GET/HEAD) needs an
//! `Origin` equal to the request's own origin.

use crate::app::App;
use crate::auth::hash_key;
use crate::dispatch::ACT_ON_STORE_HEADER;
use crate::error::{ApiError, ErrorCode, FieldErrors};
use crate::handlers::users::Credentials;
use crate::http::{Request, Response};
use crate::records::from_item;
use crate::request::{self, Field, NonEmpty, Unknown};
use crate::schema;
use http::{HeaderMap, HeaderValue, Method};
use serde::Deserialize;
use serde_json::json;

/// Where the dashboard lives.
pub const PREFIX: &str = "/dashboard";
/// The session cookie.
pub const COOKIE: &str = "sg_session";
/// The HTTP API routes of the `dashboard` function (template.yaml), next to
/// the route table's rows: `(method, path)`.
pub const ROUTES: &[(&str, &str)] = &[("ANY", "/dashboard"), ("ANY", "/dashboard/{proxy+}")];

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// Whether `path` is the dashboard's.
pub fn owns(path: &str) -> bool {
    path == PREFIX || path.starts_with("/dashboard/")
}

/// Serve one dashboard request; `api` (the router of every row) serves
/// its v1 calls.
pub async fn serve(app: &App, api: &axum::Router, req: Request) -> Response {
    let started = std::time::Instant::now();
    let (method, path) = (req.method.clone(), req.path.clone());
    let rest = req.path[PREFIX.len()..].trim_start_matches('/').to_string();
    let result = match (&req.method, rest.as_str()) {
        (&Method::GET, "app.js") => Ok(asset("text/javascript; charset=utf-8", APP_JS)),
        (&Method::GET, "app.css") => Ok(asset("text/css; charset=utf-8", APP_CSS)),
        (&Method::POST, "login") => login(app, &req).await,
        (&Method::POST, "logout") => logout(app, &req).await,
        (_, r) if r == "api" || r.starts_with("api/") => {
            let v1 = r["api".len()..].to_string();
            proxy(api, req, v1).await
        }
        (&Method::GET, "") => Ok(page(app)),
        (_, "") | (_, "app.js") | (_, "app.css") => Err(ApiError::new(
            405,
            ErrorCode::NotFound,
            "the dashboard page and its assets answer GET only",
        )
        .with_header("Allow", "GET")),
        _ => Err(ApiError::new(
            404,
            ErrorCode::NotFound,
            format!("no dashboard page at {}", req.path),
        )),
    };
    let response = result.unwrap_or_else(|e| Response::from_error(&e));
    // One line per request (never the body: it carries passwords); the v1
    // calls behind /dashboard/api log their own line too.
    tracing::info!(
        method = %method,
        path = %path,
        status = response.status,
        ms = started.elapsed().as_millis() as u64,
        "dashboard request"
    );
    response
}

/// The policy of every dashboard response: only this origin's script,
/// style and connections (plus the WebSocket API when it is elsewhere).
fn csp(app: &App) -> String {
    let ws = app.config.websocket_url.as_deref().filter(|u| {
        (u.starts_with("wss://") || u.starts_with("ws://"))
            && !u.contains(|c: char| c.is_whitespace() || c == ';' || c == ',' || c == '\'')
    });
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'{}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ws.map(|u| format!(" {u}")).unwrap_or_default()
    )
}

fn secured(app: &App, r: Response) -> Response {
    r.with_header("Content-Security-Policy", csp(app))
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header("Referrer-Policy", "no-referrer")
        .with_header("X-Frame-Options", "DENY")
}

fn asset(content_type: &str, text: &'static str) -> Response {
    Response::raw(200, content_type, text).with_header("Cache-Control", "no-cache")
}

fn page(app: &App) -> Response {
    let ws = app.config.websocket_url.clone().unwrap_or_default();
    let html = INDEX_HTML.replace(
        "__WS_URL__",
        &crate::handlers::checkout::page::escape_html(&ws),
    );
    secured(
        app,
        Response::raw(200, "text/html; charset=utf-8", html)
            .with_header("Cache-Control", "no-store"),
    )
}

/// The request's own origin matches its `Origin` header (browsers send it
/// on every cross-origin request and on same-origin non-GET fetches).
pub fn same_origin(headers: &HeaderMap) -> bool {
    let origin = headers.get("origin").and_then(|v| v.to_str().ok());
    let host = headers.get("host").and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(o), Some(h)) => {
            let authority = o
                .strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"));
            authority.is_some_and(|a| a.eq_ignore_ascii_case(h))
        }
        _ => false,
    }
}

fn check_origin(req: &Request) -> Result<(), ApiError> {
    if req.method == Method::GET || req.method == Method::HEAD || same_origin(&req.headers) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "cross-origin request refused: the dashboard changes state only for requests from its own origin",
        ))
    }
}

/// Over https (directly, or behind API Gateway or a proxy that says so).
fn is_https(app: &App, req: &Request) -> bool {
    req.header("x-forwarded-proto")
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
        || app.config.public_url.starts_with("https://")
}

fn cookie(app: &App, req: &Request, value: &str, max_age: i64) -> String {
    format!(
        "{COOKIE}={value}; Path={PREFIX}; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
        if is_https(app, req) { "; Secure" } else { "" }
    )
}

/// The session token in the request's cookie.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, v)| *k == COOKIE && !v.is_empty())
        .map(|(_, v)| v.to_string())
}

/// The body of the dashboard's login (a missing field fails as a wrong login).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginBody {
    pub username: Field<NonEmpty<64>>,
    pub password: Field<NonEmpty<{ crate::users::MAX_PASSWORD_CHARS * 4 }>>,
    #[serde(flatten)]
    pub unknown: Unknown,
}

impl TryFrom<LoginBody> for Credentials {
    type Error = ApiError;

    fn try_from(b: LoginBody) -> Result<Credentials, ApiError> {
        let mut e = FieldErrors::default();
        let username = b.username.take("username", &mut e).map(|u| u.0);
        let password = b.password.take("password", &mut e).map(|p| p.0);
        b.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
        e.finish()?;
        Ok(Credentials {
            username: username.unwrap_or_default(),
            password: password.unwrap_or_default(),
        })
    }
}

async fn login(app: &App, req: &Request) -> Result<Response, ApiError> {
    check_origin(req)?;
    let Credentials { username, password } =
        Credentials::try_from(request::body::<LoginBody>(&req.body)?)?;
    let (session, token) =
        crate::users::login(&*app.table, &username, &password, req.source_ip, app.now()).await?;
    let max_age = crate::users::SESSION_HOURS * 3600;
    Ok(Response::ok(json!({
        "object": "session",
        "expires_at": session.expires_at,
        "username": username,
    }))
    .with_header("Set-Cookie", cookie(app, req, &token, max_age))
    .with_header("Cache-Control", "no-store"))
}

async fn logout(app: &App, req: &Request) -> Result<Response, ApiError> {
    check_origin(req)?;
    if let Some(token) = session_token(&req.headers) {
        if let Some(item) = app.table.get(&schema::api_key(&hash_key(&token))).await? {
            let key: crate::account::ApiKeyRecord = from_item(item)?;
            if key.user_id.is_some() {
                crate::users::logout(&*app.table, &key).await?;
            }
        }
    }
    Ok(
        Response::ok(json!({ "object": "session", "revoked": true }))
            .with_header("Set-Cookie", cookie(app, req, "", 0)),
    )
}

/// The v1 API for the page: the cookie's session is the key.
async fn proxy(api: &axum::Router, req: Request, v1: String) -> Result<Response, ApiError> {
    check_origin(&req)?;
    let token =
        session_token(&req.headers).ok_or_else(|| ApiError::unauthenticated("not logged in"))?;
    let mut headers = HeaderMap::new();
    let bearer = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| ApiError::unauthenticated("malformed session cookie"))?;
    headers.insert(http::header::AUTHORIZATION, bearer);
    for name in ["content-type", "idempotency-key", ACT_ON_STORE_HEADER] {
        if let Some(v) = req.headers.get(name) {
            headers.insert(name, v.clone());
        }
    }
    let inner = Request {
        method: req.method,
        path: v1,
        query: req.query,
        headers,
        body: req.body,
        source_ip: req.source_ip,
    };
    let mut r = crate::router::call(api, inner).await;
    // The API allows any origin without credentials; these answers are
    // for this page only.
    r.headers
        .retain(|(k, _)| !k.to_ascii_lowercase().starts_with("access-control-"));
    Ok(r.with_header("Cache-Control", "no-store"))
}
