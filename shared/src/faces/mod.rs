//! Faces: each seed system's own API over the same use cases as v1. A face
//! owns its paths (rows of the one route table), its envelope, its error
//! shape and its status words; it has no storage or business logic.
//!
//! The face of a request is decided by its path, once, here; the pipeline
//! renders every error through [`error_response`], so a refusal from the
//! shared pipeline (bad key, rate limit) comes in the face's own shape too.

pub mod anypay;
pub mod cryptopay;
pub mod panel;
pub mod pos;

use crate::error::ApiError;
use crate::http::Response;
use rust_decimal::Decimal;
use serde_json::Value;

/// Which API a path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    /// satsgate's own v1 API (and everything not claimed by a seed face).
    V1,
    /// Seed 000 (Anypay): the payment-request paths `/r...` and `/prices`.
    Anypay,
    /// Seed 003 (panel): `/api/v1/...`.
    Panel,
    /// Seed 004 (CryptoPay): `/api/...` other than `/api/v1/`.
    CryptoPay,
    /// Seed 002 (POS gateway): `/v2/...`.
    Pos,
}

impl Face {
    /// The face serving `path`.
    pub fn of(path: &str) -> Face {
        if path == "/r" || path.starts_with("/r/") || path == "/prices" {
            Face::Anypay
        } else if path == "/api/v1" || path.starts_with("/api/v1/") {
            Face::Panel
        } else if path == "/api" || path.starts_with("/api/") {
            Face::CryptoPay
        } else if path == "/v2" || path.starts_with("/v2/") {
            Face::Pos
        } else {
            Face::V1
        }
    }
}

/// The error answer for `e` in the shape of the face serving `path`.
pub fn error_response(path: &str, e: &ApiError, now: time::OffsetDateTime) -> Response {
    let body = match Face::of(path) {
        Face::V1 => return Response::from_error(e),
        Face::Anypay => {
            // Seed 000's `{status: "error", message}`, next to the v1 `error`
            // object, so clients of either read the error they expect.
            let mut body = e.body();
            if let Value::Object(map) = &mut body {
                map.insert("status".into(), Value::from("error"));
                map.insert("message".into(), Value::from(e.message.clone()));
            }
            body
        }
        Face::Panel => return panel::error_response(e),
        Face::CryptoPay => return cryptopay::error_response(e, now),
        Face::Pos => return pos::error_response(e),
    };
    let mut r = Response::json(e.status, body);
    r.headers.extend(e.headers.iter().cloned());
    r
}

/// A decimal as an exact JSON number (`100`, `0.001`): faces whose seed
/// documents amounts as numbers. serde_json's arbitrary_precision keeps
/// every digit; nothing goes through a float.
pub fn json_number(d: Decimal) -> Value {
    let text = d.normalize().to_string();
    match serde_json::from_str::<serde_json::Number>(&text) {
        Ok(n) => Value::Number(n),
        Err(_) => Value::String(text),
    }
}

/// Satoshis as an exact JSON number of BTC (`0.001`).
pub fn btc_number(amount: bitcoin::Amount) -> Value {
    json_number(Decimal::new(amount.to_sat() as i64, 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faces_by_path() {
        assert_eq!(Face::of("/v1/invoices"), Face::V1);
        assert_eq!(Face::of("/r/inv_1"), Face::Anypay);
        assert_eq!(Face::of("/api/v1/stores"), Face::Panel);
        assert_eq!(Face::of("/api/payment-orders/"), Face::CryptoPay);
        assert_eq!(Face::of("/v2/GetRate/"), Face::Pos);
        assert_eq!(Face::of("/v2x"), Face::V1);
    }

    #[test]
    fn numbers_are_exact() {
        let n = json_number("0.00100000".parse().unwrap());
        assert_eq!(n.to_string(), "0.001");
        assert!(n.is_number());
        let big = json_number("12345678901234567890.12345678".parse().unwrap());
        assert_eq!(big.to_string(), "12345678901234567890.12345678");
    }
}
