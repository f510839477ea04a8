//! One delivery attempt over HTTP: POST the event JSON with its signature,
//! a timeout, no redirects, no proxy, at most `MAX_RESPONSE_BYTES` of the
//! answer read, and only to addresses the SSRF guard accepted at connect
//! time (in insecure mode too: it then also accepts loopback and private
//! addresses, never link-local or metadata ones).

use super::signature;
use super::url::{parse_url, GuardedResolver};
use super::Attempt;
use crate::clock::Stamp;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The most of a receiver's answer that is read.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The most of it kept in the delivery log.
pub const LOGGED_RESPONSE_CHARS: usize = 256;
pub const USER_AGENT: &str = concat!("satsgate-webhooks/", env!("CARGO_PKG_VERSION"));

fn client(allow_insecure: bool) -> &'static reqwest::Client {
    static SECURE: OnceLock<reqwest::Client> = OnceLock::new();
    static INSECURE: OnceLock<reqwest::Client> = OnceLock::new();
    let cell = if allow_insecure { &INSECURE } else { &SECURE };
    cell.get_or_init(|| {
        let mut b = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(60))
            .dns_resolver(GuardedResolver { allow_insecure });
        if !allow_insecure {
            b = b.https_only(true);
        }
        b.build().expect("webhook HTTP client")
    })
}

/// A signed request, ready to send.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub url: &'a str,
    pub body: &'a str,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub delivery_id: &'a str,
    pub secrets: Vec<&'a str>,
}

/// POST once and report the attempt (never an error: failures are attempts).
pub async fn post(
    out: &Outgoing<'_>,
    now: time::OffsetDateTime,
    timeout: Duration,
    allow_insecure: bool,
) -> Attempt {
    let started = Instant::now();
    let result = post_inner(out, now, timeout, allow_insecure).await;
    let duration_ms = started.elapsed().as_millis() as u64;
    let at = Stamp::new(now);
    match result {
        Ok((status, body)) => {
            let error = match status {
                200..=299 => None,
                300..=399 => Some(format!("HTTP {status}: redirects are not followed; point the endpoint at the final URL")),
                _ => Some(format!("HTTP {status}")),
            };
            let text: String = String::from_utf8_lossy(&body)
                .chars()
                .take(LOGGED_RESPONSE_CHARS)
                .collect();
            Attempt {
                at,
                status_code: Some(status),
                error,
                duration_ms,
                response_body: (!text.is_empty()).then_some(text),
            }
        }
        Err(error) => Attempt {
            at,
            status_code: None,
            error: Some(error),
            duration_ms,
            response_body: None,
        },
    }
}

async fn post_inner(
    out: &Outgoing<'_>,
    now: time::OffsetDateTime,
    timeout: Duration,
    allow_insecure: bool,
) -> Result<(u16, Vec<u8>), String> {
    // The URL itself (scheme, IP literals) is checked again at every send;
    // names are checked by the guarded client's resolver as it connects.
    let url = parse_url(out.url, allow_insecure).map_err(|e| format!("refused: the URL {e}"))?;
    let t = now.unix_timestamp();
    let signature = signature::header_value(&out.secrets, t, out.body.as_bytes());
    let send = client(allow_insecure)
        .post(url)
        .timeout(timeout)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(signature::HEADER, signature)
        .header("Satsgate-Event-Id", out.event_id)
        .header("Satsgate-Event-Type", out.event_type)
        .header("Satsgate-Delivery-Id", out.delivery_id)
        .header("Idempotency-Key", out.event_id)
        .body(out.body.to_string());
    let fut = async {
        let mut resp = send.send().await.map_err(|e| describe(&e, timeout))?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        while body.len() < MAX_RESPONSE_BYTES {
            match resp.chunk().await {
                Ok(Some(chunk)) => body
                    .extend_from_slice(&chunk[..chunk.len().min(MAX_RESPONSE_BYTES - body.len())]),
                Ok(None) => break,
                // The status is what counts; a broken body after it is logged as cut.
                Err(e) if e.is_timeout() => return Err(describe(&e, timeout)),
                Err(_) => break,
            }
        }
        Ok((status, body))
    };
    // reqwest's timeout covers the body too; this is a backstop.
    match tokio::time::timeout(timeout + Duration::from_secs(1), fut).await {
        Ok(r) => r,
        Err(_) => Err(format!("timed out after {} s", timeout.as_secs_f64())),
    }
}

/// A short, actionable description of a transport error.
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("timed out after {} s", timeout.as_secs_f64());
    }
    let mut parts = vec![];
    let mut src: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = src {
        let text = s.to_string();
        if !parts.iter().any(|p: &String| p.contains(&text)) {
            parts.push(text);
        }
        src = s.source();
    }
    let mut msg = parts.join(": ");
    if msg.contains("webhooks go only to public addresses") {
        msg = format!(
            "refused: {}",
            parts
                .iter()
                .find(|p| p.contains("public addresses"))
                .cloned()
                .unwrap_or(msg)
        );
    } else if e.is_connect() {
        msg = format!("could not connect: {msg}");
    }
    msg.chars().take(300).collect()
}
