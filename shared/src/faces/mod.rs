//! Faces: each seed system's own API over the same use cases as v1. A face
//! owns its paths (rows of the one route table), its envelope, its error
//! shape and its status words; it has no storage or business logic.
//!
//! The face of a request is decided by its path, once, here; the pipeline
//! renders every error through [`error_response`], so a refusal from the
//! shared pipeline (bad key, rate limit) comes in the face's own shape too.

use crate::error::ApiError;
use crate::http::Response;
use serde_json::Value;

/// Which API a path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    /// satsgate's own v1 API (and everything not claimed by a seed face).
    V1,
    /// Seed 000 (Anypay): the payment-request paths `/r...` and `/prices`.
    Anypay,
}

impl Face {
    /// The face serving `path`.
    pub fn of(path: &str) -> Face {
        if path == "/r" || path.starts_with("/r/") || path == "/prices" {
            Face::Anypay
        } else {
            Face::V1
        }
    }
}

/// The error answer for `e` in the shape of the face serving `path`.
pub fn error_response(path: &str, e: &ApiError) -> Response {
    let mut r = Response::from_error(e);
    if Face::of(path) == Face::Anypay {
        // Seed 000's `{status: "error", message}`, next to the v1 `error`
        // object, so clients of either read the error they expect.
        let mut body = e.body();
        if let Value::Object(map) = &mut body {
            map.insert("status".into(), Value::from("error"));
            map.insert("message".into(), Value::from(e.message.clone()));
        }
        r = Response::json(e.status, body);
        r.headers.extend(e.headers.iter().cloned());
    }
    r
}
