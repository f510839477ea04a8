//! Typed request bodies. A body type is a serde struct of [`Field`]s plus a
//! flattened [`Unknown`]: deserializing it never stops at the first bad
//! field, so the conversion into domain types (`TryFrom`) reports every bad
//! field at once in the `validation_error` details, unknown fields included.
//! The wire types here ([`Text`], [`NonEmpty`], [`Int`], [`Dec`], [`Flag`],
//! [`Object`], [`Strings`], [`Time`], ...) carry the checks and messages
//! every endpoint shares. Query strings use the same types ([`query`]):
//! `?limit=&cursor=` is [`PageQuery`], checked into [`Paging`] in one place.

use crate::error::{ApiError, FieldErrors};
use rust_decimal::Decimal;
use serde::de::{DeserializeOwned, Deserializer, Error as _, IgnoredAny};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

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

/// What kind of JSON value `v` is, for error messages ("a string").
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

/// Parse a JSON object body (an empty body is `{}`) into its request type.
pub fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let map = json_object(bytes)?;
    serde_json::from_value(Value::Object(map))
        .map_err(|e| ApiError::bad_request(format!("malformed request body: {e}")))
}

/// One field of a request as sent: left out (or `null`), a well-formed
/// value, or the reason it is not one.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Field<T> {
    #[default]
    Absent,
    Given(T),
    Bad(String),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        if value.is_null() {
            return Ok(Field::Absent);
        }
        Ok(match T::deserialize(value) {
            Ok(v) => Field::Given(v),
            Err(e) => Field::Bad(e.to_string()),
        })
    }
}

impl<T> Field<T> {
    /// The value if given and well-formed; a bad one is recorded on `name`.
    pub fn take(self, name: &str, errors: &mut FieldErrors) -> Option<T> {
        match self {
            Field::Absent => None,
            Field::Given(v) => Some(v),
            Field::Bad(why) => {
                errors.add(name, why);
                None
            }
        }
    }

    /// Like `take`, and a missing value is recorded as required.
    pub fn require(self, name: &str, errors: &mut FieldErrors) -> Option<T> {
        if matches!(self, Field::Absent) {
            errors.add(name, "is required");
        }
        self.take(name, errors)
    }

    /// Whether the field was sent with a value (well-formed or not).
    pub fn is_sent(&self) -> bool {
        !matches!(self, Field::Absent)
    }
}

impl Field<String> {
    /// The text read as another wire type (a query value standing for a
    /// body field, e.g. a face's parameter handed to a v1 request type).
    pub fn read<T: DeserializeOwned>(self) -> Field<T> {
        match self {
            Field::Absent => Field::Absent,
            Field::Bad(why) => Field::Bad(why),
            Field::Given(s) => match T::deserialize(Value::String(s)) {
                Ok(v) => Field::Given(v),
                Err(e) => Field::Bad(e.to_string()),
            },
        }
    }
}

/// Fields nobody asked for, collected so they are refused together with
/// every other bad field (`#[serde(flatten)]` it into a request type).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Unknown(BTreeMap<String, IgnoredAny>);

impl Unknown {
    /// Record each unknown field as an error.
    pub fn refuse(self, errors: &mut FieldErrors, what: &str) {
        for name in self.0.into_keys() {
            errors.add(name, what);
        }
    }

    /// Refuse these as unknown query parameters, then [`finish`].
    pub fn finish_query<T>(self, mut errors: FieldErrors, value: Option<T>) -> Result<T, ApiError> {
        self.refuse(&mut errors, UNKNOWN_PARAMETER);
        finish(errors, value)
    }
}

/// Every bad field at once, or the conversion's result.
pub fn finish<T>(errors: FieldErrors, value: Option<T>) -> Result<T, ApiError> {
    errors.finish()?;
    value.ok_or_else(|| ApiError::bad_request("the request is incomplete"))
}

