//! Framework-neutral HTTP types shared by the Lambda binaries, the local
//! gateway and the tests, plus the edge parsing helpers (`Input`) that turn
//! a JSON body into typed values with per-field errors.

use crate::error::{ApiError, FieldErrors};
use bytes::Bytes;
use http::{HeaderMap, Method};
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::collections::HashSet;
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

/// Parse a request body as a JSON object (an empty body is `{}`).
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(ApiError::bad_request(format!(
            "request body must be a JSON object, got {}",
            json_type(&other)
        ))),
        Err(e) => Err(ApiError::bad_request(format!("malformed JSON: {e}"))),
    }
}

pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Typed access to the fields of a JSON object, collecting every error by
/// field name; `finish` also rejects fields nobody asked for.
pub struct Input {
    map: Map<String, Value>,
    seen: HashSet<String>,
    pub errors: FieldErrors,
}

impl Input {
    pub fn new(map: Map<String, Value>) -> Self {
        Input {
            map,
            seen: HashSet::new(),
            errors: FieldErrors::default(),
        }
    }

    pub fn from_body(body: &[u8]) -> Result<Self, ApiError> {
        Ok(Self::new(json_object(body)?))
    }

    /// Whether the field was sent (null counts as sent).
    pub fn has(&self, field: &str) -> bool {
        self.map.contains_key(field)
    }

    /// The raw value, marking the field as known. `null` reads as absent.
    pub fn raw(&mut self, field: &str) -> Option<Value> {
        self.seen.insert(field.to_string());
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.clone()),
        }
    }

    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.add(field, message);
    }

    /// Record a missing required field (a present but invalid value has
    /// already recorded its own error).
    pub fn required<T>(&mut self, field: &str, v: Option<T>) -> Option<T> {
        if v.is_none() && matches!(self.map.get(field), None | Some(Value::Null)) {
            self.error(field, "is required");
        }
        v
    }

    /// A string, trimmed, at most `max` characters.
    pub fn string(&mut self, field: &str, max: usize) -> Option<String> {
        match self.raw(field)? {
            Value::String(s) => {
                let s = s.trim().to_string();
                if s.chars().count() > max {
                    self.error(field, format!("must be at most {max} characters"));
                    None
                } else {
                    Some(s)
                }
            }
            other => {
                self.error(
                    field,
                    format!("must be a string, got {}", json_type(&other)),
                );
                None
            }
        }
    }

    /// A non-empty string.
    pub fn nonempty(&mut self, field: &str, max: usize) -> Option<String> {
        let s = self.string(field, max)?;
        if s.is_empty() {
            self.error(field, "must not be empty");
            None
        } else {
            Some(s)
        }
    }

    pub fn bool(&mut self, field: &str) -> Option<bool> {
        match self.raw(field)? {
            Value::Bool(b) => Some(b),
            other => {
                self.error(
                    field,
                    format!("must be true or false, got {}", json_type(&other)),
                );
                None
            }
        }
    }

    /// An integer in `min..=max` (JSON number or numeric string).
    pub fn int(&mut self, field: &str, min: i64, max: i64) -> Option<i64> {
        let v = self.raw(field)?;
        let n = match &v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(_) => {
                self.error(field, format!("must be between {min} and {max}"));
                None
            }
            None => {
                self.error(
                    field,
                    format!("must be a whole number, got {}", json_type(&v)),
                );
                None
            }
        }
    }

    /// An exact decimal (string or number) in `min..=max`.
    pub fn decimal(&mut self, field: &str, min: Decimal, max: Decimal) -> Option<Decimal> {
        let v = self.raw(field)?;
        match crate::money::decimal_from_json(&v) {
            Ok(d) if d >= min && d <= max => Some(d),
            Ok(_) => {
                self.error(field, format!("must be between {min} and {max}"));
                None
            }
            Err(e) => {
                self.error(field, e);
                None
            }
        }
    }

    /// One of the given words.
    pub fn one_of(&mut self, field: &str, allowed: &[&str]) -> Option<String> {
        let s = self.string(field, 64)?;
        if allowed.contains(&s.as_str()) {
            Some(s)
        } else {
            self.error(field, format!("must be one of: {}", allowed.join(", ")));
            None
        }
    }

    /// A list of strings.
    pub fn strings(
        &mut self,
        field: &str,
        max_items: usize,
        max_len: usize,
    ) -> Option<Vec<String>> {
        match self.raw(field)? {
            Value::Array(items) => {
                if items.len() > max_items {
                    self.error(field, format!("at most {max_items} entries"));
                    return None;
                }
                let mut out = Vec::with_capacity(items.len());
                for it in items {
                    match it {
                        Value::String(s) if s.len() <= max_len => out.push(s),
                        Value::String(_) => {
                            self.error(
                                field,
                                format!("entries must be at most {max_len} characters"),
                            );
                            return None;
                        }
                        other => {
                            self.error(
                                field,
                                format!("entries must be strings, got {}", json_type(&other)),
                            );
                            return None;
                        }
                    }
                }
                Some(out)
            }
            other => {
                self.error(
                    field,
                    format!("must be an array of strings, got {}", json_type(&other)),
                );
                None
            }
        }
    }

    /// A JSON object (e.g. `metadata`), at most `max_bytes` serialized.
    pub fn object(&mut self, field: &str, max_bytes: usize) -> Option<Map<String, Value>> {
        match self.raw(field)? {
            Value::Object(m) => {
                if Value::Object(m.clone()).to_string().len() > max_bytes {
                    self.error(field, format!("must be at most {max_bytes} bytes as JSON"));
                    None
                } else {
                    Some(m)
                }
            }
            other => {
                self.error(
                    field,
                    format!("must be an object, got {}", json_type(&other)),
                );
                None
            }
        }
    }

    /// Refuse unknown fields, then return the collected errors, if any.
    pub fn finish(mut self) -> Result<(), ApiError> {
        let mut unknown: Vec<&String> = self
            .map
            .keys()
            .filter(|k| !self.seen.contains(*k))
            .collect();
        unknown.sort();
        for k in unknown {
            self.errors.add(k.clone(), "unknown field");
        }
        self.errors.finish()
    }
}

