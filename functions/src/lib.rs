//! Shared wiring of the Lambda binaries: build the app once (at init, not
//! per request), then turn each API Gateway event into a `Request`, run the
//! shared dispatcher for this function's route, and turn the `Response` back.

use futures::future::BoxFuture;
use futures::FutureExt;
use lambda_http::{Body, RequestExt};
use satsgate::app::App;
use satsgate::dispatch::dispatch_as;
use satsgate::http::Request;
use std::convert::Infallible;
use std::sync::Arc;
use tower::ServiceExt;

pub use lambda_http::Error;

pub mod manifest;

use satsgate::metrics::POLLER_ERRORS;

/// Logging, then the app with only the adapters `function` needs.
pub async fn init(function: &str) -> Result<Arc<App>, Error> {
    satsgate::telemetry::init(true);
    let needs = manifest::needs(function).ok_or_else(|| {
        format!("{function} is neither a route nor a job (functions/src/manifest.rs)")
    })?;
    Ok(Arc::new(App::for_lambda(needs).await?))
}

// -- webhooks: events-fanout and webhook-dispatcher (functions/src/webhooks.rs) --
pub mod webhooks;
// -- end webhooks --

/// Run the HTTP function `function` (a row of the route table).
pub async fn serve_http(function: &'static str) -> Result<(), Error> {
    if satsgate::routes::route_of(function).is_none() {
        return Err(format!("no route for function {function}").into());
    }
    let app = init(function).await?;
    lambda_http::run(lambda_http::service_fn(
        move |event: lambda_http::Request| {
            let app = app.clone();
            async move { Ok::<_, Error>(handle(&app, function, event).await) }
        },
    ))
    .await
}

/// One API Gateway event through the edge layers (`satsgate::edge`) and
/// the dispatcher (also used by tests with the sample events in `events/`).
pub fn handle<'a>(
    app: &'a App,
    function: &'a str,
    event: lambda_http::Request,
) -> BoxFuture<'a, lambda_http::Response<Body>> {
    Box::pin(async move {
        let service = satsgate::edge::layers().service(Dispatch { app, function });
        let response = match service.oneshot(event).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        // The layers' body is a stream; API Gateway takes the whole answer.
        let (parts, body) = response.into_parts();
        let bytes = match http_body_util::BodyExt::collect(body).await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => {
                tracing::error!(error = %e, "reading the answer");
                Default::default()
            }
        };
        let content_type = parts
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let body = lambda_body(content_type, bytes.to_vec());
        lambda_http::Response::from_parts(parts, body)
    })
}

/// The dispatcher for one function's route, as a tower service.
#[derive(Clone, Copy)]
struct Dispatch<'a> {
    app: &'a App,
    function: &'a str,
}

impl<'a> tower::Service<lambda_http::Request> for Dispatch<'a> {
    type Response = lambda_http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'a, Result<Self::Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, event: lambda_http::Request) -> Self::Future {
        Box::pin(dispatch_event(self.app, self.function, event).map(Ok))
    }
}

/// Text for JSON, HTML and SVG (API Gateway passes it as is), binary
/// (base64 on the wire) for anything else.
fn lambda_body(content_type: &str, bytes: Vec<u8>) -> Body {
    if bytes.is_empty() {
        Body::Empty
    } else if content_type.starts_with("text/")
        || content_type.contains("json")
        || content_type.contains("svg")
    {
        match String::from_utf8(bytes) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    } else {
        Body::Binary(bytes)
    }
}

async fn dispatch_event(
    app: &App,
    function: &str,
    event: lambda_http::Request,
) -> lambda_http::Response<Body> {
    let req = to_request(event);
    to_lambda(dispatch_as(app, req, Some(function)).await)
}

// -- dashboard (shared/src/dashboard) --
/// Run the `dashboard` function: every `/dashboard` path (its routes are
/// `satsgate::dashboard::ROUTES`, next to the route table).
pub async fn serve_dashboard(function: &'static str) -> Result<(), Error> {
    let app = init(function).await?;
    lambda_http::run(lambda_http::service_fn(
        move |event: lambda_http::Request| {
            let app = app.clone();
            async move { Ok::<_, Error>(handle_dashboard(&app, event).await) }
        },
    ))
    .await
}

/// One API Gateway event through the dashboard.
pub async fn handle_dashboard(
    app: &App,
    event: lambda_http::Request,
) -> lambda_http::Response<Body> {
    let req = to_request(event);
    if !satsgate::dashboard::owns(&req.path) {
        let e = satsgate::error::ApiError::not_found("endpoint");
        return to_lambda(satsgate::http::Response::from_error(&e));
    }
    to_lambda(satsgate::dashboard::serve(app, req).await)
}
// -- end dashboard --

/// An API Gateway event as our request.
fn to_request(event: lambda_http::Request) -> Request {
    let source_ip = match event.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => {
            ctx.http.source_ip.as_deref().and_then(|ip| ip.parse().ok())
        }
        _ => None,
    };
    let (parts, body) = event.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut req = Request::new(parts.method, path_and_query);
    req.headers = parts.headers;
    req.source_ip = source_ip;
    req.body = match body {
        Body::Empty => Default::default(),
        Body::Text(t) => t.into_bytes().into(),
        Body::Binary(b) => b.into(),
        _ => Default::default(),
    };
    req
}

/// Our response as a Lambda one.
fn to_lambda(r: satsgate::http::Response) -> lambda_http::Response<Body> {
    let mut b = lambda_http::Response::builder().status(r.status);
    let ct = r.content_type().to_string();
    if !ct.is_empty() {
        b = b.header("content-type", ct.as_str());
    }
    for (k, v) in &r.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(lambda_body(&ct, r.body_bytes().to_vec()))
        .unwrap_or_else(|_| {
            lambda_http::Response::new(Body::Text(
                "{\"error\":{\"code\":\"internal\",\"message\":\"bad response\"}}".into(),
            ))
        })
}

/// A job run per invocation: a scheduled EventBridge rule, a stream batch, ...
pub type Job = for<'a> fn(
    &'a App,
    serde_json::Value,
) -> futures::future::BoxFuture<'a, Result<serde_json::Value, String>>;

/// Run a scheduled job (EventBridge `rate(...)`): the app is built once, each
/// invocation runs `job` once; a failed run is an error (Lambda retries it).
pub async fn serve_scheduled(name: &'static str, job: Job) -> Result<(), Error> {
    let app = init(name).await?;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
        let app = app.clone();
        async move {
            let started = std::time::Instant::now();
            let result = job(&app, event.payload).await;
            match &result {
                Ok(report) => tracing::info!(job = name, ms = started.elapsed().as_millis() as u64, %report, "job done"),
                Err(e) => tracing::error!(job = name, error = %e, "job failed"),
            }
            result.map_err(Error::from)
        }
    }))
    .await
}

/// The chain poller as a job.
pub fn chain_poller(
    app: &App,
    _event: serde_json::Value,
) -> futures::future::BoxFuture<'_, Result<serde_json::Value, String>> {
    Box::pin(async move {
        let r = satsgate::invoice::poller::poll_chain(app)
            .await
            .inspect_err(|_| satsgate::metrics::count(&[(POLLER_ERRORS, 1)]))?;
        satsgate::metrics::count(&[(POLLER_ERRORS, r.errors as u64)]);
        Ok(
            serde_json::json!({"due": r.due, "checked": r.checked, "changed": r.changed, "errors": r.errors}),
        )
    })
}
