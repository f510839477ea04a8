//! Shared wiring of the Lambda binaries: build the app once (at init, not
//! per request), then turn each API Gateway event into a `Request`, run the
//! shared dispatcher for this function's route, and turn the `Response` back.

use lambda_http::{Body, RequestExt};
use satsgate::app::App;
use satsgate::dispatch::dispatch_as;
use satsgate::http::Request;
use std::sync::Arc;

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

/// One API Gateway event through the dispatcher (also used by tests with
/// the sample events in `events/`).
pub async fn handle(
    app: &App,
    function: &str,
    event: lambda_http::Request,
) -> lambda_http::Response<Body> {
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
    let r = dispatch_as(app, req, Some(function)).await;
    let mut b = lambda_http::Response::builder().status(r.status);
    let ct = r.content_type().to_string();
    if !ct.is_empty() {
        b = b.header("content-type", ct);
    }
    for (k, v) in &r.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let body = match &r.body {
        satsgate::http::Body::Json(v) => Body::Text(v.to_string()),
        satsgate::http::Body::Raw {
            content_type,
            bytes,
        } if content_type.starts_with("text/")
            || content_type.contains("json")
            || content_type.contains("svg") =>
        {
            Body::Text(String::from_utf8_lossy(bytes).into_owned())
        }
        satsgate::http::Body::Raw { bytes, .. } => Body::Binary(bytes.to_vec()),
        satsgate::http::Body::Empty => Body::Empty,
    };
    b.body(body).unwrap_or_else(|_| {
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
