//! Webhooks: endpoints, the fan-out of outbox events to deliveries, the
//! dispatcher that POSTs them with signatures and retries, and the delivery
//! log.
//!
//! ```text
//! event item (outbox, gsi2 OUTBOX) --fanout--> Push (WebSocket)
//!                                        \--> one delivery item per target + one queue message
//! queue message --dispatcher--> POST (signed) --> attempt appended to the delivery
//!                                  | 2xx: succeeded, message deleted
//!                                  | else: retry after the backoff (visibility), or
//!                                  |       after the last attempt: failed + dead-letter queue
//! ```
//!
//! Targets of an event: every endpoint of its store whose `events` filter
//! matches, plus the invoice's own `webhook_url` (`data.invoice.webhook_url`)
//! through the built-in endpoint `invoice_url`, whose secret signs those
//! deliveries. Price events (store `_prices`) only go to `Push`.
//!
//! Guarantees: at least once (receivers de-duplicate on the event id, sent
//! as `Satsgate-Event-Id` and `Idempotency-Key`); one retry chain per
//! delivery (a delivery item names the queue message that owns it, stray
//! duplicates are dropped); in event order per endpoint on the happy path
//! (fan-out is sequential in event order, the local dispatcher sends one
//! endpoint's messages one at a time in queue order), but a failing
//! delivery does not hold back later events: retried deliveries arrive out
//! of order, and receivers should order by `created_at`/event id.

pub mod dispatcher;
pub mod fanout;
pub mod send;
pub mod signature;
pub mod url;
pub mod worker;

use crate::clock::Stamp;
use crate::events::EventKind;
use crate::events::EVENT_TYPES;
use crate::ids::{new_id, IdKind};
use crate::records::to_item;
use crate::schema;
use crate::table::Item;
use crate::view::{DeliveryObject, EndpointObject};
use crate::wire::wire_words;
use base64::Engine as _;
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

pub use fanout::{enqueue_event, fan_out_item, sweep_outbox};

/// Id of the built-in endpoint that stands for invoices' own `webhook_url`.
pub const INVOICE_URL_ENDPOINT: &str = "invoice_url";
/// Store id of price events (WebSocket push only, never webhooks).
pub const PRICE_EVENTS_STORE: &str = "_prices";
/// Type of the event `POST /v1/webhook-endpoints/{id}/test` sends.
pub const TEST_EVENT_TYPE: EventKind = EventKind::WebhookTest;
/// Most endpoints one store may have.
pub const MAX_ENDPOINTS: usize = 20;
/// Deliveries are kept as long as events (30 days).
pub const DELIVERY_TTL_SECONDS: i64 = crate::events::EVENT_TTL_SECONDS;
/// Longest wait between two attempts: SQS's 12 hour visibility cap, less a
/// margin for the time the dispatcher already held the message.
pub const MAX_STEP: Duration = Duration::from_secs(12 * 3600 - 600);
/// The name of the webhook queue (the table-backed queue of satsgate-local).
pub const QUEUE_NAME: &str = "webhooks";
/// How long the previous secret keeps signing after a rotation, by default.
pub const DEFAULT_PREVIOUS_SECRET_HOURS: i64 = 24;

/// Delivery timing: the wait before each retry, the request timeout.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `retry_delays[n]` is the wait after the (n+1)-th failed attempt;
    /// after the last one the delivery fails. Each is capped at `MAX_STEP`.
    pub retry_delays: Vec<Duration>,
    /// Per attempt, connect to last response byte.
    pub timeout: Duration,
    /// Each wait is multiplied by a random factor in `1 ± jitter`.
    pub jitter: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings::standard()
    }
}

impl Settings {
    /// 13 attempts over about 3.7 days: 1 m, 5 m, 30 m, 2 h, 5 h, 10 h, then
    /// six times ~12 h (each wait ±10 %; even all at -10 % it is > 3 days).
    pub fn standard() -> Settings {
        let m = |n: u64| Duration::from_secs(n * 60);
        let h = |n: u64| Duration::from_secs(n * 3600);
        let mut retry_delays = vec![m(1), m(5), m(30), h(2), h(5), h(10)];
        retry_delays.extend(std::iter::repeat_n(h(12), 6));
        Settings {
            retry_delays,
            timeout: Duration::from_secs(10),
            jitter: 0.1,
        }
    }

