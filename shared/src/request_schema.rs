//! JSON schemas of the request types, from the types themselves: each wire
//! type of [`crate::request`] states its real limits as a
//! [`PartialSchema`], and [`request_type!`] declares a request struct
//! together with its [`Members`], so the properties of its schema are its
//! fields (their serde names, types and doc comments). Which fields a route
//! requires is the route's business (`openapi.rs`), not the type's.
//!
//! A schema never accepts a value the deserializer refuses where JSON
//! Schema can say so; where the code is more lenient than a schema can put
//! simply (surrounding whitespace is trimmed, a whole number may also come
//! as a numeric string), the schema describes the plain form.

use crate::request::{
    Dec, Field, Flag, Int, Limit, ListQuery, NonEmpty, Object, Patch, Strings, Text, Time, Unknown,
    Verbatim, Word, Words,
};
use std::borrow::Cow;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, AnyOfBuilder, ArrayBuilder, ObjectBuilder, OneOfBuilder,
    Schema, SchemaFormat, Type,
};
use utoipa::openapi::{KnownFormat, RefOr, Required};
use utoipa::{PartialSchema, ToSchema};

/// One property of a request type: its wire name and schema.
#[derive(Clone)]
pub struct Prop {
    /// The wire name (serde's).
    pub name: &'static str,
    /// The schema of a value that is sent.
    pub schema: RefOr<Schema>,
    /// Whether `null` is accepted (as leaving the field out, or clearing it).
    pub nullable: bool,
    /// Whether the route requires it (then `null` is not accepted either).
    pub required: bool,
    /// The field's doc comment.
    pub doc: String,
}

/// The properties of a request type, and whether it refuses others.
#[derive(Clone, Default)]
pub struct Shape {
    /// The properties, in field order.
    pub props: Vec<Prop>,
    /// Whether unknown properties are refused (an [`Unknown`] field).
    pub closed: bool,
    /// Groups of property names of which exactly one (`true`) or at least
    /// one (`false`) must be sent.
    groups: Vec<(bool, Vec<&'static str>)>,
}

/// A field of a request type, adding itself to the type's [`Shape`].
pub trait Member {
    /// Add this field as `name`, described by `doc`.
    fn add(shape: &mut Shape, name: &'static str, doc: &str);
}

/// A request type (or a part of one flattened into it): its fields.
pub trait Members {
    /// Add every field.
    fn members(shape: &mut Shape);
}

fn prop(shape: &mut Shape, name: &'static str, schema: RefOr<Schema>, doc: &str) {
    shape.props.push(Prop {
        name,
        schema,
        nullable: true,
        required: false,
        doc: doc
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
            .trim()
            .to_string(),
    });
}

impl<T: PartialSchema> Member for Field<T> {
    /// Optional; `null` is the same as leaving it out.
    fn add(shape: &mut Shape, name: &'static str, doc: &str) {
        prop(shape, name, T::schema(), doc);
    }
}

impl<T: PartialSchema> Member for Patch<T> {
    /// Optional; `null` clears it.
    fn add(shape: &mut Shape, name: &'static str, doc: &str) {
        prop(shape, name, T::schema(), doc);
    }
}

impl Members for Unknown {
    fn members(shape: &mut Shape) {
        shape.closed = true;
    }
}

impl<P: Members> Members for ListQuery<P> {
    fn members(shape: &mut Shape) {
        P::members(shape);
        Unknown::members(shape);
    }
}

impl<P: Members> PartialSchema for ListQuery<P> {
    fn schema() -> RefOr<Schema> {
        Shape::of::<Self>().body()
    }
}

impl<P: Members> ToSchema for ListQuery<P> {}

impl Shape {
    /// The shape of request type `T`, nothing required.
    pub fn of<T: Members>() -> Shape {
        let mut shape = Shape::default();
        T::members(&mut shape);
        shape
    }

    /// The wire names of the properties.
    pub fn names(&self) -> Vec<&'static str> {
        self.props.iter().map(|p| p.name).collect()
    }

    fn get(&mut self, name: &str) -> &mut Prop {
        match self.props.iter_mut().find(|p| p.name == name) {
            Some(p) => p,
            None => panic!("the request type has no field `{name}`"),
        }
    }