fn expected<E: serde::de::Error>(what: &str, got: &Value) -> E {
    E::custom(format!("must be {what}, got {}", json_type(got)))
}

/// A string, trimmed, of at most `MAX` characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<const MAX: usize>(pub String);

impl<'de, const MAX: usize> Deserialize<'de> for Text<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => {
                let s = s.trim().to_string();
                if s.chars().count() > MAX {
                    Err(D::Error::custom(format!(
                        "must be at most {MAX} characters"
                    )))
                } else {
                    Ok(Text(s))
                }
            }
            other => Err(expected("a string", &other)),
        }
    }
}

/// A string exactly as sent (not trimmed, any length: e.g. a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verbatim(pub String);

impl<'de> Deserialize<'de> for Verbatim {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Verbatim(s)),
            other => Err(expected("a string", &other)),
        }
    }
}

/// A point in time in any form `clock::parse_flexible` reads, as RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Time(pub String);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => crate::clock::parse_flexible(&s)
                .map(|t| Time(crate::clock::rfc3339(t)))
                .map_err(D::Error::custom),
            other => Err(expected("a string", &other)),
        }
    }
}

/// A non-empty [`Text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonEmpty<const MAX: usize>(pub String);

impl<'de, const MAX: usize> Deserialize<'de> for NonEmpty<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Text(s) = Text::<MAX>::deserialize(d)?;
        if s.is_empty() {
            Err(D::Error::custom("must not be empty"))
        } else {
            Ok(NonEmpty(s))
        }
    }
}

/// A whole number in `MIN..=MAX`, as a JSON number or a numeric string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Int<const MIN: i64, const MAX: i64>(pub i64);

impl<'de, const MIN: i64, const MAX: i64> Deserialize<'de> for Int<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let n = match &v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if (MIN..=MAX).contains(&n) => Ok(Int(n)),
            Some(_) => Err(D::Error::custom(format!("must be between {MIN} and {MAX}"))),
            None => Err(expected("a whole number", &v)),
        }
    }
}

impl<const MIN: i64, const MAX: i64> Int<MIN, MAX> {
    /// The number as a `u64` (`MIN` is never negative where this is used).
    pub fn unsigned(self) -> u64 {
        u64::try_from(self.0).unwrap_or(0)
    }
}

/// An exact decimal, as a decimal string or a JSON number; never rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dec(pub Decimal);

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        crate::money::decimal_from_json(&v)
            .map(Dec)
            .map_err(D::Error::custom)
    }
}

impl Dec {
    /// The decimal if within `min..=max`.
    pub fn within(self, min: Decimal, max: Decimal) -> Result<Decimal, String> {
        if self.0 >= min && self.0 <= max {
            Ok(self.0)
        } else {
            Err(format!("must be between {min} and {max}"))
        }
    }
}

/// `true` or `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Bool(b) => Ok(Flag(b)),
            other => Err(expected("true or false", &other)),
        }
    }
}

/// A JSON object of at most `MAX_BYTES` serialized (e.g. `metadata`).
#[derive(Debug, Clone, PartialEq)]
pub struct Object<const MAX_BYTES: usize>(pub Map<String, Value>);

impl<'de, const MAX_BYTES: usize> Deserialize<'de> for Object<MAX_BYTES> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Object(m) => {
                if Value::Object(m.clone()).to_string().len() > MAX_BYTES {
                    Err(D::Error::custom(format!(
                        "must be at most {MAX_BYTES} bytes as JSON"
                    )))
                } else {
                    Ok(Object(m))
                }
            }
            other => Err(expected("an object", &other)),
        }
    }
}

/// A word of a serde enum (e.g. `SpeedPolicy`), with a message naming the
/// words allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word<T>(pub T);