    /// For tests and demos (`WEBHOOK_BACKOFF=fast`): 5 attempts, waits of
    /// 0.2, 0.4, 0.8, 1.6 s, a 2 s timeout.
    pub fn fast() -> Settings {
        Settings {
            retry_delays: [200, 400, 800, 1600]
                .into_iter()
                .map(Duration::from_millis)
                .collect(),
            timeout: Duration::from_secs(2),
            jitter: 0.1,
        }
    }

    /// The schedule `WEBHOOK_BACKOFF` names: `standard` (also when unset)
    /// or `fast`.
    pub fn named(name: Option<&str>) -> Result<Settings, String> {
        match name.map(str::trim) {
            None | Some("") | Some("standard") => Ok(Settings::standard()),
            Some("fast") => Ok(Settings::fast()),
            Some(other) => Err(format!(
                "WEBHOOK_BACKOFF=`{other}`: use `standard` or `fast`"
            )),
        }
    }

    /// Attempts before a delivery fails.
    pub fn max_attempts(&self) -> usize {
        self.retry_delays.len() + 1
    }

    /// The wait before the next attempt after `attempts_made` failed ones,
    /// with jitter; None when that was the last attempt.
    pub fn delay_after(&self, attempts_made: usize) -> Option<Duration> {
        let base = *self.retry_delays.get(attempts_made.checked_sub(1)?)?;
        let j = self.jitter.clamp(0.0, 0.9);
        let factor = if j > 0.0 {
            rand::thread_rng().gen_range(1.0 - j..=1.0 + j)
        } else {
            1.0
        };
        Some(base.mul_f64(factor).min(MAX_STEP))
    }

    /// The shortest total wait the schedule can produce (all jitter down).
    pub fn min_total_wait(&self) -> Duration {
        let j = self.jitter.clamp(0.0, 0.9);
        self.retry_delays
            .iter()
            .map(|d| d.mul_f64(1.0 - j).min(MAX_STEP))
            .sum()
    }
}

/// A new signing secret: `whsec_` + 32 random bytes, base64url. The whole
/// string is the HMAC key.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Validate `events` filters: `*`, an event type, or `invoice.*` /
/// `payment.*`. Returns them de-duplicated (`["*"]` if `*` is among them).
pub fn parse_event_filters(filters: &[String]) -> Result<Vec<String>, String> {
    if filters.is_empty() {
        return Err("must name at least one event type (or \"*\" for all)".into());
    }
    let mut out: Vec<String> = Vec::new();
    let mut unknown = Vec::new();
    for f in filters {
        let f = f.trim();
        let known = f == "*"
            || EVENT_TYPES.contains(&f)
            || f.strip_suffix(".*")
                .is_some_and(|p| EVENT_TYPES.iter().any(|t| t.split('.').next() == Some(p)));
        if !known {
            unknown.push(format!("`{f}`"));
        } else if !out.iter().any(|o| o == f) {
            out.push(f.to_string());
        }
    }
    if !unknown.is_empty() {
        return Err(format!(
            "unknown event type {}; use \"*\", \"invoice.*\", \"payment.*\" or one of: {}",
            unknown.join(", "),
            EVENT_TYPES.join(", ")
        ));
    }
    if out.iter().any(|f| f == "*") {
        out = vec!["*".into()];
    }
    Ok(out)
}

/// Whether an endpoint with these filters receives events of `kind`.
pub fn filters_match(filters: &[String], kind: &str) -> bool {
    filters.iter().any(|f| {
        f == "*"
            || f == kind
            || f.strip_suffix(".*")
                .is_some_and(|p| kind.strip_prefix(p).is_some_and(|r| r.starts_with('.')))
    })
}

