//! satsgate-local: the whole gateway in one process. It plays API Gateway
//! (every route of the route table over HTTP), and, as later parts land,
//! the scheduler, the stream and the queue.

use axum::body::Body;
use axum::Router;
use satsgate::app::App;
use satsgate::error::{ApiError, ErrorCode};
use satsgate::router::BodyTimeout;
use std::net::SocketAddr;
use std::sync::Arc;

pub mod demo;
pub mod jobs;
pub mod limits;
mod serve;
pub use limits::{Limits, WsLimits};
pub mod lock;
pub mod ws;

/// The HTTP router: every row of the route table and the dashboard
/// (`satsgate::router::local`), with the URI length limit.
pub fn router(app: Arc<App>) -> Router {
    satsgate::router::local(app).layer(axum::middleware::map_request(uri_limit))
}

/// An error answered outside the pipeline, in the API's envelope (the
/// edge layers add the request id and log it).
pub fn error_answer(e: &ApiError) -> http::Response<Body> {
    satsgate::router::to_http(satsgate::http::Response::from_error(e))
}

/// 414 for a request URI over `limits::MAX_URI_BYTES`.
async fn uri_limit(req: http::Request<Body>) -> Result<http::Request<Body>, http::Response<Body>> {
    let uri_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_len > limits::MAX_URI_BYTES {
        return Err(error_answer(&ApiError::new(
            414,
            ErrorCode::ValidationError,
            format!(
                "the request URI is {uri_len} bytes; at most {} are accepted",
                limits::MAX_URI_BYTES
            ),
        )));
    }
    Ok(req)
}

/// A running gateway (tests start one on 127.0.0.1:0).
pub struct Running {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    /// The WebSocket connections and their subscriptions.
    pub hub: Arc<ws::Hub>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    jobs: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop the jobs and the server, and save the sandbox chain.
    pub async fn stop(mut self) {
        for job in &self.jobs {
            job.abort();
        }
        for job in self.jobs.drain(..) {
            let _ = job.await;
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
        if let Some(sim) = &self.app.sim {
            if let Err(e) = sim.save().await {
                tracing::error!(error = %e, "saving the sandbox chain");
            }
        }
    }
}

/// Serve `app` on `listener` and run the background jobs on `schedule`.
pub async fn start_with_jobs(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    schedule: &jobs::Schedule,
) -> std::io::Result<Running> {
    start_with_jobs_limited(app, listener, schedule, Limits::default()).await
}

/// As `start_with_jobs`, with these connection limits.
pub async fn start_with_jobs_limited(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    schedule: &jobs::Schedule,
    limits: Limits,
) -> std::io::Result<Running> {
    let mut running = start_limited(app, listener, limits).await?;
    // The started app (it has the WebSocket hub) runs the jobs.
    running.jobs = jobs::start_jobs(running.app.clone(), schedule);
    Ok(running)
}

/// Serve `app` on `listener` until stopped (no background jobs).
pub async fn start(app: Arc<App>, listener: tokio::net::TcpListener) -> std::io::Result<Running> {
    start_limited(app, listener, Limits::default()).await
}

/// As `start`, with these connection limits.
pub async fn start_limited(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    limits: Limits,
) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    // The WebSocket hub is the app's push adapter; `/ws` and `/` upgrade.
    let (app, hub) = ws::install(app, limits.ws.clone());
    let service = ws::attach(router(app.clone()), app.clone(), hub.clone())
        .layer(satsgate::edge::layers().layer(satsgate::edge::catch_panic()))
        .layer(axum::Extension(BodyTimeout(limits.body_timeout)));
    let task = tokio::spawn(serve::serve(listener, service, limits, rx));
    Ok(Running {
        addr,
        app,
        hub,
        shutdown: Some(tx),
        task,
        jobs: Vec::new(),
    })
}
