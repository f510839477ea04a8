//! The building blocks of the response views: each resource's `to_json`
//! serializes a view struct (`#[derive(Serialize, ToSchema)]`) whose fields
//! are the API's fields, so the OpenAPI schema of a response is generated
//! from the very type its JSON is written from. The wire types here state
//! what the views put on the wire: times, decimal amounts as text, the
//! `object` word of each resource and currency codes.

use crate::clock::Stamp;
use crate::request_schema::pattern;
use serde::Serialize;
use utoipa::openapi::schema::{Schema, SchemaFormat};
use utoipa::openapi::{KnownFormat, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// RFC 3339 UTC with milliseconds, as [`crate::clock::rfc3339`] writes it.
const TIMESTAMP: &str = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$";

impl PartialSchema for Stamp {
    fn schema() -> RefOr<Schema> {
        pattern(TIMESTAMP)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("RFC 3339 UTC with milliseconds"))
            .examples(["2026-01-31T12:34:56.789Z"])
            .into()
    }
}

impl ToSchema for Stamp {
    fn name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }
}

/// A decimal amount as text, every digit kept (`"19.99"`, `"0.00100000"`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct DecimalText(pub String);

impl PartialSchema for DecimalText {
    fn schema() -> RefOr<Schema> {
        pattern(r"^-?[0-9]+(\.[0-9]+)?$")
            .description(Some("an exact decimal as text"))
            .examples(["19.99"])
            .into()
    }
}

impl ToSchema for DecimalText {}

impl From<String> for DecimalText {
    fn from(s: String) -> DecimalText {
        DecimalText(s)
    }
}

/// The schema of a currency code as responses show it (`BTC`, `USD`).
pub fn currency_code() -> RefOr<Schema> {
    pattern("^[A-Z]{3}$")
        .description(Some("BTC or a 3-letter fiat code"))
        .examples(["USD", "BTC"])
        .into()
}

/// Declares unit types that serialize as one fixed word (a resource's
/// `object`), each with the schema of exactly that word.
macro_rules! words {
    ($($(#[$doc:meta])* $name:ident => $word:literal;)+) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
            pub struct $name;

            impl Serialize for $name {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    s.serialize_str($word)
                }
            }

            impl PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    crate::request_schema::string().enum_values(Some([$word])).into()
                }
            }

            impl ToSchema for $name {}
        )+
    };
}

words! {
    /// `"invoice"`.
    InvoiceObject => "invoice";
    /// `"payment"`.
    PaymentObject => "payment";
    /// `"refund"`.
    RefundObject => "refund";
    /// `"store"`.
    StoreObject => "store";
    /// `"webhook_endpoint"`.
    EndpointObject => "webhook_endpoint";
    /// `"webhook_delivery"`.
    DeliveryObject => "webhook_delivery";
    /// `"event"`.
    EventObject => "event";
    /// `"quote"`.
    QuoteObject => "quote";
    /// `"list"`.
    ListObject => "list";
    /// `"api_key"`.
    ApiKeyObject => "api_key";
    /// `"user"`.
    UserObject => "user";
    /// `"BTC"` (the crypto currency of prices and quotes).
    Btc => "BTC";
}

/// The list envelope `{"object": "list", "items": [...], "next_cursor"}`.
#[derive(Serialize, ToSchema)]
#[schema(as = List)]
pub struct ListView<T> {
    #[schema(inline)]
    pub object: ListObject,
    /// This page's items.
    pub items: Vec<T>,
    /// Pass as `cursor` to read the next page; `null` on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}
