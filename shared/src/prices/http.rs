//! HTTP plumbing shared by the exchange adapters.

use super::{Fiat, PriceError, SourcePrice};
use reqwest::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use rust_decimal::Decimal;
use serde_json::Value;
use std::str::FromStr;
use std::time::Duration;

/// Per-request timeout unless set otherwise.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Bodies larger than this are not prices.
const MAX_BODY: usize = 1 << 20;

const SNIPPET_CHARS: usize = 200;

/// A base URL, a client and a timeout.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    client: reqwest::Client,
    base_url: String,
    pub(crate) timeout: Duration,
}

impl Endpoint {
    pub(crate) fn new(client: reqwest::Client, base_url: String) -> Endpoint {
        Endpoint {
            client,
            base_url: base_url.trim_end_matches('/').to_string(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// GETs `{base}{path}` and returns its JSON body, mapping every failure.
    pub(crate) async fn get_json(&self, path: &str) -> Result<Value, PriceError> {
        let url = format!("{}{}", self.base_url, path);
        let request = self
            .client
            .get(&url)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, concat!("satsgate/", env!("CARGO_PKG_VERSION")))
            .timeout(self.timeout);
        // The outer timeout also bounds a body that trickles in slowly.
        match tokio::time::timeout(self.timeout, fetch(request)).await {
            Ok(result) => result,
            Err(_) => Err(PriceError::Timeout),
        }
    }
}

async fn fetch(request: reqwest::RequestBuilder) -> Result<Value, PriceError> {
    let mut response = request.send().await.map_err(transport)?;
    let status = response.status();
    let html_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("text/html"));

    let mut body = Vec::new();
    let mut too_big = false;
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_BODY {
            too_big = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }

    if status.as_u16() == 429 {
        return Err(PriceError::RateLimited);
    }
    if !status.is_success() {
        return Err(PriceError::Http {
            status: status.as_u16(),
            body_snippet: snippet(&body),
        });
    }
    let text = String::from_utf8_lossy(&body);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if html_type || trimmed.starts_with('<') {
        return Err(PriceError::Parse(format!(
            "expected JSON, got an HTML page (HTTP {}): {}",
            status.as_u16(),
            snippet(&body)
        )));
    }
    if too_big {
        return Err(PriceError::Parse(format!(
            "response larger than {MAX_BODY} bytes"
        )));
    }
    serde_json::from_str(trimmed)
        .map_err(|e| PriceError::Parse(format!("invalid JSON ({e}): {}", snippet(&body))))
}

fn transport(e: reqwest::Error) -> PriceError {
    if e.is_timeout() {
        PriceError::Timeout
    } else {
        PriceError::Transport(e.to_string())
    }
}

/// The start of a body, on one line, for error messages.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = one_line.chars().take(SNIPPET_CHARS).collect();
    if one_line.chars().count() > SNIPPET_CHARS {
        out.push('…');
    }
    out
}

/// A price from a JSON string (`"64123.45"`) or number (`64123.45`), exactly.
pub(crate) fn decimal_from_json(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(s) => parse_decimal(s),
        // With serde_json's arbitrary_precision the number keeps its text.
        Value::Number(n) => parse_decimal(&n.to_string()),
        _ => None,
    }
}

fn parse_decimal(s: &str) -> Option<Decimal> {
    let s = s.trim();
    if s.contains(['e', 'E']) {
        Decimal::from_scientific(s).ok()
    } else {
        Decimal::from_str(s).ok()
    }
}

/// Asked fiats without repeats, in order.
pub(crate) fn unique(fiats: &[Fiat]) -> Vec<Fiat> {
    let mut out: Vec<Fiat> = Vec::with_capacity(fiats.len());
    for f in fiats {
        if !out.contains(f) {
            out.push(f.clone());
        }
    }
    out
}

/// Each asked fiat with its price or why there is none.
pub(crate) type Answers = Vec<(Fiat, Result<Decimal, PriceError>)>;