impl<'de, T: DeserializeOwned + Words> Deserialize<'de> for Word<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let Value::String(s) = &v else {
            return Err(expected("a string", &v));
        };
        T::deserialize(Value::String(s.trim().to_string()))
            .map(Word)
            .map_err(|_| D::Error::custom(format!("must be one of: {}", T::WORDS.join(", "))))
    }
}

/// The wire words of an enum, for error messages.
pub trait Words {
    /// Every word, in order.
    const WORDS: &'static [&'static str];
}

/// A list of at most `ITEMS` strings of at most `LEN` bytes each (not trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Strings<const ITEMS: usize, const LEN: usize>(pub Vec<String>);

impl<'de, const ITEMS: usize, const LEN: usize> Deserialize<'de> for Strings<ITEMS, LEN> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = match Value::deserialize(d)? {
            Value::Array(items) => items,
            other => return Err(expected("an array of strings", &other)),
        };
        if items.len() > ITEMS {
            return Err(D::Error::custom(format!("at most {ITEMS} entries")));
        }
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Value::String(s) if s.len() <= LEN => out.push(s),
                Value::String(_) => {
                    return Err(D::Error::custom(format!(
                        "entries must be at most {LEN} characters"
                    )))
                }
                other => {
                    return Err(D::Error::custom(format!(
                        "entries must be strings, got {}",
                        json_type(&other)
                    )))
                }
            }
        }
        Ok(Strings(out))
    }
}

/// One field of a partial update (`PATCH`): left out (keep), `null` (clear),
/// a well-formed value, or the reason it is not one.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
    Bad(String),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        if value.is_null() {
            return Ok(Patch::Clear);
        }
        Ok(match T::deserialize(value) {
            Ok(v) => Patch::Set(v),
            Err(e) => Patch::Bad(e.to_string()),
        })
    }
}

impl<T> Patch<T> {
    /// `Some(None)` to clear, `Some(Some(v))` to set, `None` to keep (a bad
    /// value is recorded on `name` and keeps).
    pub fn take(self, name: &str, errors: &mut FieldErrors) -> Option<Option<T>> {
        match self {
            Patch::Keep => None,
            Patch::Clear => Some(None),
            Patch::Set(v) => Some(Some(v)),
            Patch::Bad(why) => {
                errors.add(name, why);
                None
            }
        }
    }
}

/// An IP allowlist as sent (IPs and CIDR ranges), normalized; each bad
/// entry is recorded on `name`.
pub fn allowlist(
    list: Field<Strings<100, 64>>,
    name: &str,
    errors: &mut FieldErrors,
) -> Option<Vec<String>> {
    let Strings(ips) = list.take(name, errors)?;
    match crate::auth::IpAllowlist::parse(&ips) {
        Ok(l) => Some(l.to_strings()),
        Err(bad) => {
            bad.into_iter().for_each(|why| errors.add(name, why));
            None
        }
    }
}

/// Refuse every field of a body (an endpoint that takes none; an empty body
/// or `{}` is fine).
pub fn no_body(bytes: &[u8]) -> Result<(), ApiError> {
    let b: NoFields = body(bytes)?;
    let mut e = FieldErrors::default();
    b.unknown.refuse(&mut e, UNKNOWN_FIELD);
    e.finish()
}

crate::request_schema::request_type! {
    /// A body or query that takes no field at all.
    #[derive(Deserialize)]
    pub struct NoFields {
        #[serde(flatten)]
        unknown: Unknown,
    }
}

/// Parse the query parameters into their query type: the first of a
/// repeated parameter counts and an empty value counts as left out, so
/// query types use the same [`Field`]s as bodies (values are strings).
pub fn query<T: DeserializeOwned>(pairs: &[(String, String)]) -> Result<T, ApiError> {
    let mut map = Map::new();
    for (k, v) in pairs {
        if !map.contains_key(k) {
            let v = if v.is_empty() {
                Value::Null
            } else {
                Value::String(v.clone())
            };
            map.insert(k.clone(), v);
        }
    }
    serde_json::from_value(Value::Object(map))
        .map_err(|e| ApiError::bad_request(format!("malformed query string: {e}")))
}

