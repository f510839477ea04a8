//! Framework-neutral HTTP types shared by the Lambda binaries, the local
//! gateway and the tests (request bodies and queries are parsed by the
//! typed request types of `crate::request`).

use crate::error::ApiError;
use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::Value;
use std::net::IpAddr;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// An HTTP request as every handler sees it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub source_ip: Option<IpAddr>,
}

impl Request {
    pub fn new(method: Method, path_and_query: &str) -> Self {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        Request {
            method,
            path: path.to_string(),
            query: parse_query(query),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            source_ip: None,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `a=1&b=x%20y` -> pairs (`+` is a space).
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode_component(k), decode_component(v))
        })
        .collect()
}

fn decode_component(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

/// A response body.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Json(Value),
    Raw { content_type: String, bytes: Bytes },
    Empty,
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Response {
    pub fn json(status: u16, body: Value) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Json(body),
        }
    }
    pub fn ok(body: Value) -> Self {
        Self::json(200, body)
    }
    pub fn created(body: Value) -> Self {
        Self::json(201, body)
    }
    pub fn no_content() -> Self {
        Response {
            status: 204,
            headers: Vec::new(),
            body: Body::Empty,
        }
    }
    pub fn raw(status: u16, content_type: &str, bytes: impl Into<Bytes>) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Raw {
                content_type: content_type.to_string(),
                bytes: bytes.into(),
            },
        }
    }
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn content_type(&self) -> &str {
        match &self.body {
            Body::Json(_) => "application/json",
            Body::Raw { content_type, .. } => content_type,
            Body::Empty => "",
        }
    }
    pub fn body_bytes(&self) -> Bytes {
        match &self.body {
            Body::Json(v) => Bytes::from(v.to_string()),
            Body::Raw { bytes, .. } => bytes.clone(),
            Body::Empty => Bytes::new(),
        }
    }
    pub fn from_error(e: &ApiError) -> Self {
        let mut r = Response::json(e.status, e.body());
        r.headers.extend(e.headers.iter().cloned());
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing_decodes() {
        let q = parse_query("a=1&b=x%20y+z&c");
        assert_eq!(
            q,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y z".into()),
                ("c".into(), "".into())
            ]
        );
    }
}