    /// These fields must be sent (and not `null`).
    pub fn require(mut self, names: &[&str]) -> Shape {
        for name in names {
            self.get(name).required = true;
        }
        self
    }

    /// These fields are refused (even `null`) on this route.
    pub fn without(mut self, names: &[&str]) -> Shape {
        for name in names {
            self.get(name);
            self.props.retain(|p| p.name != *name);
        }
        self
    }

    /// Field `name` takes the values of `T` on this route (e.g. a field
    /// read as any JSON value and checked by the handler).
    pub fn with<T: PartialSchema>(mut self, name: &str) -> Shape {
        self.get(name).schema = T::schema();
        self
    }

    /// Field `name` also meets `T` on this route (e.g. a text the handler
    /// reads as a date).
    pub fn also<T: PartialSchema>(mut self, name: &str) -> Shape {
        let p = self.get(name);
        p.schema = AllOfBuilder::new()
            .item(p.schema.clone())
            .item(T::schema())
            .into();
        self
    }

    /// Exactly one of these fields must be sent (and not `null`).
    pub fn one_of(mut self, names: &[&'static str]) -> Shape {
        names.iter().for_each(|n| _ = self.get(n));
        self.groups.push((true, names.to_vec()));
        self
    }

    /// At least one of these fields must be sent (and not `null`).
    pub fn any_of(mut self, names: &[&'static str]) -> Shape {
        names.iter().for_each(|n| _ = self.get(n));
        self.groups.push((false, names.to_vec()));
        self
    }

    /// The schema of a property: its value, or `null` where that is accepted.
    fn value(p: &Prop) -> RefOr<Schema> {
        let value = if p.doc.is_empty() {
            p.schema.clone()
        } else {
            AllOfBuilder::new()
                .item(p.schema.clone())
                .description(Some(p.doc.clone()))
                .into()
        };
        if p.nullable && !p.required {
            OneOfBuilder::new()
                .item(value)
                .item(ObjectBuilder::new().schema_type(Type::Null))
                .into()
        } else {
            value
        }
    }

    /// The JSON body schema: an object of these properties (and no other,
    /// if closed).
    pub fn body(&self) -> RefOr<Schema> {
        let mut object = ObjectBuilder::new().schema_type(Type::Object);
        for p in &self.props {
            object = object.property(p.name, Self::value(p));
            if p.required {
                object = object.required(p.name);
            }
        }
        if self.closed {
            object =
                object.additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)));
        }
        if self.groups.is_empty() {
            return object.into();
        }
        let mut all = AllOfBuilder::new().item(object);
        for (exactly_one, names) in &self.groups {
            let sent = |name: &&'static str| -> RefOr<Schema> {
                let p = self
                    .props
                    .iter()
                    .find(|p| p.name == *name)
                    .expect("checked");
                ObjectBuilder::new()
                    .property(*name, p.schema.clone())
                    .required(*name)
                    .into()
            };
            all = if *exactly_one {
                all.item(
                    names
                        .iter()
                        .fold(OneOfBuilder::new(), |b, n| b.item(sent(n))),
                )
            } else {
                all.item(
                    names
                        .iter()
                        .fold(AnyOfBuilder::new(), |b, n| b.item(sent(n))),
                )
            };
        }
        all.into()
    }

    /// The query parameters (a query value is text: an empty one is left
    /// out; a number is its digits).
    pub fn parameters(&self) -> Vec<Parameter> {
        self.props
            .iter()
            .map(|p| {
                ParameterBuilder::new()
                    .name(p.name)
                    .parameter_in(ParameterIn::Query)
                    .required(if p.required {
                        Required::True
                    } else {
                        Required::False
                    })
                    .description((!p.doc.is_empty()).then(|| p.doc.clone()))
                    .schema(Some(p.schema.clone()))
                    .build()
            })
            .collect()
    }
}

