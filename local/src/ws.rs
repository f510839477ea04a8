//! satsgate-local's WebSocket: the upgrade on `/ws` and `/` (seed-000
//! clients connect to `/`), the shared protocol (`satsgate::ws`) per text
//! frame, and `Hub`, the in-memory `Push` adapter: topic -> connections,
//! each connection a bounded channel drained by its socket's writer.
//! A plain request on `/` or `/ws` (no upgrade headers) answers 404.
//!
//! Limits (`WsLimits`): connections in total and per IP, subscriptions per
//! connection; past a cap the client gets an error reply in the protocol's
//! format (and, for a connection, a close with code 1013 "try again
//! later"). A message over the size limit gets an error reply and a close
//! with code 1009 ("message too big"). Per-connection buffers are sized to
//! the protocol's messages.

use crate::error_answer;
use crate::limits::WsLimits;
use axum::body::Body;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, FromRequestParts};
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
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Frames queued for one connection before pushes to it are dropped.
const QUEUE: usize = 256;

/// Largest message read: larger ones close the connection (code 1009)
/// after an error reply; between `MAX_FRAME_BYTES` and this, the message
/// is read and answered with an error, and the connection stays open.
const MAX_MESSAGE_BYTES: usize = satsgate::ws::MAX_FRAME_BYTES * 2;

/// Socket read chunk and write buffer: requests and pushes are small JSON
/// (an invoice is about 2 KiB); tungstenite's default is 128 KiB each.
const IO_BUFFER_BYTES: usize = 4 * 1024;

/// Unsent bytes kept for a slow reader before its writes fail.
const MAX_WRITE_BUFFER_BYTES: usize = MAX_MESSAGE_BYTES * 2;

#[derive(Default)]
struct State_ {
    conns: HashMap<u64, mpsc::Sender<String>>,
    subs: HashMap<Topic, HashSet<u64>>,
    topics_of: HashMap<u64, HashSet<Topic>>,
    ip_of: HashMap<u64, IpAddr>,
    per_ip: HashMap<IpAddr, usize>,
}

/// The local subscription map and `Push` adapter. Wraps the push adapter
/// the app had before (events go to both).
pub struct Hub {
    table: Arc<dyn Table>,
    inner: Arc<dyn satsgate::push::Push>,
    state: Mutex<State_>,
    next: AtomicU64,
    limits: WsLimits,
}

impl Hub {
    pub fn new(
        table: Arc<dyn Table>,
        inner: Arc<dyn satsgate::push::Push>,
        limits: WsLimits,
    ) -> Hub {
        Hub {
            table,
            inner,
            state: Mutex::new(State_::default()),
            next: AtomicU64::new(1),
            limits,
        }
    }

    /// A new connection from `ip` (subscribed to `prices#all`): its id and
    /// its queue; Err(why) past the connection caps.
    pub fn connect(&self, ip: IpAddr) -> Result<(u64, mpsc::Receiver<String>), String> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.conns.len() >= self.limits.max_connections {
            return Err(format!(
                "too many WebSocket connections: the server accepts {} at most; try again later",
                self.limits.max_connections
            ));
        }
        let from_ip = s.per_ip.get(&ip).copied().unwrap_or(0);
        if from_ip >= self.limits.max_connections_per_ip {
            return Err(format!(
                "too many WebSocket connections from {ip}: at most {} per address; close one first",
                self.limits.max_connections_per_ip
            ));
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(QUEUE);
        s.conns.insert(id, tx);
        s.ip_of.insert(id, ip);
        s.per_ip.insert(ip, from_ip + 1);
        drop(s);
        Ok((id, rx))
    }