/// Refuse every query parameter (an endpoint that takes none).
pub fn no_query(pairs: &[(String, String)]) -> Result<(), ApiError> {
    let q: NoFields = query(pairs)?;
    q.unknown.finish_query(FieldErrors::default(), Some(()))
}

/// The error recorded on a body field nobody asked for.
pub const UNKNOWN_FIELD: &str = "unknown field";

/// The error recorded on a query parameter nobody asked for.
pub const UNKNOWN_PARAMETER: &str = "unknown query parameter";

/// A page size: a whole number from 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub usize);

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let n = match &v {
            Value::String(s) => s.parse::<usize>().ok(),
            Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
            _ => None,
        };
        match n {
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(Limit(n)),
            _ => Err(D::Error::custom(format!(
                "must be a whole number from 1 to {MAX_LIMIT}"
            ))),
        }
    }
}

/// The largest `limit` of a list.
pub const MAX_LIMIT: usize = 100;
/// The `limit` of a list when none is sent.
pub const DEFAULT_LIMIT: usize = 20;

crate::request_schema::request_type! {
    /// `?limit=&cursor=` of a v1 list: `#[serde(flatten)]` it into the list's
    /// query type (before its [`Unknown`]).
    #[derive(Debug, Clone, Default, Deserialize)]
    #[serde(default)]
    pub struct PageQuery {
        pub limit: Field<Limit>,
        pub cursor: Field<String>,
    }
}

/// A checked page request: how many items and where to go on from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    pub limit: usize,
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The page asked for (`limit` 20 when left out); bad values are recorded.
    pub fn take(self, errors: &mut FieldErrors) -> Paging {
        Paging {
            limit: self
                .limit
                .take("limit", errors)
                .map_or(DEFAULT_LIMIT, |l| l.0),
            cursor: self.cursor.take("cursor", errors),
        }
    }
}

/// A query type with nothing but paging (`P`: v1's `?limit=&cursor=`, or
/// a face's own paging parameters).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery<P = PageQuery> {
    #[serde(flatten)]
    pub page: P,
    #[serde(flatten)]
    pub unknown: Unknown,
}

impl<P: DeserializeOwned + Default> ListQuery<P> {
    /// Parse the query and check its paging with `take`; any other
    /// parameter is refused.
    pub fn parse<T>(
        pairs: &[(String, String)],
        take: impl FnOnce(P, &mut FieldErrors) -> T,
    ) -> Result<T, ApiError> {
        let q: ListQuery<P> = query(pairs)?;
        let mut e = FieldErrors::default();
        let paging = take(q.page, &mut e);
        q.unknown.finish_query(e, Some(paging))
    }
}

