//! satsgate-local's connection limits (README "Limits"): how many sockets
//! it keeps open, how long a client may take to send a request, and the
//! WebSocket caps. Defaults fit a laptop; each one has an env var.

use std::time::Duration;

/// Longest request target (path and query) served; longer is 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Largest request head (request line and headers) read; larger is 431.
/// Above the `http` crate's own URI limit (64 KiB), so a URI too long for
/// it is a 414 and not a 431.
pub const MAX_HEAD_BYTES: usize = 128 * 1024;

/// HTTP and WebSocket limits of one server.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Open sockets (HTTP and WebSocket) at most; past it new connections
    /// wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// A request head must arrive complete within this time of its first
    /// byte, else 408 and the connection is closed (slow clients).
    pub header_timeout: Duration,
    /// A request body must arrive complete within this time, else 408.
    pub body_timeout: Duration,
    /// A connection with no request for this long (from its start or its
    /// previous response) is closed.
    pub idle_timeout: Duration,
    pub ws: WsLimits,
}

/// WebSocket caps (past one, the client gets a protocol error reply).
#[derive(Debug, Clone, PartialEq)]
pub struct WsLimits {
    /// Open WebSocket connections in total.
    pub max_connections: usize,
    /// Open WebSocket connections per client IP address.
    pub max_connections_per_ip: usize,
    /// Subscriptions per connection (the implicit `prices#all` one not
    /// counted).
    pub max_subscriptions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            ws: WsLimits::default(),
        }
    }
}

impl Default for WsLimits {
    fn default() -> Self {
        WsLimits {
            max_connections: 256,
            max_connections_per_ip: 16,
            max_subscriptions: satsgate::ws::MAX_SUBSCRIPTIONS,
        }
    }
}

fn var<T: std::str::FromStr>(name: &str, out: &mut T) -> Result<(), String> {
    if let Ok(v) = std::env::var(name) {
        *out = v
            .trim()
            .parse()
            .map_err(|_| format!("{name}=`{v}` is not a whole number"))?;
    }
    Ok(())
}

fn positive(name: &str, n: u64) -> Result<u64, String> {
    if n == 0 {
        return Err(format!("{name} must be at least 1"));
    }
    Ok(n)
}

fn count(name: &str, out: &mut usize) -> Result<(), String> {
    var(name, out)?;
    positive(name, *out as u64).map(|_| ())
}

fn seconds(name: &str, out: &mut Duration) -> Result<(), String> {
    let mut secs = out.as_secs();
    var(name, &mut secs)?;
    *out = Duration::from_secs(positive(name, secs)?);
    Ok(())
}

impl Limits {
    /// The defaults, changed by `SATSGATE_MAX_CONNECTIONS`,
    /// `SATSGATE_HEADER_TIMEOUT_SECS`, `SATSGATE_BODY_TIMEOUT_SECS`,
    /// `SATSGATE_IDLE_TIMEOUT_SECS`, `SATSGATE_WS_MAX_CONNECTIONS`,
    /// `SATSGATE_WS_MAX_CONNECTIONS_PER_IP`, `SATSGATE_WS_MAX_SUBSCRIPTIONS`.
    pub fn from_env() -> Result<Limits, String> {
        let mut l = Limits::default();
        count("SATSGATE_MAX_CONNECTIONS", &mut l.max_connections)?;
        seconds("SATSGATE_HEADER_TIMEOUT_SECS", &mut l.header_timeout)?;
        seconds("SATSGATE_BODY_TIMEOUT_SECS", &mut l.body_timeout)?;
        seconds("SATSGATE_IDLE_TIMEOUT_SECS", &mut l.idle_timeout)?;
        count("SATSGATE_WS_MAX_CONNECTIONS", &mut l.ws.max_connections)?;
        count(
            "SATSGATE_WS_MAX_CONNECTIONS_PER_IP",
            &mut l.ws.max_connections_per_ip,
        )?;
        count("SATSGATE_WS_MAX_SUBSCRIPTIONS", &mut l.ws.max_subscriptions)?;
        Ok(l)
    }
}
