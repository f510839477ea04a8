//! satsgate-local's HTTP server: the accept loop with a connection limit,
//! hyper's HTTP/1.1 connection (with upgrades, for the WebSocket) and a
//! socket wrapper, `Guarded`, that
//! - holds the connection's slot until the socket closes (also after a
//!   WebSocket upgrade, so every open socket counts against the limit);
//! - closes a connection whose request head has not arrived in time after
//!   its first byte (slow clients), answering 408 first;
//! - turns hyper's own bodiless answers to unparsable requests (400, 414,
//!   431) into the API's error envelope with an `X-Request-Id`;
//! - closes gently ("lingering close"): it stops sending, then reads and
//!   drops what the client still sends for a moment, so the kernel ends
//!   the connection with FIN and not RST (an RST can make the client lose
//!   our last answer, e.g. a 413 while it is still sending the body, or a
//!   WebSocket close frame).
//!
//! Idle connections (no request since connect or since the last response)
//! are closed by hyper's header-read timer, set to the idle timeout.

use crate::limits::{Limits, MAX_HEAD_BYTES};
use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use satsgate::error::{ApiError, ErrorCode};
use satsgate::ids::{new_id, IdKind};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// How long stopping waits for open requests to finish.
const DRAIN: Duration = Duration::from_secs(5);

/// How long, and how many bytes, a closing socket still reads.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1024 * 1024;

/// Serve `router` on `listener` until `stop` fires.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    mut stop: oneshot::Receiver<()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (closing_tx, closing) = watch::channel(false);
    let mut conns = JoinSet::new();
    loop {
        // Past the limit, wait: new connections stay in the listen backlog
        // (the kernel's queue) until an open one closes.
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => s.expect("the semaphore is never closed"),
            _ = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors or similar: keep serving the
                    // open connections and try again shortly.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        while conns.try_join_next().is_some() {}
        conns.spawn(connection(
            stream,
            peer,
            slot,
            router.clone(),
            limits.clone(),
            closing.clone(),
        ));
    }
    let _ = closing_tx.send(true);
    let drained = tokio::time::timeout(DRAIN, async { while conns.join_next().await.is_some() {} });
    if drained.await.is_err() {
        conns.abort_all();
    }
}

/// What the service tells the socket about the connection.
#[derive(Default)]
struct ConnState {
    /// A request is being served (its head has been read).
    in_request: AtomicBool,
    /// Requests started so far (a head deadline belongs to one of them).
    requests: AtomicU64,
    /// The connection became a WebSocket: no HTTP rules apply any more.
    upgraded: AtomicBool,
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    slot: OwnedSemaphorePermit,
    router: Router,
    limits: Limits,
    mut closing: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let state = Arc::new(ConnState::default());
    let io = Guarded::new(stream, slot, state.clone(), limits.header_timeout);
    let service = hyper::service::service_fn(move |mut req: http::Request<_>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        state.requests.fetch_add(1, Ordering::SeqCst);
        state.in_request.store(true, Ordering::SeqCst);
        let (router, state) = (router.clone(), state.clone());
        async move {
            let response = router.oneshot(req).await;
            if let Ok(r) = &response {
                if r.status() == http::StatusCode::SWITCHING_PROTOCOLS {
                    state.upgraded.store(true, Ordering::SeqCst);
                }
            }
            state.in_request.store(false, Ordering::SeqCst);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = closing.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, %peer, "connection ended");
    }
}