/// Declares a request type: the struct exactly as written, its
/// [`Members`] from its fields (serde's `rename` and `flatten` honoured,
/// doc comments as descriptions) and its schema ([`PartialSchema`],
/// [`ToSchema`]) with nothing required.
macro_rules! request_type {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $(#[serde($($serde:tt)*)])?
                $fvis:vis $field:ident : $ty:ty
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $(
                $(#[doc = $doc])*
                $(#[serde($($serde)*)])?
                $fvis $field: $ty,
            )*
        }

        impl $crate::request_schema::Members for $name {
            fn members(shape: &mut $crate::request_schema::Shape) {
                $(
                    $crate::request_schema::member!(
                        shape, $field, $ty, [$($($serde)*)?], concat!($($doc, "\n",)*)
                    );
                )*
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::request_schema::Shape::of::<Self>().body()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}
pub(crate) use request_type;

/// One field of [`request_type!`]: flattened members, or a property under
/// its serde name.
macro_rules! member {
    ($shape:ident, $field:ident, $ty:ty, [flatten], $doc:expr) => {
        <$ty as $crate::request_schema::Members>::members($shape)
    };
    ($shape:ident, $field:ident, $ty:ty, [rename = $wire:literal], $doc:expr) => {
        <$ty as $crate::request_schema::Member>::add($shape, $wire, $doc)
    };
    ($shape:ident, $field:ident, $ty:ty, [], $doc:expr) => {
        <$ty as $crate::request_schema::Member>::add($shape, stringify!($field), $doc)
    };
}
pub(crate) use member;

/// A string schema.
pub fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// A string schema with a pattern (ECMA 262, as JSON Schema's).
pub fn pattern(re: &str) -> ObjectBuilder {
    string().pattern(Some(re))
}

/// Not only whitespace (what is left after trimming is not empty).
const NOT_BLANK: &str = r"\S";

impl<const MAX: usize> PartialSchema for Text<MAX> {
    fn schema() -> RefOr<Schema> {
        string()
            .max_length(Some(MAX))
            .description(Some("trimmed of surrounding whitespace"))
            .into()
    }
}
impl<const MAX: usize> ToSchema for Text<MAX> {}

impl<const MAX: usize> PartialSchema for NonEmpty<MAX> {
    fn schema() -> RefOr<Schema> {
        pattern(NOT_BLANK)
            .max_length(Some(MAX))
            .description(Some("trimmed of surrounding whitespace; not empty"))
            .into()
    }
}
impl<const MAX: usize> ToSchema for NonEmpty<MAX> {}

impl PartialSchema for Verbatim {
    fn schema() -> RefOr<Schema> {
        string().description(Some("exactly as sent")).into()
    }
}
impl ToSchema for Verbatim {}

impl PartialSchema for Time {
    fn schema() -> RefOr<Schema> {
        // `clock::parse_flexible`'s four forms.
        const DATE: &str = "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])";
        const CLOCK: &str = "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]";
        let date_time = |re: String, format: Option<KnownFormat>| {
            pattern(&format!(r"^\s*{re}\s*$")).format(format.map(SchemaFormat::KnownFormat))
        };
        AnyOfBuilder::new()
            .item(date_time(
                format!(r"{DATE}T{CLOCK}(\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"),
                Some(KnownFormat::DateTime),
            ))
            .item(date_time(DATE.to_string(), Some(KnownFormat::Date)))
            .item(date_time(format!("{DATE} {CLOCK}"), None))
            .item(date_time(
                format!("(0[1-9]|[12][0-9]|3[01])/(0[1-9]|1[0-2])/[0-9]{{4}} {CLOCK}"),
                None,
            ))
            .description(Some(
                "RFC 3339 (2026-01-31T12:00:00Z), YYYY-MM-DD (midnight UTC), \
                 YYYY-MM-DD HH:MM:SS or DD/MM/YYYY HH:MM:SS (UTC)",
            ))
            .into()
    }
}
impl ToSchema for Time {}

impl<const MIN: i64, const MAX: i64> PartialSchema for Int<MIN, MAX> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(MIN))
            .maximum(Some(MAX))
            .description(Some(
                "a whole number (also read from a string of its digits)",
            ))
            .into()
    }
}
impl<const MIN: i64, const MAX: i64> ToSchema for Int<MIN, MAX> {}

impl PartialSchema for Limit {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(crate::request::MAX_LIMIT))
            .default(Some(crate::request::DEFAULT_LIMIT.into()))
            .description(Some("how many items a page holds"))
            .into()
    }
}
impl ToSchema for Limit {}

