//! The one axum `Router`, built from the one route table (`crate::routes`):
//! each row is an axum route at its path (axum's `{id}` syntax is the
//! table's). satsgate-local serves the router of every row; each Lambda
//! serves the router of its own row. Each route reads the request at the
//! edge (body limit, body deadline, source address, path parameters) and
//! hands it to the caller pipeline (`crate::dispatch`).
//!
//! Unknown paths answer `404 not_found` and known paths with another method
//! `405 not_found` with `Allow`, both in the error shape of the path's face
//! (`crate::faces`). A path with one trailing slash is the path without it.
//! A row whose path also matches a more specific row's path (`GET
//! /v1/invoices/{id}` and `POST /v1/invoices/archived`) is served there
//! too, so `GET /v1/invoices/archived` is the invoice `archived`, as the
//! table reads.

use crate::app::App;
use crate::dispatch;
use crate::error::{ApiError, ErrorCode};
use crate::http::{Body as ResponseBody, Request, Response, MAX_BODY_BYTES};
use crate::routes::{Route, ROUTES};
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams, State};
use axum::routing::{MethodFilter, MethodRouter};
use axum::Router;
use bytes::Bytes;
use http::request::Parts;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// The address a request came from, as a request extension (Lambda sets
/// it from API Gateway's request context; locally the socket's
/// `ConnectInfo` is used when it is absent).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// How long a request body may take to arrive in total, as a request
/// extension (satsgate-local sets it; a Lambda's body arrives whole).
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

/// Every row of the route table.
pub fn api(app: Arc<App>) -> Router {
    let rows: Vec<&'static Route> = ROUTES.iter().collect();
    build(&rows).fallback(no_endpoint).with_state(app)
}

/// The router of one Lambda function: its own row only (None when
/// `function` has no row).
pub fn function(app: Arc<App>, function: &str) -> Option<Router> {
    let rows: Vec<&'static Route> = ROUTES.iter().filter(|r| r.function == function).collect();
    if rows.is_empty() {
        return None;
    }
    Some(build(&rows).fallback(no_endpoint).with_state(app))
}

/// The router of one Lambda binary: the row it names only. Unlike
/// `function`, it does not reach the route table, so a binary links its
/// own handler and no other.
pub fn row(app: Arc<App>, row: &'static Route) -> Router {
    build(&[row]).fallback(no_endpoint).with_state(app)
}

/// The `dashboard` function's router: the dashboard's paths (its v1
/// calls go to the router of every row); unknown paths answer 404.
pub fn dashboard(app: Arc<App>) -> Router {
    dashboard_routes(api(app.clone()))
        .fallback(no_endpoint)
        .with_state(app)
}

/// Everything satsgate-local serves over HTTP: every row and the dashboard.
pub fn local(app: Arc<App>) -> Router {
    let rows: Vec<&'static Route> = ROUTES.iter().collect();
    build(&rows)
        .merge(dashboard_routes(api(app.clone())))
        .fallback(no_endpoint)
        .with_state(app)
}

/// `/dashboard` and every path under it; `api` serves its v1 calls.
fn dashboard_routes(api: Router) -> Router<Arc<App>> {
    let serve = move |State(app): State<Arc<App>>, req: http::Request<Body>| {
        let api = api.clone();
        async move {
            match read(req).await {
                Ok(req) => to_http(crate::dashboard::serve(&app, &api, req).await),
                Err(e) => to_http(Response::from_error(&e)),
            }
        }
    };
    let p = crate::dashboard::PREFIX;
    Router::new()
        .route(p, axum::routing::any(serve.clone()))
        .route(&format!("{p}/"), axum::routing::any(serve.clone()))
        .route(&format!("{p}/{{*rest}}"), axum::routing::any(serve))
}

/// Where a row reached at another row's path finds its parameter.
#[derive(Debug, Clone)]
enum Source {
    /// The parameter of this name in the path it is reached at.
    Param(String),
    /// A literal segment of that path.
    Literal(String),
}

