//! Time as a port, so domain code and tests can control it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use time::OffsetDateTime;

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock tests move by hand (millisecond resolution).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        ManualClock(Arc::new(AtomicI64::new(
            (start.unix_timestamp_nanos() / 1_000_000) as i64,
        )))
    }

    pub fn advance(&self, by: time::Duration) {
        self.0
            .fetch_add(by.whole_milliseconds() as i64, Ordering::SeqCst);
    }

    pub fn set(&self, to: OffsetDateTime) {
        self.0.store(
            (to.unix_timestamp_nanos() / 1_000_000) as i64,
            Ordering::SeqCst,
        );
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        let ms = self.0.load(Ordering::SeqCst);
        OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).expect("clock in range")
    }
}

/// RFC 3339 UTC with millisecond precision, e.g. `2026-11-22T01:02:03.456Z`.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// A point in time as records hold it: UTC at millisecond precision (what
/// storage keeps, so a record read back equals the one written), written
/// and read as [`rfc3339`]. A record cannot hold an unreadable time: an
/// item whose time does not parse fails to read as its record.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp(OffsetDateTime);

impl Stamp {
    /// `t` in UTC, cut to the millisecond.
    pub fn new(t: OffsetDateTime) -> Stamp {
        let t = t.to_offset(time::UtcOffset::UTC);
        let ms = t.unix_timestamp_nanos() / 1_000_000;
        Stamp(OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).expect("time in range"))
    }

    /// The time itself.
    pub fn time(self) -> OffsetDateTime {
        self.0
    }

    /// Parse RFC 3339 (any offset, any fraction; cut to the millisecond).
    pub fn parse(s: &str) -> Result<Stamp, String> {
        parse_rfc3339(s).map(Stamp::new)
    }
}

impl From<OffsetDateTime> for Stamp {
    fn from(t: OffsetDateTime) -> Stamp {
        Stamp::new(t)
    }
}

impl std::ops::Deref for Stamp {
    type Target = OffsetDateTime;
    fn deref(&self) -> &OffsetDateTime {
        &self.0
    }
}

impl std::ops::Add<time::Duration> for Stamp {
    type Output = Stamp;
    fn add(self, d: time::Duration) -> Stamp {
        Stamp::new(self.0 + d)
    }
}

impl std::ops::Sub<time::Duration> for Stamp {
    type Output = Stamp;
    fn sub(self, d: time::Duration) -> Stamp {
        Stamp::new(self.0 - d)
    }
}

impl std::ops::Sub<OffsetDateTime> for Stamp {
    type Output = time::Duration;
    fn sub(self, t: OffsetDateTime) -> time::Duration {
        self.0 - t
    }
}

impl std::ops::Sub<Stamp> for Stamp {
    type Output = time::Duration;
    fn sub(self, t: Stamp) -> time::Duration {
        self.0 - t.0
    }
}

impl PartialEq<OffsetDateTime> for Stamp {
    fn eq(&self, other: &OffsetDateTime) -> bool {
        self.0 == *other
    }
}

impl PartialOrd<OffsetDateTime> for Stamp {
    fn partial_cmp(&self, other: &OffsetDateTime) -> Option<std::cmp::Ordering> {
        self.0.partial_cmp(other)
    }
}

impl PartialEq<Stamp> for OffsetDateTime {
    fn eq(&self, other: &Stamp) -> bool {
        *self == other.0
    }
}

impl PartialOrd<Stamp> for OffsetDateTime {
    fn partial_cmp(&self, other: &Stamp) -> Option<std::cmp::Ordering> {
        self.partial_cmp(&other.0)
    }
}

impl From<Stamp> for serde_json::Value {
    /// As stored: the [`rfc3339`] string (for updates and conditions).
    fn from(s: Stamp) -> serde_json::Value {
        serde_json::Value::String(rfc3339(s.0))
    }
}

impl std::fmt::Display for Stamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&rfc3339(self.0))
    }
}

impl std::fmt::Debug for Stamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&rfc3339(self.0))
    }
}

impl serde::Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339(self.0))
    }
}

impl<'de> serde::Deserialize<'de> for Stamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Stamp, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Stamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Parse RFC 3339 (any offset, any fraction).
pub fn parse_rfc3339(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|_| format!("`{s}` is not an RFC 3339 timestamp (e.g. 2026-01-31T12:00:00Z)"))
}

/// Parse the date formats merchants export (API.md archived import):
/// RFC 3339 (any fraction), `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS`,
/// `DD/MM/YYYY HH:MM:SS` (times without an offset are UTC).
pub fn parse_flexible(s: &str) -> Result<OffsetDateTime, String> {
    use time::macros::format_description;
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok(t.to_offset(time::UtcOffset::UTC));
    }
    if let Ok(d) = time::Date::parse(s, format_description!("[year]-[month]-[day]")) {
        return Ok(d.midnight().assume_utc());
    }
    for f in [
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        format_description!("[day]/[month]/[year] [hour]:[minute]:[second]"),
    ] {
        if let Ok(t) = time::PrimitiveDateTime::parse(s, f) {
            return Ok(t.assume_utc());
        }
    }
    Err(format!(
        "`{s}` is not a date: use RFC 3339 (2026-01-31T12:00:00Z), YYYY-MM-DD, YYYY-MM-DD HH:MM:SS or DD/MM/YYYY HH:MM:SS"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flexible_dates() {
        let want = "2026-01-31T12:34:56.000Z";
        for s in [
            "2026-01-31T12:34:56Z",
            "2026-01-31T12:34:56.000000000Z",
            "2026-01-31T14:34:56+02:00",
            "2026-01-31 12:34:56",
            "31/01/2026 12:34:56",
        ] {
            assert_eq!(rfc3339(parse_flexible(s).unwrap()), want, "{s}");
        }
        assert_eq!(
            rfc3339(parse_flexible("2026-01-31").unwrap()),
            "2026-01-31T00:00:00.000Z"
        );
        assert!(parse_flexible("31/01/2026").is_err());
        assert!(parse_flexible("2026-13-01").is_err());
    }

    #[test]
    fn formats_and_parses_round_trip() {
        let t = parse_rfc3339("2026-11-22T01:02:03.456789Z").unwrap();
        assert_eq!(rfc3339(t), "2026-11-22T01:02:03.456Z");
        let t2 = parse_rfc3339("2026-11-22T03:02:03+02:00").unwrap();
        assert_eq!(rfc3339(t2), "2026-11-22T01:02:03.000Z");
        assert!(parse_rfc3339("2026-11-22").is_err());
    }

    #[test]
    fn a_stamp_reads_back_equal_and_refuses_what_is_not_a_time() {
        let t = parse_rfc3339("2026-11-22T03:02:03.456789+02:00").unwrap();
        let s = Stamp::new(t);
        let json = serde_json::to_value(s).unwrap();
        assert_eq!(json, serde_json::json!("2026-11-22T01:02:03.456Z"));
        let back: Stamp = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
        assert!(s < t && s + time::Duration::milliseconds(1) > t);
        assert!(serde_json::from_value::<Stamp>(serde_json::json!("soon")).is_err());
        assert!(serde_json::from_value::<Stamp>(serde_json::json!(17)).is_err());
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(parse_rfc3339("2026-01-01T00:00:00Z").unwrap());
        let a = c.now();
        c.advance(time::Duration::minutes(5));
        assert_eq!(c.now() - a, time::Duration::minutes(5));
    }
}