/// Query-string access with the same per-field errors.
pub struct QueryInput<'a> {
    pairs: &'a [(String, String)],
    seen: HashSet<&'a str>,
    pub errors: FieldErrors,
}

impl<'a> QueryInput<'a> {
    pub fn new(pairs: &'a [(String, String)]) -> Self {
        QueryInput {
            pairs,
            seen: HashSet::new(),
            errors: FieldErrors::default(),
        }
    }

    pub fn get(&mut self, name: &'a str) -> Option<&'a str> {
        self.seen.insert(name);
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub fn one_of(&mut self, name: &'a str, allowed: &[&str]) -> Option<String> {
        let v = self.get(name)?;
        if allowed.contains(&v) {
            Some(v.to_string())
        } else {
            self.errors
                .add(name, format!("must be one of: {}", allowed.join(", ")));
            None
        }
    }

    /// `limit` in 1..=100, default 20.
    pub fn limit(&mut self) -> usize {
        match self.get("limit") {
            None => 20,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=100).contains(&n) => n,
                _ => {
                    self.errors
                        .add("limit", "must be a whole number from 1 to 100");
                    20
                }
            },
        }
    }

    /// Like `finish`, then the value the checked parameters made.
    pub fn finish_with<T>(self, value: Option<T>) -> Result<T, ApiError> {
        self.finish()?;
        value.ok_or_else(|| ApiError::bad_request("the request is incomplete"))
    }

    pub fn finish(self) -> Result<(), ApiError> {
        let mut errors = self.errors;
        for (k, _) in self.pairs {
            if !self.seen.contains(k.as_str()) {
                errors.add(k.clone(), "unknown query parameter");
            }
        }
        errors.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_errors_are_clear() {
        assert!(json_object(b"").unwrap().is_empty());
        let e = json_object(b"{\"a\":").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.starts_with("malformed JSON"));
        let e = json_object(b"[1]").unwrap_err();
        assert!(e.message.contains("JSON object"));
    }

    #[test]
    fn input_collects_every_field_error() {
        let mut i = Input::new(
            json!({"name": 5, "n": "x", "extra": 1, "ok": "fine"})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert_eq!(i.string("name", 10), None);
        assert_eq!(i.int("n", 0, 10), None);
        assert_eq!(i.string("ok", 10).as_deref(), Some("fine"));
        let e = i.finish().unwrap_err();
        assert_eq!(
            e.details.keys().collect::<Vec<_>>(),
            vec!["extra", "n", "name"]
        );
        assert_eq!(e.details["extra"], vec!["unknown field"]);
    }

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
