//! satsgate-local: the whole gateway in one process. It plays API Gateway
//! (every route of the route table over HTTP), and, as later parts land,
//! the scheduler, the stream and the queue.

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::Router;
use satsgate::app::App;
use satsgate::dispatch::{dispatch, too_large};
use satsgate::http::{Request, Response, MAX_BODY_BYTES};
use std::net::SocketAddr;
use std::sync::Arc;

pub mod demo;
pub mod jobs;
pub mod lock;
// -- websocket (local/src/ws.rs) --
pub mod ws;
// -- end websocket --

/// The HTTP router: every request goes through the shared dispatcher.
pub fn router(app: Arc<App>) -> Router {
    Router::new().fallback(serve_one).with_state(app)
}

async fn serve_one(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: http::Request<Body>,
) -> http::Response<Body> {
    let (parts, body) = req.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut request = Request::new(parts.method, path_and_query);
    request.headers = parts.headers;
    request.source_ip = Some(peer.ip());
    match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => request.body = bytes,
        Err(_) => return to_http(Response::from_error(&too_large())),
    }
    to_http(dispatch(&app, request).await)
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
            .body(Body::from(
                "{\"error\":{\"code\":\"internal\",\"message\":\"bad response header\"}}",
            ))
            .expect("static response")
    })
}

/// A running gateway (tests start one on 127.0.0.1:0).
pub struct Running {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    jobs: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop the jobs and the server, and flush the sandbox chain to disk.
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
            if let Err(e) = sim.flush() {
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
    let mut running = start(app, listener).await?;
    // The started app (it has the WebSocket hub) runs the jobs.
    running.jobs = jobs::start_jobs(running.app.clone(), schedule);
    Ok(running)
}

/// Serve `app` on `listener` until stopped (no background jobs).
pub async fn start(app: Arc<App>, listener: tokio::net::TcpListener) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    // -- websocket: the hub is the app's push adapter; `/ws` and `/` upgrade --
    let (app, hub) = ws::install(app);
    let service = ws::attach(router(app.clone()), app.clone(), hub)
        .into_make_service_with_connect_info::<SocketAddr>();
    // -- end websocket --
    let task = tokio::spawn(async move {
        let server = axum::serve(listener, service).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        if let Err(e) = server.await {
            tracing::error!(error = %e, "server stopped");
        }
    });
    Ok(Running {
        addr,
        app,
        shutdown: Some(tx),
        task,
        jobs: Vec::new(),
    })
}