/// A plain decimal as text (`money::parse_decimal`): digits with an
/// optional sign and point, no exponent.
/// At most 14 digits before the point and 14 after: every such string
/// has at most 28 significant digits.
const DECIMAL: &str = r"^\s*[+-]?([0-9]{1,14}(\.[0-9]{0,14})?|\.[0-9]{1,14})\s*$";

impl PartialSchema for Dec {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(pattern(DECIMAL))
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .description(Some(
                "an exact decimal: a string like \"19.99\" or a JSON number without an \
                 exponent; at most 28 significant digits, never rounded",
            ))
            .examples(["19.99"])
            .into()
    }
}
impl ToSchema for Dec {}

impl PartialSchema for Flag {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Boolean).into()
    }
}
impl ToSchema for Flag {}

impl<const MAX_BYTES: usize> PartialSchema for Object<MAX_BYTES> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(format!(
                "any JSON object of at most {MAX_BYTES} bytes as compact JSON"
            )))
            .into()
    }
}
impl<const MAX_BYTES: usize> ToSchema for Object<MAX_BYTES> {}

impl<T: Words> PartialSchema for Word<T> {
    fn schema() -> RefOr<Schema> {
        string().enum_values(Some(T::WORDS.iter().copied())).into()
    }
}
impl<T: Words> ToSchema for Word<T> {}

impl<const ITEMS: usize, const LEN: usize> PartialSchema for Strings<ITEMS, LEN> {
    fn schema() -> RefOr<Schema> {
        // LEN counts bytes: ASCII entries, whose bytes are characters.
        ArrayBuilder::new()
            .items(pattern(r"^[\u0000-\u007f]*$").max_length(Some(LEN)))
            .max_items(Some(ITEMS))
            .into()
    }
}
impl<const ITEMS: usize, const LEN: usize> ToSchema for Strings<ITEMS, LEN> {}

impl PartialSchema for Unknown {
    /// No property at all: flattened into a request type, none but its own.
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)))
            .into()
    }
}
impl ToSchema for Unknown {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Unknown")
    }
}

impl PartialSchema for crate::handlers::invoices::WebUrl {
    fn schema() -> RefOr<Schema> {
        // Lower-case scheme, an ASCII host name: a subset of what the URL
        // parser takes, every one of them taken.
        pattern(r"^https?://[a-z0-9]+(\.[a-z0-9]+)*(:[0-9]{1,4})?(/[A-Za-z0-9._~/-]*)?$")
            .max_length(Some(2000))
            .format(Some(SchemaFormat::Custom("uri".into())))
            .description(Some("an absolute http(s) URL"))
            .into()
    }
}
impl ToSchema for crate::handlers::invoices::WebUrl {}

impl PartialSchema for crate::handlers::invoices::TextId {
    fn schema() -> RefOr<Schema> {
        AllOfBuilder::new()
            .item(NonEmpty::<200>::schema())
            .item(pattern(r"^[^\u0000-\u001f\u007f-\u009f]*$"))
            .description(Some("not empty, no control characters"))
            .into()
    }
}
impl ToSchema for crate::handlers::invoices::TextId {}

impl PartialSchema for crate::handlers::invoices::Email {
    fn schema() -> RefOr<Schema> {
        pattern(r"^\s*[^\s@]*@\S*\s*$")
            .max_length(Some(254))
            .description(Some("an email address"))
            .into()
    }
}
impl ToSchema for crate::handlers::invoices::Email {}

impl PartialSchema for crate::prices::rates::Currency {
    fn schema() -> RefOr<Schema> {
        pattern(r"^\s*[A-Za-z]{3}\s*$")
            .description(Some(
                "BTC or a 3-letter fiat code (case-insensitive) the gateway accepts",
            ))
            .examples(["USD", "BTC"])
            .into()
    }
}
impl ToSchema for crate::prices::rates::Currency {}

impl PartialSchema for crate::handlers::sandbox::TxidIn {
    fn schema() -> RefOr<Schema> {
        pattern(r"^\s*[0-9a-f]{64}\s*$")
            .description(Some("a transaction id (hex)"))
            .into()
    }
}
impl ToSchema for crate::handlers::sandbox::TxidIn {}
