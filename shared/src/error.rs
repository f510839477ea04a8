//! The one error type of the API: an HTTP status, a stable code, a message a
//! person can act on, and per-field details for validation errors.

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

use crate::wire::wire_words;

/// Stable error codes (API.md "Conventions").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    ValidationError,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    IdempotencyConflict,
    RateLimited,
    RateUnavailable,
    Internal,
}

wire_words!(ErrorCode {
    ValidationError => "validation_error",
    Unauthenticated => "unauthenticated",
    Forbidden => "forbidden",
    NotFound => "not_found",
    Conflict => "conflict",
    IdempotencyConflict => "idempotency_conflict",
    RateLimited => "rate_limited",
    RateUnavailable => "rate_unavailable",
    Internal => "internal",
});

/// An error as the API returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: ErrorCode,
    pub message: String,
    /// Field name -> messages (validation errors only).
    pub details: BTreeMap<String, Vec<String>>,
    /// Extra response headers (e.g. `Retry-After`).
    pub headers: Vec<(String, String)>,
}

impl ApiError {
    pub fn new(status: u16, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: BTreeMap::new(),
            headers: Vec::new(),
        }
    }

    /// 400 with one field error.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        errors.into_error()
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, ErrorCode::ValidationError, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(401, ErrorCode::Unauthenticated, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, ErrorCode::Forbidden, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(404, ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, ErrorCode::Conflict, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, ErrorCode::Internal, message)
    }

    pub fn rate_unavailable(message: impl Into<String>) -> Self {
        Self::new(503, ErrorCode::RateUnavailable, message)
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// The JSON body `{"error": {"code", "message", "details"?}}`.
    pub fn body(&self) -> Value {
        let envelope = ErrorEnvelope {
            error: ErrorBody {
                code: self.code,
                message: &self.message,
                details: &self.details,
            },
        };
        serde_json::to_value(envelope).expect("the error envelope serializes")
    }
}

/// The body of every error answer (its OpenAPI schema is generated from it).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope<'a> {
    #[schema(inline)]
    pub error: ErrorBody<'a>,
}

/// `error` of an error answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    pub code: ErrorCode,
    /// What went wrong and what to do about it.
    pub message: &'a str,
    /// Field name -> messages (`validation_error` only).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(required = false)]
    pub details: &'a BTreeMap<String, Vec<String>>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status,
            self.code.as_str(),
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl From<crate::table::TableError> for ApiError {
    fn from(e: crate::table::TableError) -> Self {
        tracing::error!(error = %e, "table error");
        ApiError::internal("storage error; the request was not applied, it is safe to retry")
    }
}

/// For `map_err` after a write guarded by "must exist": a failed condition
/// means the thing is gone (404); any other storage error stays a 500.
pub fn missing_is_not_found(what: &'static str) -> impl Fn(crate::table::TableError) -> ApiError {
    move |e| {
        if e.is_condition_failed() {
            ApiError::not_found(what)
        } else {
            e.into()
        }
    }
}

/// Collects field errors so a request reports every bad field at once.
#[derive(Debug, Default)]
pub struct FieldErrors {
    details: BTreeMap<String, Vec<String>>,
}

impl FieldErrors {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.details
            .entry(field.into())
            .or_default()
            .push(message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.details.is_empty()
    }

    /// Keep the value if `result` is Ok, otherwise record its message under `field`.
    pub fn check<T, E: fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }

    pub fn into_error(self) -> ApiError {
        let fields: Vec<&str> = self.details.keys().map(String::as_str).collect();
        let message = match fields.as_slice() {
            [one] => format!("invalid `{one}`: {}", self.details[*one].join("; ")),
            many => format!("invalid fields: {}", many.join(", ")),
        };
        let mut e = ApiError::new(400, ErrorCode::ValidationError, message);
        e.details = self.details;
        e
    }

    /// Ok if no errors were recorded.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.into_error())
        }
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        errors.into_error()
    }
}

// Domain errors at the edge: each domain error enum maps to the API's
// status, code and field here, and nowhere else.

impl From<crate::invoice::InvoiceError> for ApiError {
    fn from(e: crate::invoice::InvoiceError) -> Self {
        use crate::invoice::InvoiceError as E;
        let message = e.to_string();
        match e {
            E::Amount(_) | E::QuoteMismatch | E::BelowDust { .. } => {
                ApiError::field("amount", message)
            }
            E::Currency(_) => ApiError::field("currency", message),
            E::OrderIdTaken(_) | E::QuoteTaken | E::AnswerTaken | E::WalletExhausted => {
                ApiError::conflict(message)
            }
            E::AddressHeld(_) | E::AddressContended(_) | E::ClaimTaken => {
                ApiError::conflict(message)
            }
            E::Busy | E::NoChain(_) => ApiError::new(503, ErrorCode::Internal, message),
            E::ChainUnreadable { .. } => ApiError::new(502, ErrorCode::Internal, message),
            E::Wallet(_) => ApiError::internal("the store's wallet could not be read"),
            E::Pricing(e) => e.into(),
            E::Storage(e) => e.into(),
        }
    }
}

impl From<crate::invoice::repo::ChangeError> for ApiError {
    fn from(e: crate::invoice::repo::ChangeError) -> Self {
        use crate::invoice::repo::ChangeError as E;
        match e {
            E::NotFound => ApiError::not_found("invoice"),
            E::Transition(e) => e.into(),
            E::Contended => ApiError::conflict(e.to_string()),
            E::TooLarge => ApiError::internal(e.to_string()),
            E::Storage(e) => e.into(),
            E::Record(e) => e.into(),
        }
    }
}

impl From<crate::prices::PricingError> for ApiError {
    fn from(e: crate::prices::PricingError) -> Self {
        use crate::prices::PricingError as E;
        match e {
            E::Unavailable(message) => ApiError::rate_unavailable(message),
            E::QuoteNotFound => ApiError::not_found("quote"),
            E::QuoteUnusable(message) => ApiError::conflict(message),
            E::Storage(e) => e.into(),
            E::Record(e) => e.into(),
        }
    }
}

impl From<crate::invoice::lifecycle::TransitionError> for ApiError {
    fn from(e: crate::invoice::lifecycle::TransitionError) -> Self {
        use crate::invoice::lifecycle::TransitionError as E;
        let message = e.to_string();
        match e {
            E::MarkStatus => ApiError::field("status", message),
            E::AcceptedAmount { .. } => ApiError::field("accepted_amount_sats", message),
            E::RefundAmount { .. } => ApiError::field("amount_sats", message),
            E::NotMarkable { .. }
            | E::NotCancellable { .. }
            | E::NotUnderpaid { .. }
            | E::NothingToRefund { .. } => ApiError::conflict(message),
        }
    }
}
