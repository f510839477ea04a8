//! Typed request bodies. A body type is a serde struct of [`Field`]s plus a
//! flattened [`Unknown`]: deserializing it never stops at the first bad
//! field, so the conversion into domain types (`TryFrom`) reports every bad
//! field at once in the `validation_error` details, unknown fields included.
//! The wire types here ([`Text`], [`NonEmpty`], [`Int`], [`Dec`], [`Flag`],
//! [`Object`]) carry the checks and messages every endpoint shares.

use crate::error::{ApiError, FieldErrors};
use crate::http::{json_object, json_type};
use rust_decimal::Decimal;
use serde::de::{DeserializeOwned, Deserializer, Error as _, IgnoredAny};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

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

impl Words for crate::store::SpeedPolicy {
    const WORDS: &'static [&'static str] = &crate::store::SpeedPolicy::NAMES;
}

impl Words for crate::invoice::Status {
    const WORDS: &'static [&'static str] = &crate::invoice::Status::NAMES;
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
        b.unknown.refuse(&mut errors, "unknown field");
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
}