/// A webhook endpoint as stored (the secret is needed to sign, so it is
/// stored; the API shows it only when created or rotated).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Endpoint {
    pub id: String,
    pub store_id: String,
    /// None for the built-in `invoice_url` endpoint.
    pub url: Option<String>,
    pub events: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub secret: String,
    /// After a rotation, the old secret also signs until it expires.
    #[serde(default)]
    pub previous_secret: Option<String>,
    #[serde(default)]
    pub previous_secret_expires_at: Option<Stamp>,
    pub created_at: Stamp,
    pub updated_at: Stamp,
}

impl Endpoint {
    pub fn new(
        store_id: &str,
        url: String,
        events: Vec<String>,
        description: Option<String>,
        now: time::OffsetDateTime,
    ) -> Endpoint {
        Endpoint {
            id: new_id(IdKind::Webhook),
            store_id: store_id.to_string(),
            url: Some(url),
            events,
            description,
            secret: generate_secret(),
            previous_secret: None,
            previous_secret_expires_at: None,
            created_at: Stamp::new(now),
            updated_at: Stamp::new(now),
        }
    }

    /// The built-in endpoint for invoices' own `webhook_url`.
    pub fn invoice_url(store_id: &str, now: time::OffsetDateTime) -> Endpoint {
        Endpoint {
            id: INVOICE_URL_ENDPOINT.into(),
            store_id: store_id.to_string(),
            url: None,
            events: vec!["*".into()],
            description: Some(INVOICE_URL_DESCRIPTION.into()),
            secret: generate_secret(),
            previous_secret: None,
            previous_secret_expires_at: None,
            created_at: Stamp::new(now),
            updated_at: Stamp::new(now),
        }
    }

    pub fn is_builtin(&self) -> bool {
        self.id == INVOICE_URL_ENDPOINT
    }

    pub fn to_item(&self) -> Item {
        to_item(
            self,
            &schema::webhook_endpoint(&self.store_id, &self.id),
            &[],
        )
    }

    /// The public shape, without secrets.
    pub fn view(&self) -> EndpointView<'_> {
        EndpointView {
            id: &self.id,
            object: EndpointObject,
            url: self.url.as_deref(),
            events: &self.events,
            description: self.description.as_deref(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// The public shape as JSON ([`EndpointView`]).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.view()).expect("an endpoint serializes")
    }

    /// The public shape with the secret (create and rotate only).
    pub fn view_with_secret(&self) -> EndpointWithSecretView<'_> {
        EndpointWithSecretView {
            endpoint: self.view(),
            secret: &self.secret,
            previous_secret_expires_at: self
                .previous_secret
                .as_ref()
                .and(self.previous_secret_expires_at),
        }
    }

    /// The public shape with the secret as JSON ([`EndpointWithSecretView`]).
    pub fn to_json_with_secret(&self) -> Value {
        serde_json::to_value(self.view_with_secret()).expect("an endpoint serializes")
    }

    /// The secrets that sign now: the current one, then the previous one
    /// while it has not expired.
    pub fn signing_secrets(&self, now: time::OffsetDateTime) -> Vec<&str> {
        let mut out = vec![self.secret.as_str()];
        if let (Some(prev), Some(exp)) = (&self.previous_secret, &self.previous_secret_expires_at) {
            if *exp > now {
                out.push(prev);
            }
        }
        out
    }
}

/// A webhook endpoint as the API shows it (no secrets).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WebhookEndpoint)]
pub struct EndpointView<'a> {
    pub id: &'a str,
    #[schema(inline)]
    pub object: EndpointObject,
    /// `null` for the built-in `invoice_url` endpoint.
    #[schema(required = true)]
    pub url: Option<&'a str>,
    /// The event types it receives (`*`: every one).
    pub events: &'a [String],
    #[schema(required = true)]
    pub description: Option<&'a str>,
    pub created_at: Stamp,
    pub updated_at: Stamp,
}

/// A webhook endpoint with its signing secret (create and rotate-secret).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WebhookEndpointWithSecret)]
pub struct EndpointWithSecretView<'a> {
    #[serde(flatten)]
    pub endpoint: EndpointView<'a>,
    /// Signs deliveries; shown only here.
    pub secret: &'a str,
    /// When the previous secret stops signing (after a rotation that kept it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<Stamp>,
}