/// The parameters of `general` (a row's path) read at `specific` (another
/// path of the table), when every path `specific` matches, `general`
/// matches too; None otherwise.
fn covers(general: &str, specific: &str) -> Option<Vec<(String, Source)>> {
    let (g, s): (Vec<&str>, Vec<&str>) =
        (general.split('/').collect(), specific.split('/').collect());
    if g.len() != s.len() {
        return None;
    }
    let name = |seg: &str| {
        seg.strip_prefix('{')
            .and_then(|p| p.strip_suffix('}'))
            .map(str::to_string)
    };
    let mut out = Vec::new();
    for (g, s) in g.iter().zip(s) {
        match (name(g), name(s)) {
            (Some(n), Some(m)) => out.push((n, Source::Param(m))),
            (Some(n), None) => out.push((n, Source::Literal(s.to_string()))),
            (None, None) if *g == s => {}
            _ => return None,
        }
    }
    Some(out)
}

/// One axum route per path of `rows` (with and without a trailing slash);
/// every row covering that path serves its method there.
fn build(rows: &[&'static Route]) -> Router<Arc<App>> {
    let mut paths: Vec<&'static str> = Vec::new();
    for r in rows {
        if !paths.contains(&r.path) {
            paths.push(r.path);
        }
    }
    let mut router = Router::new();
    for path in paths {
        let mut methods = MethodRouter::new();
        let mut allowed: Vec<&'static str> = Vec::new();
        for &route in rows {
            let Some(params) = covers(route.path, path) else {
                continue;
            };
            if allowed.contains(&route.method) {
                continue;
            }
            allowed.push(route.method);
            let method = http::Method::from_bytes(route.method.as_bytes())
                .ok()
                .and_then(|m| MethodFilter::try_from(m).ok())
                .unwrap_or_else(|| panic!("route {} {}: unknown method", route.method, route.path));
            let params = Arc::new(params);
            methods = methods.on(
                method,
                move |State(app): State<Arc<App>>, req: http::Request<Body>| {
                    endpoint(app, route, params.clone(), req)
                },
            );
        }
        let allowed = allowed.join(", ");
        let methods = methods.fallback(
            move |State(app): State<Arc<App>>, req: http::Request<Body>| {
                let allowed = allowed.clone();
                async move { not_allowed(&app, &req, &allowed) }
            },
        );
        router = router.route(path, methods.clone());
        if !path.ends_with('/') {
            router = router.route(&format!("{path}/"), methods);
        }
    }
    router
}

/// One request of `route` through the pipeline.
async fn endpoint(
    app: Arc<App>,
    route: &'static Route,
    sources: Arc<Vec<(String, Source)>>,
    req: http::Request<Body>,
) -> http::Response<Body> {
    let (mut parts, body) = req.into_parts();
    let now = app.now();
    let raw = match RawPathParams::from_request_parts(&mut parts, &()).await {
        Ok(raw) => raw,
        Err(rejection) => {
            let e = ApiError::new(
                400,
                ErrorCode::ValidationError,
                format!("malformed path: {}", rejection.body_text()),
            );
            return to_http(crate::faces::error_response(parts.uri.path(), &e, now));
        }
    };
    let mut params = BTreeMap::new();
    for (name, source) in sources.iter() {
        let value = match source {
            Source::Literal(v) => v.clone(),
            Source::Param(p) => raw
                .iter()
                .find(|(k, _)| k == p)
                .map(|(_, v)| v.to_string())
                .unwrap_or_default(),
        };
        params.insert(name.clone(), value);
    }
    let path = parts.uri.path().to_string();
    let request = match read(http::Request::from_parts(parts, body)).await {
        Ok(r) => r,
        Err(e) => return to_http(crate::faces::error_response(&path, &e, now)),
    };
    to_http(dispatch::run(&app, route, params, request).await)
}

/// The request as the pipeline sees it: method, path, query, headers,
/// source address and the whole body (at most 64 KiB, within the
/// `BodyTimeout` when one is set).
pub async fn read(req: http::Request<Body>) -> Result<Request, ApiError> {
    let (parts, body) = req.into_parts();
    let mut request = head(&parts);
    let limited = axum::body::to_bytes(body, MAX_BODY_BYTES);
    let bytes = match parts.extensions.get::<BodyTimeout>() {
        None => limited.await,
        Some(BodyTimeout(timeout)) => match tokio::time::timeout(*timeout, limited).await {
            Ok(read) => read,
            Err(_) => {
                return Err(ApiError::new(
                    408,
                    ErrorCode::ValidationError,
                    format!(
                        "the request body did not arrive within {} seconds",
                        timeout.as_secs_f64()
                    ),
                ))
            }
        },
    };
    request.body = bytes.map_err(|_| too_large())?;
    Ok(request)
}

/// The request without its body.
fn head(parts: &Parts) -> Request {
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut request = Request::new(parts.method.clone(), path_and_query);
    request.headers = parts.headers.clone();
    request.source_ip = parts.extensions.get::<ClientIp>().map(|c| c.0).or_else(|| {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
    });
    request
}

/// 413 for a body over 64 KiB.
pub fn too_large() -> ApiError {
    ApiError::new(
        413,
        ErrorCode::ValidationError,
        format!("request body is larger than {MAX_BODY_BYTES} bytes (64 KiB)"),
    )
}

/// 404 for a path no row serves.
async fn no_endpoint(
    State(app): State<Arc<App>>,
    req: http::Request<Body>,
) -> http::Response<Body> {
    to_http(not_found(req.uri().path(), app.now()))
}

/// The 404 answer for `path`, in the error shape of its face.
pub fn not_found(path: &str, now: time::OffsetDateTime) -> Response {
    let e = ApiError::new(404, ErrorCode::NotFound, format!("no endpoint at {path}"));
    crate::faces::error_response(path, &e, now)
}

/// 405 with `Allow` for a path served with other methods.
fn not_allowed(app: &App, req: &http::Request<Body>, allowed: &str) -> http::Response<Body> {
    let path = req.uri().path();
    let e = ApiError::new(
        405,
        ErrorCode::NotFound,
        format!(
            "{} is not supported on {path}; use {}",
            req.method(),
            allowed.replace(", ", " or ")
        ),
    )
    .with_header("Allow", allowed);
    to_http(crate::faces::error_response(path, &e, app.now()))
}

/// Our response as an http one.
pub fn to_http(r: Response) -> http::Response<Body> {
    let mut b = http::Response::builder().status(r.status);
    let ct = r.content_type().to_string();
    if !ct.is_empty() {
        b = b.header(http::header::CONTENT_TYPE, ct);
    }
    for (k, v) in &r.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(Body::from(r.body_bytes())).unwrap_or_else(|_| {
        http::Response::builder()
            .status(500)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                "{\"error\":{\"code\":\"internal\",\"message\":\"bad response header\"}}",
            ))
            .expect("static response")
    })
}