/// Turns per-fiat answers into the feed's result: the positive prices, or,
/// when there are none, the most telling error.
pub(crate) fn gather(
    source: &'static str,
    answers: Answers,
) -> Result<Vec<SourcePrice>, PriceError> {
    let mut prices = Vec::new();
    let mut failures: Vec<(Fiat, PriceError)> = Vec::new();
    for (fiat, answer) in answers {
        match answer {
            Ok(price) if price > Decimal::ZERO => prices.push(SourcePrice {
                source,
                fiat,
                price,
            }),
            Ok(price) => {
                let e = PriceError::Api(format!("non-positive {fiat} price {price}"));
                failures.push((fiat, e));
            }
            Err(e) => failures.push((fiat, e)),
        }
    }
    for (fiat, e) in &failures {
        match e {
            PriceError::Unsupported(_) => tracing::debug!(source, %fiat, "fiat not supported"),
            _ if !prices.is_empty() => {
                tracing::warn!(source, %fiat, error = %e, "price unavailable for one fiat")
            }
            _ => {}
        }
    }
    if prices.is_empty() {
        // Prefer a real failure over "this source does not quote that fiat".
        let pos = failures
            .iter()
            .position(|(_, e)| !matches!(e, PriceError::Unsupported(_)))
            .unwrap_or(0);
        if pos < failures.len() {
            return Err(failures.swap_remove(pos).1);
        }
    }
    Ok(prices)
}