/// The `?limit=&cursor=` of a list that takes nothing else.
pub fn paging(pairs: &[(String, String)]) -> Result<Paging, ApiError> {
    ListQuery::<PageQuery>::parse(pairs, PageQuery::take)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SpeedPolicy;
    use serde_json::json;

    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Body {
        name: Field<NonEmpty<5>>,
        n: Field<Int<0, 10>>,
        amount: Field<Dec>,
        speed: Field<Word<SpeedPolicy>>,
        #[serde(flatten)]
        unknown: Unknown,
    }

    fn parse(v: Value) -> Body {
        body(v.to_string().as_bytes()).unwrap()
    }

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
    fn every_bad_field_is_reported_at_once() {
        let b = parse(json!({"name": 5, "n": "11", "amount": 1.5, "extra": 1, "other": null}));
        let mut errors = FieldErrors::default();
        assert_eq!(b.name.take("name", &mut errors), None);
        assert_eq!(b.n.take("n", &mut errors), None);
        assert_eq!(
            b.amount.take("amount", &mut errors),
            Some(Dec(Decimal::new(15, 1)))
        );
        assert_eq!(b.speed.require("speed", &mut errors), None);
        b.unknown.refuse(&mut errors, UNKNOWN_FIELD);
        let e = errors.finish().unwrap_err();
        assert_eq!(
            e.details.keys().collect::<Vec<_>>(),
            vec!["extra", "n", "name", "other", "speed"]
        );
        assert_eq!(e.details["name"], vec!["must be a string, got a number"]);
        assert_eq!(e.details["n"], vec!["must be between 0 and 10"]);
        assert_eq!(e.details["speed"], vec!["is required"]);
    }

    #[test]
    fn values_are_typed() {
        let b = parse(json!({"name": " ab ", "n": 3, "amount": "19.99", "speed": "zero_conf"}));
        assert_eq!(b.name, Field::Given(NonEmpty("ab".into())));
        assert_eq!(b.n, Field::Given(Int(3)));
        assert_eq!(b.amount, Field::Given(Dec(Decimal::new(1999, 2))));
        assert_eq!(b.speed, Field::Given(Word(SpeedPolicy::ZeroConf)));
        let b = parse(json!({"speed": "fast", "amount": "1e3", "name": null}));
        assert_eq!(b.name, Field::Absent);
        assert!(matches!(b.amount, Field::Bad(_)));
        assert_eq!(
            b.speed,
            Field::Bad("must be one of: zero_conf, one_conf, two_conf, six_conf".into())
        );
    }

    #[test]
    fn numbers_keep_every_digit() {
        let b: Body = body(br#"{"amount": 0.12345678901234567890}"#).unwrap();
        assert_eq!(
            b.amount,
            Field::Given(Dec("0.12345678901234567890".parse().unwrap()))
        );
    }

    #[test]
    fn bodies_must_be_objects() {
        assert!(body::<Body>(b"[1]").is_err());
        assert!(body::<Body>(b"").is_ok());
    }

    #[test]
    fn queries_are_typed_with_paging_in_one_place() {
        let pairs = |q: &str| crate::http::parse_query(q);
        assert_eq!(
            paging(&pairs("limit=5&cursor=abc")).unwrap(),
            Paging {
                limit: 5,
                cursor: Some("abc".into())
            }
        );
        assert_eq!(
            paging(&pairs("limit=&cursor=")).unwrap().limit,
            DEFAULT_LIMIT
        );
        let e = paging(&pairs("limit=0&x=1&limit=7")).unwrap_err();
        assert_eq!(e.details.keys().collect::<Vec<_>>(), vec!["limit", "x"]);
        assert_eq!(
            e.details["limit"],
            vec!["must be a whole number from 1 to 100"]
        );
        assert_eq!(e.details["x"], vec![UNKNOWN_PARAMETER]);
        assert!(no_query(&pairs("")).is_ok());
        assert_eq!(
            no_query(&pairs("a=")).unwrap_err().details["a"],
            vec![UNKNOWN_PARAMETER]
        );
    }

    #[test]
    fn patches_and_lists() {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Upd {
            d: Patch<Text<3>>,
            l: Field<Strings<2, 3>>,
        }
        let u: Upd = body(br#"{"d": null, "l": ["a", "bb"]}"#).unwrap();
        assert_eq!(u.d, Patch::Clear);
        assert_eq!(u.l, Field::Given(Strings(vec!["a".into(), "bb".into()])));
        let u: Upd = body(br#"{"d": "long", "l": ["a", 1]}"#).unwrap();
        assert_eq!(u.d, Patch::Bad("must be at most 3 characters".into()));
        assert_eq!(
            u.l,
            Field::Bad("entries must be strings, got a number".into())
        );
        let u: Upd = body(br#"{"l": ["a", "b", "c"]}"#).unwrap();
        assert_eq!(u.d, Patch::Keep);
        assert_eq!(u.l, Field::Bad("at most 2 entries".into()));
    }
}