pub const INVOICE_URL_DESCRIPTION: &str =
    "Built-in: each invoice's own webhook_url; its secret signs those deliveries";

/// One delivery attempt, as logged.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Attempt {
    pub at: Stamp,
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<u16>,
    /// Why the attempt failed, if it did (timeout, connection, refused URL,
    /// non-2xx).
    pub error: Option<String>,
    pub duration_ms: u64,
    /// The first bytes of the receiver's answer (at most 256 characters).
    #[serde(default)]
    pub response_body: Option<String>,
}

impl Attempt {
    /// The attempt as the API shows it.
    pub fn view(&self) -> AttemptView<'_> {
        AttemptView {
            at: self.at,
            status_code: self.status_code,
            error: self.error.as_deref(),
            duration_ms: self.duration_ms,
            response_body: self.response_body.as_deref(),
        }
    }

    pub fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Attempts are still to come.
    Pending,
    /// The receiver answered 2xx.
    Succeeded,
    /// No attempt succeeded and none will be made.
    Failed,
}

wire_words!(DeliveryStatus {
    Pending => "pending",
    Succeeded => "succeeded",
    Failed => "failed",
});
crate::wire::wire_schema!(DeliveryStatus);

/// Where a delivery goes, and the dispatcher's grouping key (one target's
/// deliveries are sent one at a time): a store's endpoint, or one
/// invoice's own `webhook_url` through the built-in endpoint. Stored as
/// the endpoint id, or `invoice_url:<invoice id>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// The store's endpoint of this id (`whk_...`).
    Endpoint(String),
    /// The `webhook_url` of the invoice of this id.
    InvoiceUrl(String),
}

impl Target {
    /// The stored word: the endpoint id, or `invoice_url:<invoice id>`.
    pub fn word(&self) -> String {
        match self {
            Target::Endpoint(id) => id.clone(),
            Target::InvoiceUrl(inv) => format!("{INVOICE_URL_ENDPOINT}:{inv}"),
        }
    }

    /// The target a stored word names.
    pub fn parse(s: &str) -> Option<Target> {
        match s.split_once(':') {
            Some((INVOICE_URL_ENDPOINT, inv)) if !inv.is_empty() => {
                Some(Target::InvoiceUrl(inv.to_string()))
            }
            None if !s.is_empty() && s != INVOICE_URL_ENDPOINT => Some(Target::Endpoint(s.into())),
            _ => None,
        }
    }
}

