//! Wire words of enums, written once. `wire_words!` takes one list of
//! `Variant => "word"` pairs and derives from it everything that names the
//! words: `ALL`, `NAMES`, `as_str`, `parse` and the `Words` list request
//! errors quote. serde's spelling (`rename_all`) is checked against the same
//! list by the tests below, so no second list can drift.

/// An enum whose wire words come from one `wire_words!` list.
pub trait Wire: Copy + 'static {
    /// Every value, in wire order.
    fn all() -> &'static [Self];
    /// The value's wire word.
    fn word(self) -> &'static str;
    /// The value a wire word names.
    fn from_word(s: &str) -> Option<Self>;
}

/// Gives an enum its wire words from one list (see the module docs).
macro_rules! wire_words {
    ($ty:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in wire order.
            pub const ALL: [$ty; [$($word),+].len()] = [$($ty::$variant),+];
            /// The wire word of every value, in the order of `ALL`.
            pub const NAMES: [&'static str; [$($word),+].len()] = [$($word),+];

            /// The wire word.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $word),+
                }
            }

            /// The value a wire word names.
            pub fn parse(s: &str) -> Option<$ty> {
                match s {
                    $($word => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<$ty> for serde_json::Value {
            /// The wire word (for updates and conditions on stored items).
            fn from(v: $ty) -> serde_json::Value {
                serde_json::Value::String(v.as_str().to_string())
            }
        }

        impl $crate::wire::Wire for $ty {
            fn all() -> &'static [Self] {
                &$ty::ALL
            }
            fn word(self) -> &'static str {
                self.as_str()
            }
            fn from_word(s: &str) -> Option<Self> {
                $ty::parse(s)
            }
        }

        impl $crate::request::Words for $ty {
            const WORDS: &'static [&'static str] = &$ty::NAMES;
        }
    };
}
pub(crate) use wire_words;

/// The OpenAPI schema of an enum with a `wire_words!` list: a string of
/// exactly its words (a component named after the type, or the name given).
macro_rules! wire_schema {
    ($ty:ident) => {
        $crate::wire::wire_schema!($ty as stringify!($ty));
    };
    ($ty:ident as $name:expr) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::request_schema::string()
                    .enum_values(Some($ty::NAMES))
                    .into()
            }
        }

        impl utoipa::ToSchema for $ty {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed($name)
            }
        }
    };
}
pub(crate) use wire_schema;

/// serde for an enum whose words serde's `rename_all` cannot spell (e.g.
/// `invoice.created`): written and read through its `wire_words!` list.
macro_rules! wire_serde {
    ($ty:ident) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                let s = String::deserialize(d)?;
                $ty::parse(&s).ok_or_else(|| serde::de::Error::unknown_variant(&s, &$ty::NAMES))
            }
        }
    };
}
pub(crate) use wire_serde;

#[cfg(test)]
mod tests {
    use super::Wire;
    use serde::de::DeserializeOwned;
    use serde::Serialize;
    use serde_json::json;
    use std::fmt::Debug;

    /// serde reads every word as its value, and nothing else.
    fn serde_reads<T: Wire + DeserializeOwned + PartialEq + Debug>() {
        for v in T::all() {
            let read: T = serde_json::from_value(json!(v.word())).expect("serde reads the word");
            assert_eq!(read, *v, "serde reads `{}`", v.word());
        }
        assert!(serde_json::from_value::<T>(json!("no_such_word")).is_err());
    }

    /// serde writes every value as its word.
    fn serde_writes<T: Wire + Serialize>() {
        for v in T::all() {
            assert_eq!(
                serde_json::to_value(v).expect("serializes"),
                json!(v.word())
            );
        }
    }

    /// `parse` reads every word back as its value, and nothing else.
    fn round_trips<T: Wire + PartialEq + Debug>() {
        for v in T::all() {
            assert_eq!(T::from_word(v.word()), Some(*v));
        }
        assert_eq!(T::from_word("no_such_word"), None);
    }

    /// Stored enums: serde reads and writes exactly the listed words.
    fn stored<T: Wire + Serialize + DeserializeOwned + PartialEq + Debug>() {
        serde_reads::<T>();
        serde_writes::<T>();
        round_trips::<T>();
    }

    #[test]
    fn serde_agrees_with_the_one_list_of_words() {
        use crate::error::ErrorCode;
        use crate::handlers::checkout::QrFormat;
        use crate::handlers::invoices::{MarkStatus, SortBy, SortOrder};
        use crate::invoice::{PaymentStatus, Status};
        use crate::network::Network;
        use crate::store::SpeedPolicy;

        stored::<Status>();
        stored::<PaymentStatus>();
        stored::<SpeedPolicy>();
        stored::<Network>();
        serde_writes::<ErrorCode>();
        round_trips::<ErrorCode>();
        // Request words only (serde reads them).
        serde_reads::<SortBy>();
        serde_reads::<SortOrder>();
        serde_reads::<MarkStatus>();
        serde_reads::<QrFormat>();
        stored::<crate::events::EventKind>();
        stored::<crate::webhooks::DeliveryStatus>();
    }
}