    pub fn disconnect(&self, id: u64) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.conns.remove(&id);
        if let Some(ip) = s.ip_of.remove(&id) {
            match s.per_ip.get_mut(&ip) {
                Some(n) if *n > 1 => *n -= 1,
                _ => {
                    s.per_ip.remove(&ip);
                }
            }
        }
        for t in s.topics_of.remove(&id).unwrap_or_default() {
            if let Some(set) = s.subs.get_mut(&t) {
                set.remove(&id);
                if set.is_empty() {
                    s.subs.remove(&t);
                }
            }
        }
    }

    /// Apply a subscription change; Err(why) when it would pass the
    /// subscription cap (nothing changes then).
    pub fn apply(&self, id: u64, effect: &Effect) -> Result<(), String> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match effect {
            Effect::Subscribe(t) => {
                let mine = s.topics_of.get(&id);
                let counted = mine.map_or(0, |m| m.iter().filter(|t| **t != Topic::Prices).count());
                let known = mine.is_some_and(|m| m.contains(t));
                if *t != Topic::Prices && !known && counted >= self.limits.max_subscriptions {
                    return Err(satsgate::ws::subscription_limit(
                        self.limits.max_subscriptions,
                    ));
                }
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
        Ok(())
    }

    /// Number of subscriptions of a connection (with `prices#all`); 0 once
    /// it has closed.
    pub fn subscriptions(&self, id: u64) -> usize {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.topics_of.get(&id).map_or(0, HashSet::len)
    }

    /// Number of topics anyone is subscribed to.
    pub fn topics(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .subs
            .len()
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
pub fn install(app: Arc<App>, limits: WsLimits) -> (Arc<App>, Arc<Hub>) {
    let hub = Arc::new(Hub::new(app.table.clone(), app.push.clone(), limits));
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
        let answer = satsgate::router::not_found(req.uri().path(), app.now());
        return satsgate::router::to_http(answer);
    }
    let query = satsgate::http::parse_query(req.uri().query().unwrap_or(""));
    let secret = match credentials(req.headers(), &query) {
        Ok(s) => s,
        Err(e) => return error_answer(&satsgate::ApiError::unauthenticated(e)),
    };
    let session = match authenticate(&app, secret.as_deref(), Some(peer.ip())).await {
        Ok(s) => s,
        Err(e) => return error_answer(&e),
    };
    let (mut parts, _body) = req.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(u) => u,
        Err(rejection) => {
            let status = rejection.status();
            let e = satsgate::ApiError::new(
                status.as_u16(),
                satsgate::error::ErrorCode::ValidationError,
                format!("not a valid WebSocket upgrade: {}", rejection.body_text()),
            );
            return error_answer(&e);
        }
    };
    upgrade
        .read_buffer_size(IO_BUFFER_BYTES)
        .write_buffer_size(IO_BUFFER_BYTES)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| run(app, hub, session, peer.ip(), socket))
}

/// Refuse a connection past a cap: the error reply, then a close frame
/// with code 1013 ("try again later").
async fn refuse(mut socket: WebSocket, why: String) {
    let _ = socket
        .send(Message::Text(error(why).to_string().into()))
        .await;
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: 1013,
            reason: "too many connections".into(),
        })))
        .await;
}

/// The error reply to a message the socket could not read, and the close
/// code to end the connection with.
fn read_error(e: axum::Error) -> (String, u16, &'static str) {
    use tungstenite::error::{CapacityError, Error};
    match e.into_inner().downcast::<Error>().map(|b| *b) {
        Ok(Error::Capacity(CapacityError::MessageTooLong { size, max_size })) => (
            format!(
                "message of {size} bytes is larger than {max_size} bytes; requests must be at most {} bytes",
                satsgate::ws::MAX_FRAME_BYTES
            ),
            1009,
            "message too big",
        ),
        Ok(other) => (format!("unreadable message: {other}"), 1002, "protocol error"),
        Err(other) => (format!("unreadable message: {other}"), 1011, "read error"),
    }
}

/// One connection: a writer draining the queue, a reader answering frames
/// (replies go through the same queue, so they stay in order with pushes).
async fn run(app: Arc<App>, hub: Arc<Hub>, session: Session, ip: IpAddr, socket: WebSocket) {
    let (id, mut rx) = match hub.connect(ip) {
        Ok(c) => c,
        Err(why) => return refuse(socket, why).await,
    };
    let replies = hub
        .state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .conns
        .get(&id)
        .cloned();
    let Some(replies) = replies else { return };
    let (mut sink, mut stream) = socket.split();
    // Set by the reader when it ends the connection for a reason.
    let close_with: Arc<Mutex<Option<CloseFrame>>> = Arc::default();
    let close_frame = close_with.clone();
    let writer = tokio::spawn(async move {
        while let Some(text) = rx.recv().await {
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
        let frame = close_frame.lock().unwrap_or_else(|e| e.into_inner()).take();
        match frame {
            Some(f) => {
                let _ = sink.send(Message::Close(Some(f))).await;
            }
            None => {
                let _ = sink.close().await;
            }
        }
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
            Ok(Message::Close(_)) => break,
            Err(e) => {
                let (why, code, reason) = read_error(e);
                let _ = replies.send(error(why).to_string()).await;
                *close_with.lock().unwrap_or_else(|e| e.into_inner()) = Some(CloseFrame {
                    code,
                    reason: reason.into(),
                });
                break;
            }
            Ok(_) => continue, // ping/pong: answered by axum
        };
        let mut out = handle_text(&app, &session, &text).await;
        if let Some(effect) = &out.effect {
            if let Err(why) = hub.apply(id, effect) {
                let action = out.reply["action"].clone();
                out.reply = error(why);
                out.reply["action"] = action;
            }
        }
        if replies.send(out.reply.to_string()).await.is_err() {
            break;
        }
    }
    hub.disconnect(id);
    drop(replies);
    let _ = writer.await;
}
