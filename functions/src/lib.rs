//! Shared wiring of the Lambda binaries: build the app once (at init, not
//! per request), then serve each API Gateway event with the router of this
//! function's row (`satsgate::router`) inside the edge layers, the panic
//! catcher included (`satsgate::edge`), through `lambda_http::run`.

use lambda_http::{Body, RequestExt};
use satsgate::app::App;
use satsgate::bootstrap::Wiring;
use satsgate::router::ClientIp;
use satsgate::routes::Route;
use std::convert::Infallible;
use std::sync::Arc;
use tower::util::BoxCloneService;
use tower::ServiceExt;

pub use lambda_http::Error;
/// For the macros below, whatever the binary imports.
pub use satsgate;

pub mod manifest;
/// The webhook jobs: events-fanout and webhook-dispatcher.
pub mod webhooks;

use satsgate::metrics::POLLER_ERRORS;

/// Logging, then the app with only the adapters `W` names.
pub async fn init<W: Wiring>() -> Result<Arc<App>, Error> {
    let config = satsgate::app::Config::from_env(satsgate::app::Runtime::Lambda)?;
    satsgate::telemetry::init(true, config.log_filter.as_deref());
    Ok(Arc::new(App::for_lambda::<W>(config).await?))
}

/// A Lambda binary serving one row of the route table: names the row's
/// constant (`satsgate::routes::row`), so the binary links that row's
/// handler and the adapters of its needs (`manifest::route_needs`) only.
#[macro_export]
macro_rules! route_function {
    ($row:ident) => {
        struct Function;
        impl $crate::satsgate::bootstrap::Wiring for Function {
            const NEEDS: $crate::satsgate::bootstrap::Needs =
                $crate::manifest::route_needs($crate::satsgate::routes::row::$row.function);
        }
        fn main() -> Result<(), $crate::Error> {
            $crate::runtime()?.block_on($crate::serve_route::<Function>(
                &$crate::satsgate::routes::row::$row,
            ))
        }
    };
}

/// A Lambda binary running a job (`job` is a `Job`) or another handler,
/// `main` an `async fn(Arc<App>) -> Result<(), Error>`, with the needs of
/// `name` in `manifest::JOBS`.
#[macro_export]
macro_rules! job_function {
    ($name:literal, $main:expr) => {
        struct Function;
        impl $crate::satsgate::bootstrap::Wiring for Function {
            const NEEDS: $crate::satsgate::bootstrap::Needs = $crate::manifest::job_needs($name);
        }
        fn main() -> Result<(), $crate::Error> {
            $crate::runtime()?.block_on(async {
                let app = $crate::init::<Function>().await?;
                $main(app).await
            })
        }
    };
}

/// The tokio runtime of a function process.
pub fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Serve the route `row`, with the adapters of `W`.
pub async fn serve_route<W: Wiring>(row: &'static Route) -> Result<(), Error> {
    serve_row(init::<W>().await?, row).await
}

/// Serve `row` with `app` until the runtime stops. Not generic, so it is
/// compiled once in this crate: a release build does not share generic
/// code between crates, and each of the 87 binaries would otherwise
/// compile and optimise its own copy of the Lambda runtime's loop.
pub async fn serve_row(app: Arc<App>, row: &'static Route) -> Result<(), Error> {
    lambda_http::run(service(satsgate::router::row(app, row))).await
}

/// A Lambda's HTTP service: API Gateway events in, answers out.
pub type Service = BoxCloneService<lambda_http::Request, lambda_http::Response<Body>, Infallible>;

/// `router` as a Lambda's service: the source address from API Gateway's
/// request context, the edge layers and the panic catcher around it, and
/// the answer's body whole, as text or binary (`lambda_body`).
pub fn service(router: axum::Router) -> Service {
    // As a Router layer (after routing, around each route, as locally):
    // rustc then proves the future `Send` with `CatchPanic` in it.
    let layers = satsgate::edge::layers().layer(satsgate::edge::catch_panic());
    let inner = router.layer(layers).map_request(with_client_ip);
    BoxCloneService::new(tower::service_fn(move |event: lambda_http::Request| {
        let inner = inner.clone();
        async move {
            let response = match inner.oneshot(event).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            Ok(whole(response).await)
        }
    }))
}

/// An answer with its body read whole (the layers' body is a stream; API
/// Gateway takes the whole answer).
async fn whole<B>(response: http::Response<B>) -> lambda_http::Response<Body>
where
    B: http_body::Body,
    B::Error: std::fmt::Display,
{
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
}

/// One API Gateway event through the service of `function` (tests use it
/// with the sample events in `events/`); a function without a row is 404.
pub async fn handle(
    app: &App,
    function: &str,
    event: lambda_http::Request,
) -> lambda_http::Response<Body> {
    let app = Arc::new(app.clone());
    let router = satsgate::router::function(app.clone(), function).unwrap_or_else(|| {
        axum::Router::new().fallback(move |req: http::Request<axum::body::Body>| {
            let app = app.clone();
            async move {
                satsgate::router::to_http(satsgate::router::not_found(req.uri().path(), app.now()))
            }
        })
    });
    answer(router, event).await
}

async fn answer(router: axum::Router, event: lambda_http::Request) -> lambda_http::Response<Body> {
    match service(router).oneshot(event).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// The source address of an API Gateway event as a request extension.
fn with_client_ip(mut event: lambda_http::Request) -> lambda_http::Request {
    let source_ip = match event.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => {
            ctx.http.source_ip.as_deref().and_then(|ip| ip.parse().ok())
        }
        _ => None,
    };
    if let Some(ip) = source_ip {
        event.extensions_mut().insert(ClientIp(ip));
    }
    event
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

/// Serve the `dashboard` function: every `/dashboard` path (its routes are
/// `satsgate::dashboard::ROUTES`, next to the route table).
pub async fn serve_dashboard(app: Arc<App>) -> Result<(), Error> {
    lambda_http::run(service(satsgate::router::dashboard(app))).await
}

/// One API Gateway event through the dashboard.
pub async fn handle_dashboard(
    app: &App,
    event: lambda_http::Request,
) -> lambda_http::Response<Body> {
    answer(satsgate::router::dashboard(Arc::new(app.clone())), event).await
}

/// A job run per invocation: a scheduled EventBridge rule, a stream batch, ...
pub type Job = for<'a> fn(
    &'a App,
    serde_json::Value,
) -> futures::future::BoxFuture<'a, Result<serde_json::Value, String>>;

/// Run a scheduled job (EventBridge `rate(...)`): the app is built once, each
/// invocation runs `job` once; a failed run is an error (Lambda retries it).
pub async fn serve_scheduled(name: &'static str, job: Job, app: Arc<App>) -> Result<(), Error> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_in_a_route_answers_500_in_the_envelope() {
        let router = axum::Router::new().route(
            "/v1/boom",
            axum::routing::get(|| async {
                if true {
                    panic!("boom");
                }
                "never"
            }),
        );
        let event = http::Request::get("/v1/boom")
            .header("origin", "http://shop.example")
            .body(Body::Empty)
            .unwrap();
        let resp = service(router).oneshot(event).await.unwrap();
        assert_eq!(resp.status(), 500);
        assert!(resp.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_"));
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
        let Body::Text(text) = resp.body() else {
            panic!("a JSON body: {:?}", resp.body())
        };
        let body: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(body["error"]["code"], "internal");
    }
}
