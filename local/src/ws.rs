//! satsgate-local's WebSocket: the upgrade on `/ws` and `/` (seed-000
//! clients connect to `/`), the shared protocol (`satsgate::ws`) per text
//! frame, and `Hub`, the in-memory `Push` adapter: topic -> connections,
//! each connection a bounded channel drained by its socket's writer.
//! A plain GET on `/` or `/ws` (no upgrade headers) goes to the dispatcher.

use crate::{serve_one, to_http};
use axum::body::Body;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::routing::any;
use axum::Router;
use futures::{SinkExt, StreamExt};
use satsgate::app::App;
use satsgate::events::Event;
use satsgate::table::Table;
use satsgate::ws::{
    authenticate, credentials, error, event_frame, event_topics, handle_text, Effect, Session,
    Topic,
};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Frames queued for one connection before pushes to it are dropped.
const QUEUE: usize = 256;

#[derive(Default)]
struct State_ {
    conns: HashMap<u64, mpsc::Sender<String>>,
    subs: HashMap<Topic, HashSet<u64>>,
    topics_of: HashMap<u64, HashSet<Topic>>,
}

/// The local subscription map and `Push` adapter. Wraps the push adapter
/// the app had before (events go to both).
pub struct Hub {
    table: Arc<dyn Table>,
    inner: Arc<dyn satsgate::push::Push>,
    state: Mutex<State_>,
    next: AtomicU64,
}

impl Hub {
    pub fn new(table: Arc<dyn Table>, inner: Arc<dyn satsgate::push::Push>) -> Hub {
        Hub {
            table,
            inner,
            state: Mutex::new(State_::default()),
            next: AtomicU64::new(1),
        }
    }

    /// A new connection (subscribed to `prices#all`): its id and its queue.
    pub fn connect(&self) -> (u64, mpsc::Receiver<String>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(QUEUE);
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.conns.insert(id, tx);
        drop(s);
        self.apply(id, &Effect::Subscribe(Topic::Prices));
        (id, rx)
    }

    pub fn disconnect(&self, id: u64) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.conns.remove(&id);
        for t in s.topics_of.remove(&id).unwrap_or_default() {
            if let Some(set) = s.subs.get_mut(&t) {
                set.remove(&id);
                if set.is_empty() {
                    s.subs.remove(&t);
                }
            }
        }
    }

    pub fn apply(&self, id: u64, effect: &Effect) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match effect {
            Effect::Subscribe(t) => {
                s.subs.entry(t.clone()).or_default().insert(id);
                s.topics_of.entry(id).or_default().insert(t.clone());
            }
            Effect::Unsubscribe(t) => {
                if let Some(set) = s.subs.get_mut(t) {
                    set.remove(&id);
                    if set.is_empty() {
                        s.subs.remove(t);
                    }
                }
                if let Some(set) = s.topics_of.get_mut(&id) {
                    set.remove(t);
                }
            }
        }
    }

    /// Number of open connections.
    pub fn connections(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .conns
            .len()
    }

    /// Queue `frame` for every connection subscribed to any of `topics`
    /// (once each). A full queue drops the frame for that connection.
    pub fn send(&self, topics: &[Topic], frame: &str) -> usize {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let ids: HashSet<u64> = topics
            .iter()
            .filter_map(|t| s.subs.get(t))
            .flatten()
            .copied()
            .collect();
        let mut n = 0;
        for id in ids {
            if let Some(tx) = s.conns.get(&id) {
                match tx.try_send(frame.to_string()) {
                    Ok(()) => n += 1,
                    Err(_) => tracing::warn!(
                        connection = id,
                        "WebSocket queue full or closed; push dropped"
                    ),
                }
            }
        }
        n
    }
}

// `Push` is an `async_trait`; written out by hand (satsgate-local does not
// depend on the macro crate).
impl satsgate::push::Push for Hub {
    fn push<'a, 'b, 'c>(&'a self, event: &'b Event) -> Pin<Box<dyn Future<Output = ()> + Send + 'c>>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        Box::pin(async move {
            self.inner.push(event).await;
            let Some(frame) = event_frame(event) else {
                return;
            };
            let topics = event_topics(&*self.table, event).await;
            self.send(&topics, &frame.to_string());
        })
    }
}

/// The app with a hub installed as its push adapter.
pub fn install(app: Arc<App>) -> (Arc<App>, Arc<Hub>) {
    let hub = Arc::new(Hub::new(app.table.clone(), app.push.clone()));
    let app = Arc::new((*app).clone().with_push(hub.clone()));
    (app, hub)
}

/// Add the WebSocket routes (`/ws`, `/`) to the HTTP router.
pub fn attach(router: Router, app: Arc<App>, hub: Arc<Hub>) -> Router {
    let handler = move |ConnectInfo(peer): ConnectInfo<SocketAddr>, req: http::Request<Body>| {
        let (app, hub) = (app.clone(), hub.clone());
        async move { entry(app, hub, peer, req).await }
    };
    router
        .route("/ws", any(handler.clone()))
        .route("/", any(handler))
}

fn is_upgrade(req: &http::Request<Body>) -> bool {
    req.headers()
        .get(http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

async fn entry(
    app: Arc<App>,
    hub: Arc<Hub>,
    peer: SocketAddr,
    req: http::Request<Body>,
) -> http::Response<Body> {
    if !is_upgrade(&req) {
        return serve_one(State(app), ConnectInfo(peer), req).await;
    }
    let query = satsgate::http::parse_query(req.uri().query().unwrap_or(""));
    let secret = match credentials(req.headers(), &query) {
        Ok(s) => s,
        Err(e) => {
            return to_http(satsgate::http::Response::from_error(
                &satsgate::ApiError::unauthenticated(e),
            ))
        }
    };
    let session = match authenticate(&app, secret.as_deref(), Some(peer.ip())).await {
        Ok(s) => s,
        Err(e) => return to_http(satsgate::http::Response::from_error(&e)),
    };
    let (mut parts, _body) = req.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(u) => u,
        Err(rejection) => return axum::response::IntoResponse::into_response(rejection),
    };
    upgrade
        .max_message_size(satsgate::ws::MAX_FRAME_BYTES * 2)
        .on_upgrade(move |socket| run(app, hub, session, socket))
}

/// One connection: a writer draining the queue, a reader answering frames
/// (replies go through the same queue, so they stay in order with pushes).
async fn run(app: Arc<App>, hub: Arc<Hub>, session: Session, socket: WebSocket) {
    let (id, mut rx) = hub.connect();
    let replies = hub
        .state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .conns
        .get(&id)
        .cloned();
    let Some(replies) = replies else { return };
    let (mut sink, mut stream) = socket.split();
    let writer = tokio::spawn(async move {
        while let Some(text) = rx.recv().await {
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    while let Some(msg) = stream.next().await {
        let text = match msg {
            Ok(Message::Text(t)) => t.to_string(),
            Ok(Message::Binary(b)) => match String::from_utf8(b.to_vec()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = replies
                        .send(error("binary frames must be UTF-8 JSON").to_string())
                        .await;
                    continue;
                }
            },
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue, // ping/pong: answered by axum
        };
        let out = handle_text(&app, &session, &text).await;
        if let Some(effect) = &out.effect {
            hub.apply(id, effect);
        }
        if replies.send(out.reply.to_string()).await.is_err() {
            break;
        }
    }
    hub.disconnect(id);
    drop(replies);
    let _ = writer.await;
}