/// The bytes of a complete error answer in the API's envelope (the socket
/// is closed after it).
fn answer(status: u16, code: ErrorCode, message: &str) -> Vec<u8> {
    let request_id = new_id(IdKind::Request);
    let body = ApiError::new(status, code, message).body().to_string();
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    tracing::info!(request_id, status, message, "request refused");
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-request-id: {request_id}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// hyper's automatic answer to a request it could not parse (status line,
/// `content-length: 0`, no body, none of our headers): its envelope version.
fn replace_bare_error(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    if !text.ends_with("\r\n\r\n") {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    if !lower.contains("\r\ncontent-length: 0\r\n") || lower.contains("\r\nx-request-id:") {
        return None;
    }
    let status = text.strip_prefix("HTTP/1.1 ")?.get(..3)?;
    let message = match status {
        "400" => "malformed HTTP request: the request line or a header could not be parsed",
        "414" => "the request URI is too long",
        "431" => "the request head is too large (at most 128 KiB of request line and headers)",
        _ => return None,
    };
    let status = status.parse().ok()?;
    Some(answer(status, ErrorCode::ValidationError, message))
}

/// The socket of one connection (see the module doc).
struct Guarded {
    /// Always Some until dropped (the drop hands it to the lingering close).
    io: Option<TcpStream>,
    slot: Option<OwnedSemaphorePermit>,
    state: Arc<ConnState>,
    header_timeout: Duration,
    /// The deadline of the request head being read, and its request number.
    head_deadline: Option<(u64, Pin<Box<tokio::time::Sleep>>)>,
    /// An answer of ours being written, and how much of it is out.
    ours: Option<(Vec<u8>, usize)>,
    timed_out: bool,
}

impl Guarded {
    fn new(
        io: TcpStream,
        slot: OwnedSemaphorePermit,
        state: Arc<ConnState>,
        header_timeout: Duration,
    ) -> Self {
        Guarded {
            io: Some(io),
            slot: Some(slot),
            state,
            header_timeout,
            head_deadline: None,
            ours: None,
            timed_out: false,
        }
    }

    fn io(&mut self) -> Pin<&mut TcpStream> {
        Pin::new(self.io.as_mut().expect("the socket is open until dropped"))
    }

    /// Whether a request head is what the socket is waiting for.
    fn awaiting_head(&self) -> bool {
        !self.state.in_request.load(Ordering::SeqCst) && !self.state.upgraded.load(Ordering::SeqCst)
    }

    /// Write out our own answer, if one is pending.
    fn poll_ours(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, at)) = &mut self.ours {
            let io = Pin::new(self.io.as_mut().expect("the socket is open until dropped"));
            let n = ready!(io.poll_write(cx, &bytes[*at..]))?;
            *at += n;
            if n == 0 || *at >= bytes.len() {
                self.ours = None;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.timed_out {
            let _ = ready!(this.poll_ours(cx));
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "request head not received in time",
            )));
        }
        let request = this.state.requests.load(Ordering::SeqCst);
        if !this.awaiting_head()
            || this
                .head_deadline
                .as_ref()
                .is_some_and(|(r, _)| *r != request)
        {
            this.head_deadline = None;
        }
        let before = buf.filled().len();
        match this.io().poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before
                    && this.awaiting_head()
                    && this.head_deadline.is_none()
                {
                    let sleep = Box::pin(tokio::time::sleep(this.header_timeout));
                    this.head_deadline = Some((request, sleep));
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                let Some((_, deadline)) = &mut this.head_deadline else {
                    return Poll::Pending;
                };
                if deadline.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.timed_out = true;
                this.head_deadline = None;
                let secs = this.header_timeout.as_secs_f64();
                this.ours = Some((
                    answer(
                        408,
                        ErrorCode::ValidationError,
                        &format!("the request head did not arrive within {secs} seconds"),
                    ),
                    0,
                ));
                Pin::new(this).poll_read(cx, buf)
            }
            other => other,
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_ours(cx))?;
        if !this.state.upgraded.load(Ordering::SeqCst) {
            if let Some(ours) = replace_bare_error(buf) {
                this.ours = Some((ours, 0));
                // hyper's bytes count as written; ours go out now or on flush.
                let _ = this.poll_ours(cx)?;
                return Poll::Ready(Ok(buf.len()));
            }
        }
        this.io().poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_ours(cx))?;
        this.io().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_ours(cx))?;
        this.io().poll_shutdown(cx)
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        let (Some(io), Ok(rt)) = (self.io.take(), tokio::runtime::Handle::try_current()) else {
            return;
        };
        // hyper may drop the socket right after an error: what is left of
        // our answer goes out first. The slot is held until the end.
        let rest = self.ours.take().map(|(b, at)| b[at..].to_vec());
        rt.spawn(linger(io, rest, self.slot.take()));
    }
}

/// Lingering close (see the module doc).
async fn linger(mut io: TcpStream, rest: Option<Vec<u8>>, _slot: Option<OwnedSemaphorePermit>) {
    let _ = tokio::time::timeout(LINGER, async {
        if let Some(rest) = rest {
            io.write_all(&rest).await?;
        }
        io.shutdown().await?;
        let mut buf = [0u8; 8192];
        let mut read = 0;
        while read < LINGER_BYTES {
            match io.read(&mut buf).await? {
                0 => break,
                n => read += n,
            }
        }
        Ok::<(), io::Error>(())
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bare_error_answers_are_replaced() {
        let bare = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(replace_bare_error(bare).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(out.contains("x-request-id: req_"));
        let body = out.split("\r\n\r\n").nth(1).unwrap();
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "validation_error");
        let ours = b"HTTP/1.1 404 Not Found\r\nx-request-id: req_1\r\ncontent-length: 0\r\n\r\n";
        assert!(replace_bare_error(ours).is_none());
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert!(replace_bare_error(with_body).is_none());
    }
}
