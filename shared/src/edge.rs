//! The tower-http layers every HTTP answer goes through, in both runtimes
//! (satsgate-local's router and each Lambda's service): the one place the
//! edge policy is decided. `layers()` stacks them, outermost first:
//! request id (set, then copied to the answer), one log line per request,
//! CORS; `catch_panic()` turns a panic into the API's 500 envelope.

use crate::error::{ApiError, ErrorCode};
use crate::ids::{new_id, IdKind};
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use http::Method;
use std::time::Duration;
use tower::layer::util::{Identity, Stack};
use tower::ServiceBuilder;
use tower_http::catch_panic::{CatchPanicLayer, ResponseForPanic};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::cors::{AllowMethods, AllowOrigin, CorsLayer};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};
use tracing::Span;

/// The request id header (set on every request, copied to every answer).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request headers a browser on another origin may send.
pub const CORS_ALLOW_HEADERS: [HeaderName; 4] = [
    AUTHORIZATION,
    CONTENT_TYPE,
    HeaderName::from_static("api-key"),
    HeaderName::from_static("idempotency-key"),
];

/// Response headers a browser on another origin may read.
pub const CORS_EXPOSE_HEADERS: [HeaderName; 5] = [
    REQUEST_ID,
    HeaderName::from_static("x-ratelimit-limit"),
    HeaderName::from_static("x-ratelimit-remaining"),
    HeaderName::from_static("x-ratelimit-reset"),
    RETRY_AFTER,
];

/// On AWS, API Gateway routes CORS preflights (`OPTIONS` on any path) to
/// this function (template.yaml); its edge layers answer them.
pub const PREFLIGHT_FUNCTION: &str = "openapi";

/// How long a browser may cache a preflight answer.
pub const CORS_MAX_AGE: Duration = Duration::from_secs(600);

/// The layer stack of `layers()`.
pub type Layers = ServiceBuilder<
    Stack<
        CorsLayer,
        Stack<Trace, Stack<PropagateRequestIdLayer, Stack<SetRequestIdLayer<MakeId>, Identity>>>,
    >,
>;

/// The trace layer of `layers()`.
pub type Trace =
    TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpan, (), LogLine, (), (), ()>;

/// Every edge layer but the panic catcher, outermost first (see the
/// module doc). Both runtimes put them, with `catch_panic()` inside, around
/// the router as a `Router` layer (after routing, around each route): put
/// around the whole router as a `ServiceBuilder`, rustc cannot prove the
/// Lambda service's future `Send` with `CatchPanic` in it.
pub fn layers() -> Layers {
    ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeId))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(trace())
        .layer(cors())
}

/// A panic below it answers `500 internal` in the error envelope.
pub fn catch_panic() -> CatchPanicLayer<PanicAnswer> {
    CatchPanicLayer::custom(PanicAnswer)
}

/// CORS (API.md "Conventions"): any origin, no credentials; preflights are
/// answered here, before authentication, so they need no key.
pub fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods(AllowMethods::list(route_methods()))
        .allow_headers(CORS_ALLOW_HEADERS)
        .expose_headers(CORS_EXPOSE_HEADERS)
        .max_age(CORS_MAX_AGE)
}

/// The methods CORS allows: every method of the route table (a test checks
/// it). A list, not read from the table, so that a Lambda binary does not
/// reach the table and link every handler.
const ROUTE_METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

fn route_methods() -> Vec<Method> {
    ROUTE_METHODS.to_vec()
}

/// `req_...` ids for requests that arrive without an `X-Request-Id` (one
/// that arrives with one keeps it, so a caller can follow its request).
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeId;

impl MakeRequestId for MakeId {
    fn make_request_id<B>(&mut self, _: &http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&new_id(IdKind::Request))
            .ok()
            .map(RequestId::new)
    }
}

/// The request id of a request (set by `layers()`), or a new one.
pub fn request_id(headers: &http::HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| new_id(IdKind::Request))
}

fn trace() -> Trace {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(())
        .on_response(LogLine)
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

/// The span of a request: its id, method and path; the dispatcher records
/// the caller's `key_id` in it once the key is known.
#[derive(Debug, Clone, Copy)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, req: &http::Request<B>) -> Span {
        let request_id = req
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        tracing::info_span!(
            "request",
            request_id,
            method = %req.method(),
            path = req.uri().path(),
            key_id = tracing::field::Empty,
        )
    }
}

/// The one log line per request: status and milliseconds (in the span of
/// the request, so with its id, method, path and key id); 5xx at error level.
#[derive(Debug, Clone, Copy)]
pub struct LogLine;