/// A readable message from a JSON error field (string, list or object).
pub(crate) fn error_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(error_text).collect::<Vec<_>>().join("; "),
        Value::Object(map) => ["message", "error_message", "reason", "error", "id"]
            .iter()
            .find_map(|k| map.get(*k).map(error_text))
            .unwrap_or_else(|| value.to_string()),
        other => other.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Local axum servers standing in for the exchanges.

    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    use axum::Router;
    use std::time::Duration;

    /// Test adapters use this timeout; [`slow_server`] sleeps much longer.
    pub(crate) const TEST_TIMEOUT: Duration = Duration::from_millis(200);

    /// Serves `router` on 127.0.0.1 and returns its base URL.
    pub(crate) async fn serve(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind test server");
        let addr = listener.local_addr().expect("test server address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        format!("http://{addr}")
    }

    /// Answers every request with the same status, content type and body.
    pub(crate) async fn fixed_server(
        status: u16,
        content_type: &'static str,
        body: &'static str,
    ) -> String {
        let status = StatusCode::from_u16(status).expect("status");
        serve(Router::new().fallback(move || async move {
            (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
        }))
        .await
    }

    /// Answers after 5 s, far beyond [`TEST_TIMEOUT`].
    pub(crate) async fn slow_server() -> String {
        serve(Router::new().fallback(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "{}"
        }))
        .await
    }

    pub(crate) const HTML_PAGE: &str =
        "<!DOCTYPE html>\n<html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>";

    /// The failure modes every HTTP adapter must map the same way.
    /// `$make` builds the adapter from a base URL (with [`TEST_TIMEOUT`]).
    macro_rules! common_failure_tests {
        ($make:expr, $fiats:expr) => {
            mod common {
            use super::*;
            use $crate::prices::http::test_support::{
                fixed_server, slow_server, HTML_PAGE,
            };
            use $crate::prices::{PriceError, PriceFeed};

            async fn run(base: String) -> Result<Vec<$crate::prices::SourcePrice>, PriceError> {
                let feed = ($make)(base);
                PriceFeed::fetch(&feed, &$fiats).await
            }

            #[tokio::test]
            async fn html_page_with_200_is_parse_error() {
                let err = run(fixed_server(200, "text/html; charset=utf-8", HTML_PAGE).await)
                    .await
                    .expect_err("html");
                assert!(
                    matches!(&err, PriceError::Parse(m) if m.contains("HTML")),
                    "{err:?}"
                );
            }

            #[tokio::test]
            async fn html_body_labelled_json_is_parse_error() {
                let err = run(fixed_server(200, "application/json", HTML_PAGE).await)
                    .await
                    .expect_err("html");
                assert!(
                    matches!(&err, PriceError::Parse(m) if m.contains("HTML")),
                    "{err:?}"
                );
            }

            #[tokio::test]
            async fn html_page_with_403_is_http_error() {
                let err = run(fixed_server(403, "text/html", HTML_PAGE).await)
                    .await
                    .expect_err("403");
                assert!(
                    matches!(&err, PriceError::Http { status: 403, body_snippet } if body_snippet.contains("Just a moment")),
                    "{err:?}"
                );
            }

            #[tokio::test]
            async fn status_429_is_rate_limited() {
                let err = run(fixed_server(429, "application/json", r#"{"error":"slow down"}"#).await)
                    .await
                    .expect_err("429");
                assert_eq!(err, PriceError::RateLimited);
            }

            #[tokio::test]
            async fn status_500_is_http_error() {
                let err = run(fixed_server(500, "text/plain", "Internal Server Error").await)
                    .await
                    .expect_err("500");
                assert!(
                    matches!(&err, PriceError::Http { status: 500, body_snippet } if body_snippet == "Internal Server Error"),
                    "{err:?}"
                );
            }

            #[tokio::test]
            async fn garbage_body_is_parse_error() {
                let err = run(fixed_server(200, "application/json", "{\"data\": ").await)
                    .await
                    .expect_err("garbage");
                assert!(matches!(err, PriceError::Parse(_)), "{err:?}");
            }

            #[tokio::test]
            async fn slow_server_times_out() {
                let started = std::time::Instant::now();
                let err = run(slow_server().await).await.expect_err("timeout");
                assert_eq!(err, PriceError::Timeout);
                assert!(started.elapsed() < std::time::Duration::from_secs(3));
            }

            #[tokio::test]
            async fn unreachable_server_is_transport_error() {
                // Bind then drop a listener so the port is closed.
                let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
                let addr = listener.local_addr().expect("addr");
                drop(listener);
                let err = run(format!("http://{addr}")).await.expect_err("closed");
                assert!(matches!(err, PriceError::Transport(_)), "{err:?}");
            }

            #[tokio::test]
            async fn no_fiats_asked_is_empty() {
                let feed = ($make)("http://127.0.0.1:9".to_string());
                assert_eq!(PriceFeed::fetch(&feed, &[]).await, Ok(vec![]));
            }
            }
        };
    }
    pub(crate) use common_failure_tests;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decimals_from_json_are_exact() {
        let v: Value = serde_json::from_str(r#"[64123.123456789, "64123.45", 6.4e4, 1E-8, true]"#)
            .expect("json");
        let d = |i: usize| decimal_from_json(&v[i]);
        assert_eq!(d(0).map(|x| x.to_string()), Some("64123.123456789".into()));
        assert_eq!(d(1).map(|x| x.to_string()), Some("64123.45".into()));
        assert_eq!(d(2), Some(Decimal::from(64000)));
        assert_eq!(d(3), Decimal::from_str("0.00000001").ok());
        assert_eq!(d(4), None);
        assert_eq!(decimal_from_json(&json!("abc")), None);
    }

    #[test]
    fn gather_prefers_real_errors_and_skips_non_positive() {
        let r = gather(
            "x",
            vec![
                (Fiat::JPY, Err(PriceError::Unsupported(Fiat::JPY))),
                (Fiat::USD, Err(PriceError::Timeout)),
            ],
        );
        assert_eq!(r, Err(PriceError::Timeout));
        let r = gather(
            "x",
            vec![(Fiat::JPY, Err(PriceError::Unsupported(Fiat::JPY)))],
        );
        assert_eq!(r, Err(PriceError::Unsupported(Fiat::JPY)));
        let r = gather("x", vec![(Fiat::USD, Ok(Decimal::ZERO))]);
        assert!(matches!(r, Err(PriceError::Api(_))));
        let r = gather(
            "x",
            vec![
                (Fiat::USD, Ok(Decimal::ZERO)),
                (Fiat::EUR, Ok(Decimal::ONE)),
            ],
        )
        .expect("one price");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].fiat, Fiat::EUR);
        assert_eq!(gather("x", vec![]), Ok(vec![]));
    }

    #[test]
    fn snippet_is_short_and_one_line() {
        let long = "a\n b ".repeat(200);
        let s = snippet(long.as_bytes());
        assert!(!s.contains('\n'));
        assert_eq!(s.chars().count(), SNIPPET_CHARS + 1);
    }

    #[test]
    fn error_text_reads_common_shapes() {
        assert_eq!(
            error_text(&json!([{"id": "not_found", "message": "Invalid currency"}])),
            "Invalid currency"
        );
        assert_eq!(
            error_text(&json!(["EQuery:Unknown asset pair"])),
            "EQuery:Unknown asset pair"
        );
        assert_eq!(
            error_text(&json!({"error_code": 429, "error_message": "limit"})),
            "limit"
        );
    }
}