impl Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.word())
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Target, D::Error> {
        let s = String::deserialize(d)?;
        Target::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{s}` is not a delivery target (an endpoint id or `{INVOICE_URL_ENDPOINT}:<invoice id>`)"
            ))
        })
    }
}

/// One event to one endpoint: its payload, status and attempts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub store_id: String,
    /// `whk_...` or `invoice_url`.
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: EventKind,
    pub url: String,
    pub status: DeliveryStatus,
    pub attempts: Vec<Attempt>,
    pub attempt_count: u32,
    pub next_attempt_at: Option<Stamp>,
    /// Why a delivery failed without (more) attempts, e.g. endpoint deleted.
    #[serde(default)]
    pub error: Option<String>,
    pub created_at: Stamp,
    pub updated_at: Stamp,
    #[serde(default)]
    pub redelivery_of: Option<String>,
    /// The exact body sent on every attempt (the event JSON).
    pub payload: String,
    /// The queue message that owns this delivery's retries (absent, not
    /// null, until set: conditions test for its absence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Where it goes; the dispatcher's grouping key.
    pub target: Target,
}

impl Delivery {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        store_id: &str,
        endpoint_id: &str,
        event_id: &str,
        event_type: EventKind,
        url: &str,
        payload: String,
        target: Target,
        now: time::OffsetDateTime,
    ) -> Delivery {
        Delivery {
            id,
            store_id: store_id.into(),
            endpoint_id: endpoint_id.into(),
            event_id: event_id.into(),
            event_type,
            url: url.into(),
            status: DeliveryStatus::Pending,
            attempts: vec![],
            attempt_count: 0,
            next_attempt_at: Some(Stamp::new(now)),
            error: None,
            created_at: Stamp::new(now),
            updated_at: Stamp::new(now),
            redelivery_of: None,
            payload,
            message_id: None,
            target,
        }
    }

    pub fn to_item(&self, now: time::OffsetDateTime) -> Item {
        to_item(
            self,
            &schema::webhook_delivery(&self.store_id, &self.id),
            &[
                (
                    schema::GSI1_PK,
                    json!(schema::deliveries_of(&self.store_id, &self.endpoint_id)),
                ),
                (schema::GSI1_SK, json!(self.id)),
                (
                    schema::TTL,
                    json!(now.unix_timestamp() + DELIVERY_TTL_SECONDS),
                ),
            ],
        )
    }

    /// The delivery as the API shows it (without its payload).
    pub fn view(&self) -> DeliveryView<'_> {
        DeliveryView {
            id: &self.id,
            object: DeliveryObject,
            endpoint_id: &self.endpoint_id,
            event_id: &self.event_id,
            event_type: self.event_type,
            url: &self.url,
            status: self.status,
            attempts: self.attempts.iter().map(Attempt::view).collect(),
            next_attempt_at: if self.status == DeliveryStatus::Pending {
                self.next_attempt_at
            } else {
                None
            },
            error: self.error.as_deref(),
            redelivery_of: self.redelivery_of.as_deref(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// The delivery as JSON ([`DeliveryView`]).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.view()).expect("a delivery serializes")
    }

    /// The queue message for this delivery.
    pub fn message_body(&self) -> String {
        json!({
            "delivery_id": self.id,
            "store_id": self.store_id,
            "endpoint_id": self.endpoint_id,
            "target": self.target,
        })
        .to_string()
    }
}

/// A webhook delivery as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WebhookDelivery)]
pub struct DeliveryView<'a> {
    pub id: &'a str,
    #[schema(inline)]
    pub object: DeliveryObject,
    /// `whk_...`, or `invoice_url` for an invoice's own `webhook_url`.
    pub endpoint_id: &'a str,
    pub event_id: &'a str,
    pub event_type: EventKind,
    pub url: &'a str,
    pub status: DeliveryStatus,
    pub attempts: Vec<AttemptView<'a>>,
    /// When the next attempt is due (pending deliveries only).
    #[schema(required = true)]
    pub next_attempt_at: Option<Stamp>,
    /// Why it failed without (more) attempts.
    #[schema(required = true)]
    pub error: Option<&'a str>,
    /// The delivery this one redelivers.
    #[schema(required = true)]
    pub redelivery_of: Option<&'a str>,
    pub created_at: Stamp,
    pub updated_at: Stamp,
}

/// One attempt of a delivery as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WebhookAttempt)]
pub struct AttemptView<'a> {
    pub at: Stamp,
    /// The receiver's HTTP status, if it answered.
    #[schema(required = true)]
    pub status_code: Option<u16>,
    /// Why the attempt failed, if it did.
    #[schema(required = true)]
    pub error: Option<&'a str>,
    pub duration_ms: u64,
    /// The first characters of the receiver's answer.
    #[schema(required = true)]
    pub response_body: Option<&'a str>,
}

/// The queue message body, parsed.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct MessageBody {
    pub delivery_id: String,
    pub store_id: String,
    pub endpoint_id: String,
    #[serde(default)]
    pub target: String,
}

/// The delivery id of `event` to `endpoint_id`: the same on every fan-out
/// of that event (so a repeated fan-out finds it), and in event order:
/// `dlv_` + the first 24 hex digits of the event id (its UUIDv7 timestamp
/// and the whole monotonic counter) + 8 hex digits of a hash of the endpoint.
pub fn delivery_id_for(event_id: &str, endpoint_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let hex_part = event_id.rsplit('_').next().unwrap_or(event_id);
    let head: String = hex_part.chars().take(24).collect();
    let hash = hex::encode(Sha256::digest(
        format!("{event_id}|{endpoint_id}").as_bytes(),
    ));
    format!("{}{head:0>24}{}", IdKind::Delivery.prefix(), &hash[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_schedule_retries_for_more_than_three_days() {
        let s = Settings::standard();
        assert!(
            s.min_total_wait() >= Duration::from_secs(3 * 24 * 3600),
            "{:?}",
            s.min_total_wait()
        );
        assert_eq!(s.max_attempts(), 13);
        for n in 1..s.max_attempts() {
            let d = s.delay_after(n).unwrap();
            assert!(
                d <= MAX_STEP && d < crate::queue::MAX_VISIBILITY,
                "step {n}: {d:?}"
            );
            assert!(d >= s.retry_delays[n - 1].mul_f64(0.89), "step {n}: {d:?}");
        }
        assert_eq!(
            s.delay_after(s.max_attempts()),
            None,
            "no wait after the last attempt"
        );
        assert_eq!(s.delay_after(0), None);
        // Exponential-ish: every wait at least as long as the one before.
        assert!(s.retry_delays.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn fast_schedule_is_short() {
        let s = Settings::fast();
        assert_eq!(s.max_attempts(), 5);
        assert!(s.delay_after(1).unwrap() < Duration::from_millis(300));
    }

    #[test]
    fn event_filters() {
        assert_eq!(
            parse_event_filters(&["invoice.paid".into(), "invoice.paid".into()]).unwrap(),
            vec!["invoice.paid"]
        );
        assert_eq!(
            parse_event_filters(&["invoice.paid".into(), "*".into()]).unwrap(),
            vec!["*"]
        );
        assert!(parse_event_filters(&["invoice.*".into(), "payment.*".into()]).is_ok());
        let e = parse_event_filters(&["invoice.payed".into()]).unwrap_err();
        assert!(e.contains("`invoice.payed`"), "{e}");
        assert!(parse_event_filters(&["order.*".into()]).is_err());
        assert!(parse_event_filters(&[]).is_err());
        assert!(filters_match(&["*".into()], "payment.received"));
        assert!(filters_match(&["invoice.*".into()], "invoice.paid"));
        assert!(!filters_match(&["invoice.*".into()], "payment.received"));
        assert!(!filters_match(&["invoice".into()], "invoice.paid"));
        assert!(!filters_match(&["invoice.paid".into()], "invoice.created"));
    }

    #[test]
    fn delivery_ids_are_stable_ids_sorting_with_their_event() {
        let e1 = new_id(IdKind::Event);
        let a = delivery_id_for(&e1, "whk_1");
        assert_eq!(a, delivery_id_for(&e1, "whk_1"));
        assert_ne!(a, delivery_id_for(&e1, "whk_2"));
        assert!(crate::ids::is_id(IdKind::Delivery, &a), "{a}");
        // Even within one millisecond.
        let later: Vec<String> = (0..50).map(|_| new_id(IdKind::Event)).collect();
        let mut prev = a;
        for e in &later {
            let d = delivery_id_for(e, "whk_0");
            assert!(d > prev, "later events sort later: {prev} then {d}");
            prev = delivery_id_for(e, "whk_9");
        }
    }

    #[test]
    fn secrets_are_random_and_prefixed() {
        let a = generate_secret();
        assert!(a.starts_with("whsec_") && a.len() > 40);
        assert_ne!(a, generate_secret());
    }

    #[test]
    fn previous_secret_signs_until_it_expires() {
        let now = time::OffsetDateTime::now_utc();
        let mut e = Endpoint::new(
            "store_1",
            "https://example.com/h".into(),
            vec!["*".into()],
            None,
            now,
        );
        assert_eq!(e.signing_secrets(now).len(), 1);
        e.previous_secret = Some("whsec_old".into());
        e.previous_secret_expires_at = Some(Stamp::new(now + time::Duration::hours(1)));
        assert_eq!(e.signing_secrets(now), vec![e.secret.as_str(), "whsec_old"]);
        assert_eq!(e.signing_secrets(now + time::Duration::hours(2)).len(), 1);
    }
}