impl<B> OnResponse<B> for LogLine {
    fn on_response(self, response: &http::Response<B>, latency: Duration, _: &Span) {
        let status = response.status().as_u16();
        let ms = latency.as_millis() as u64;
        if status >= 500 {
            tracing::error!(status, ms, "request failed");
        } else {
            tracing::info!(status, ms, "request");
        }
    }
}

/// A panic below the edge answers `500 internal` in the error envelope
/// (the other layers still add the request id and CORS headers).
#[derive(Debug, Clone, Copy)]
pub struct PanicAnswer;

impl ResponseForPanic for PanicAnswer {
    type ResponseBody = String;

    fn response_for_panic(
        &mut self,
        panic: Box<dyn std::any::Any + Send + 'static>,
    ) -> http::Response<String> {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(panic = what, "request handler panicked");
        let e = ApiError::new(
            500,
            ErrorCode::Internal,
            "internal error; the request id names it in our logs",
        );
        http::Response::builder()
            .status(500)
            .header(CONTENT_TYPE, "application/json")
            .body(e.body().to_string())
            .expect("a static response")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tower::ServiceExt;

    /// The logs written while `f` runs (on this thread).
    fn captured<T>(f: impl FnOnce() -> T) -> (T, String) {
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_writer(move || out.clone())
            .finish();
        let result = tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        (result, text)
    }

    fn call(
        handler: fn(http::Request<String>) -> http::Response<String>,
        req: http::Request<String>,
    ) -> (http::Response<String>, String) {
        let svc = layers()
            .layer(catch_panic())
            .service_fn(move |r| async move { Ok::<_, std::convert::Infallible>(handler(r)) });
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (resp, logs) = captured(|| rt.block_on(svc.oneshot(req)).unwrap());
        let (parts, body) = resp.into_parts();
        let bytes = rt
            .block_on(http_body_util::BodyExt::collect(body))
            .unwrap()
            .to_bytes();
        let body = String::from_utf8(bytes.to_vec()).unwrap();
        (http::Response::from_parts(parts, body), logs)
    }

    fn get(path: &str) -> http::Request<String> {
        http::Request::get(path).body(String::new()).unwrap()
    }

    #[test]
    fn cors_allows_exactly_the_methods_of_the_route_table() {
        let mut table: Vec<Method> = Vec::new();
        for r in crate::routes::ROUTES {
            let m = Method::from_bytes(r.method.as_bytes()).unwrap();
            if !table.contains(&m) {
                table.push(m);
            }
        }
        let listed = route_methods();
        assert!(
            table.iter().all(|m| listed.contains(m)),
            "{table:?} vs {listed:?}"
        );
        assert!(
            listed.iter().all(|m| table.contains(m)),
            "{table:?} vs {listed:?}"
        );
    }

    #[test]
    fn every_answer_has_a_request_id_and_one_log_line() {
        let (resp, logs) = call(|_| http::Response::new("ok".into()), get("/v1/health"));
        let id = resp.headers()[REQUEST_ID].to_str().unwrap().to_string();
        assert!(id.starts_with("req_"), "{id}");
        let lines: Vec<&str> = logs.lines().collect();
        assert_eq!(lines.len(), 1, "{logs}");
        let line: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(line["status"], 200);
        assert_eq!(line["span"]["request_id"], id.as_str());
        assert_eq!(line["span"]["path"], "/v1/health");
        assert_eq!(line["span"]["method"], "GET");

        // A caller's own id is kept, and the handler sees it.
        let mut req = get("/v1/health");
        req.headers_mut()
            .insert(REQUEST_ID, "trace-42".parse().unwrap());
        let (resp, _) = call(|r| http::Response::new(request_id(r.headers())), req);
        assert_eq!(resp.headers()[REQUEST_ID], "trace-42");
        assert_eq!(resp.body(), "trace-42");
    }

    #[test]
    fn a_panic_is_a_500_in_the_envelope_with_id_and_cors() {
        let mut req = get("/v1/invoices");
        req.headers_mut()
            .insert("origin", "http://shop.example".parse().unwrap());
        let (resp, logs) = call(|_| panic!("boom"), req);
        assert_eq!(resp.status(), 500);
        assert_eq!(resp.headers()[CONTENT_TYPE], "application/json");
        let body: serde_json::Value = serde_json::from_str(resp.body()).unwrap();
        assert_eq!(body["error"]["code"], "internal");
        assert!(resp.headers()[REQUEST_ID]
            .to_str()
            .unwrap()
            .starts_with("req_"));
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
        assert!(logs.contains("request failed"), "{logs}");
        assert!(logs.contains("boom"), "{logs}");
    }
}