/// Run our request through `router` (the dashboard's v1 calls, benches):
/// the answer with its body whole.
pub async fn call(router: &Router, req: Request) -> Response {
    use tower::ServiceExt;
    let mut uri = req.path.clone();
    if !req.query.is_empty() {
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let q: Vec<String> = req
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        uri = format!("{uri}?{}", q.join("&"));
    }
    let mut inner = http::Request::new(Body::from(req.body));
    *inner.method_mut() = req.method;
    *inner.headers_mut() = req.headers;
    match uri.parse() {
        Ok(u) => *inner.uri_mut() = u,
        Err(_) => return Response::from_error(&ApiError::bad_request("malformed request path")),
    }
    if let Some(ip) = req.source_ip {
        inner.extensions_mut().insert(ClientIp(ip));
    }
    let answer = match router.clone().oneshot(inner).await {
        Ok(a) => a,
        Err(never) => match never {},
    };
    from_http(answer).await
}

/// An http response (body read whole) as ours.
pub async fn from_http(answer: http::Response<Body>) -> Response {
    let (parts, body) = answer.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_else(|_| Bytes::new());
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let headers = parts
        .headers
        .iter()
        .filter(|(k, _)| *k != http::header::CONTENT_TYPE && *k != http::header::CONTENT_LENGTH)
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let body = if bytes.is_empty() && content_type.is_empty() {
        ResponseBody::Empty
    } else if content_type == "application/json" {
        match serde_json::from_slice(&bytes) {
            Ok(v) => ResponseBody::Json(v),
            Err(_) => ResponseBody::Raw {
                content_type,
                bytes,
            },
        }
    } else {
        ResponseBody::Raw {
            content_type,
            bytes,
        }
    };
    Response {
        status: parts.status.as_u16(),
        headers,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    async fn send(router: &Router, method: &str, path: &str) -> Response {
        let req = Request::new(method.parse().unwrap(), path);
        call(router, req).await
    }

    #[test]
    fn rows_cover_the_paths_they_match() {
        let p = covers("/v1/invoices/{id}", "/v1/invoices/archived").unwrap();
        assert!(matches!(&p[..], [(n, Source::Literal(v))] if n == "id" && v == "archived"));
        let p = covers(
            "/v1/stores/{id}/api-keys/{key_id}",
            "/v1/stores/{x}/api-keys/{y}",
        )
        .unwrap();
        assert!(matches!(&p[1], (n, Source::Param(v)) if n == "key_id" && v == "y"));
        assert!(covers("/v1/invoices/archived", "/v1/invoices/{id}").is_none());
        assert!(covers("/v1/stores/{id}", "/v1/stores").is_none());
        assert!(covers("/v1/stores", "/v1/invoices").is_none());
    }

    #[tokio::test]
    async fn the_router_answers_as_the_table_reads() {
        let app = Arc::new(App::in_memory());
        let api = api(app.clone());
        // A path with a trailing slash is the path.
        assert_eq!(send(&api, "GET", "/v1/health").await.status, 200);
        assert_eq!(send(&api, "GET", "/v1/health/").await.status, 200);
        // Unknown paths and methods, in the envelope.
        let r = send(&api, "GET", "/v1/nothing-here").await;
        assert_eq!(r.status, 404);
        assert_eq!(
            r.body_bytes(),
            Response::from_error(&ApiError::new(
                404,
                ErrorCode::NotFound,
                "no endpoint at /v1/nothing-here"
            ))
            .body_bytes()
        );
        let r = send(&api, "DELETE", "/v1/health").await;
        assert_eq!((r.status, r.header("allow")), (405, Some("GET")));
        // `GET /v1/invoices/{id}` is served at `/v1/invoices/archived` too
        // (it needs a key), next to the row of that path.
        let r = send(&api, "DELETE", "/v1/invoices/archived").await;
        assert_eq!((r.status, r.header("allow")), (405, Some("GET, POST")));
        assert_eq!(send(&api, "GET", "/v1/invoices/archived").await.status, 401);
        // A seed face's path answers in the face's error shape.
        let r = send(&api, "GET", "/api/v1/nothing").await;
        assert_eq!(r.status, 404);
        let panel = crate::faces::error_response(
            "/api/v1/nothing",
            &ApiError::new(404, ErrorCode::NotFound, "no endpoint at /api/v1/nothing"),
            app.now(),
        );
        assert_eq!(r.body_bytes(), panel.body_bytes());
    }

    #[tokio::test]
    async fn every_function_has_a_router_of_its_own_row() {
        let app = Arc::new(App::in_memory());
        for route in ROUTES {
            let router = function(app.clone(), route.function).expect("a row");
            // Its own path answers with something other than 404/405; any
            // other row's path is 404 (or 405 where the paths coincide).
            let path = route.path.replace('{', "x").replace('}', "");
            let req = http::Request::builder()
                .method(route.method)
                .uri(&path)
                .body(Body::empty())
                .unwrap();
            let status = router.clone().oneshot(req).await.unwrap().status();
            assert!(
                status != 404
                    || route.path.contains('{')
                    || route.auth == crate::routes::Auth::Public,
                "{} {}: {status}",
                route.method,
                route.path
            );
            assert_ne!(status, 405, "{} {}", route.method, route.path);
            let health = if route.function == "health" {
                "/v1/stores"
            } else {
                "/v1/health"
            };
            let r = send(&router, "GET", health).await;
            assert!(
                matches!(r.status, 404 | 405),
                "{}: {}",
                route.function,
                r.status
            );
        }
        assert!(function(app, "no-such-function").is_none());
    }
}
