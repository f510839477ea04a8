//! The OpenAPI 3.1 document of the API (`GET /v1/openapi.json`), built from
//! the route table: every route is one operation (its Lambda function name
//! is the `operationId`), path parameters come from the path, security from
//! the route's `Auth`, and the error envelope's schema is generated (utoipa)
//! from the type every error answer is serialized from. The success body of
//! a route that answers with a resource (or a list of them) is the schema of
//! the view struct its JSON is serialized from ([`RESPONSES`]).

use crate::account::{ApiKeyView, ApiKeyWithSecretView};
use crate::error::ErrorEnvelope;
use crate::events::EventView;
use crate::handlers::invoices::{
    AcceptUnderpaymentRequest, CancelRequest, CreateInvoiceRequest, ImportInvoiceRequest,
    ListEventsQuery, ListInvoicesQuery, ListPaymentsQuery, MarkRequest, RefundRequest,
    SummaryQuery,
};
use crate::handlers::sandbox::{
    DoubleSpendRequest, MineRequest, PayRequest, ReorgRequest, SimulateWebhookRequest,
};
use crate::handlers::webhooks::{
    CreateEndpointRequest, RotateSecretRequest, UpdateEndpointRequest,
};
use crate::invoice::{InvoiceView, PaymentView, RefundView};
use crate::prices::quotes::QuoteView;
use crate::prices::rates::{Currency, PriceView};
use crate::request::{ListQuery, NoFields, PageQuery, Time, Word};
use crate::request_schema::Shape;
use crate::routes::{row, Auth, Route, ROUTES};
use crate::store::StoreView;
use crate::users::UserView;
use crate::view::ListView;
use crate::webhooks::{DeliveryView, EndpointView, EndpointWithSecretView};
use std::sync::OnceLock;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ComponentsBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathItem, PathsBuilder, Ref, RefOr,
    Required, ResponseBuilder, ResponsesBuilder,
};
use utoipa::{PartialSchema, ToSchema};

/// The security schemes a key may come in (API.md "Auth").
const SCHEMES: [&str; 3] = ["bearer", "basic", "api_key"];

/// The request body of every v1 route that takes one, by function name:
/// the shape of the request type the handler parses, with what this route
/// requires (the handler's `require` calls).
static BODIES: &[(&str, fn() -> RefOr<Schema>)] = &[
    (row::STORES_CREATE.function, || {
        Shape::of::<crate::store::StoreRequest>()
            .with::<Word<crate::network::Network>>("network")
            .also::<Currency>("default_currency")
            .require(&["name", "network", "wallet"])
            .body()
    }),
    (row::STORES_UPDATE.function, || {
        Shape::of::<crate::store::StoreRequest>()
            .also::<Currency>("default_currency")
            .without(&["network"])
            .body()
    }),
    (row::API_KEYS_CREATE.function, || {
        Shape::of::<crate::handlers::stores::CreateKeyRequest>().body()
    }),
    (row::INVOICES_CREATE.function, || {
        Shape::of::<CreateInvoiceRequest>()
            .any_of(&["amount", "quote_id"])
            .body()
    }),
    (row::INVOICES_IMPORT.function, || {
        Shape::of::<ImportInvoiceRequest>()
            .also::<Time>("created_at")
            .require(&["order_id", "amount", "currency", "created_at"])
            .body()
    }),
    (row::INVOICES_MARK.function, || {
        Shape::of::<MarkRequest>().require(&["status"]).body()
    }),
    (row::INVOICES_CANCEL.function, || {
        Shape::of::<CancelRequest>().body()
    }),
    (row::INVOICES_ACCEPT_UNDERPAYMENT.function, || {
        Shape::of::<AcceptUnderpaymentRequest>()
            .require(&["accepted_amount_sats"])
            .body()
    }),
    (row::REFUNDS_CREATE.function, || {
        Shape::of::<RefundRequest>()
            .require(&["address", "amount_sats"])
            .body()
    }),
    (row::SANDBOX_PAYMENTS.function, || {
        Shape::of::<PayRequest>()
            .require(&["amount_sats"])
            .one_of(&["invoice_id", "address"])
            .body()
    }),
    (row::SANDBOX_BLOCKS.function, || {
        Shape::of::<MineRequest>().body()
    }),
    (row::SANDBOX_REORG.function, || {
        Shape::of::<ReorgRequest>().require(&["depth"]).body()
    }),
    (row::SANDBOX_DOUBLE_SPEND.function, || {
        Shape::of::<DoubleSpendRequest>().require(&["txid"]).body()
    }),
    (row::SANDBOX_SIMULATE_WEBHOOK.function, || {
        Shape::of::<SimulateWebhookRequest>()
            .require(&["invoice_id", "status"])
            .body()
    }),
    (row::QUOTES_CREATE.function, || {
        Shape::of::<crate::prices::quotes::QuoteBody>()
            .also::<Currency>("currency")
            .require(&["amount", "currency"])
            .body()
    }),
    (row::WEBHOOK_ENDPOINTS_CREATE.function, || {
        Shape::of::<CreateEndpointRequest>()
            .require(&["url"])
            .body()
    }),
    (row::WEBHOOK_ENDPOINTS_UPDATE.function, || {
        Shape::of::<UpdateEndpointRequest>().body()
    }),
    (row::WEBHOOK_ENDPOINTS_ROTATE_SECRET.function, || {
        Shape::of::<RotateSecretRequest>().body()
    }),
    (row::WEBHOOK_ENDPOINTS_TEST.function, || {
        Shape::of::<NoFields>().body()
    }),
    (row::WEBHOOK_DELIVERIES_REDELIVER.function, || {
        Shape::of::<NoFields>().body()
    }),
    (row::USERS_CREATE.function, credentials),
    (row::AUTH_LOGIN.function, credentials),
    // The session is the key; a body is not read.
    (row::AUTH_LOGOUT.function, || any_value_schema("not read")),
];

/// The success body of every v1 route that answers with a resource, or a
/// list of them, by function name: the schema of the view struct the
/// resource's `to_json` serializes.
static RESPONSES: &[(&str, fn() -> RefOr<Schema>)] = &[
    (row::STORES_CREATE.function, || {
        ObjectBuilder::new()
            .property("store", one::<StoreView>())
            .required("store")
            .property("api_key", one::<ApiKeyWithSecretView>())
            .required("api_key")
            .into()
    }),
    (row::API_KEYS_CREATE.function, one::<ApiKeyWithSecretView>),
    (row::API_KEYS_LIST.function, list::<ApiKeyView>),
    (row::USERS_CREATE.function, one::<UserView>),
    (row::USERS_LIST.function, list::<UserView>),
    (row::STORES_LIST.function, list::<StoreView>),
    (row::STORES_GET.function, one::<StoreView>),
    (row::STORES_UPDATE.function, one::<StoreView>),
    (row::INVOICES_CREATE.function, one::<InvoiceView>),
    (row::INVOICES_LIST.function, list::<InvoiceView>),
    (row::INVOICES_GET.function, one::<InvoiceView>),
    (row::INVOICES_IMPORT.function, one::<InvoiceView>),
    (row::INVOICES_MARK.function, one::<InvoiceView>),
    (row::INVOICES_CANCEL.function, one::<InvoiceView>),
    (
        row::INVOICES_ACCEPT_UNDERPAYMENT.function,
        one::<InvoiceView>,
    ),
    (row::REFUNDS_CREATE.function, one::<RefundView>),
    (row::REFUNDS_LIST.function, list::<RefundView>),
    (row::PAYMENTS_LIST.function, list::<PaymentView>),
    (row::PAYMENTS_GET.function, one::<PaymentView>),
    (row::EVENTS_LIST.function, list::<EventView>),
    (row::PRICES_LIST.function, || {
        ObjectBuilder::new()
            .property("prices", ArrayBuilder::new().items(one::<PriceView>()))
            .required("prices")
            .into()
    }),
    (row::QUOTES_CREATE.function, one::<QuoteView>),
    (
        row::WEBHOOK_ENDPOINTS_CREATE.function,
        one::<EndpointWithSecretView>,
    ),
    (row::WEBHOOK_ENDPOINTS_LIST.function, list::<EndpointView>),
    (row::WEBHOOK_ENDPOINTS_GET.function, one::<EndpointView>),
    (row::WEBHOOK_ENDPOINTS_UPDATE.function, one::<EndpointView>),
    (
        row::WEBHOOK_ENDPOINTS_ROTATE_SECRET.function,
        one::<EndpointWithSecretView>,
    ),
    (row::WEBHOOK_ENDPOINTS_TEST.function, one::<DeliveryView>),
    (row::WEBHOOK_DELIVERIES_LIST.function, list::<DeliveryView>),
    (row::WEBHOOK_DELIVERIES_GET.function, one::<DeliveryView>),
    (
        row::WEBHOOK_DELIVERIES_REDELIVER.function,
        one::<DeliveryView>,
    ),
];

/// A reference to the component of view `T`.
fn one<T: ToSchema>() -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

/// The list envelope ([`ListView`]) of `T`s.
fn list<T: ToSchema>() -> RefOr<Schema> {
    let mut schema = ListView::<serde_json::Value>::schema();
    if let RefOr::T(Schema::Object(object)) = &mut schema {
        object.properties.insert(
            "items".into(),
            ArrayBuilder::new()
                .items(one::<T>())
                .description(Some("this page's items"))
                .into(),
        );
    }
    schema
}

/// The component schemas of every view of [`RESPONSES`] and what they use.
fn view_schemas() -> Vec<(String, RefOr<Schema>)> {
    fn add<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
    }
    let mut schemas = Vec::new();
    add::<InvoiceView>(&mut schemas);
    add::<PaymentView>(&mut schemas);
    add::<RefundView>(&mut schemas);
    add::<StoreView>(&mut schemas);
    add::<EventView>(&mut schemas);
    add::<PriceView>(&mut schemas);
    add::<QuoteView>(&mut schemas);
    add::<EndpointView>(&mut schemas);
    add::<EndpointWithSecretView>(&mut schemas);
    add::<DeliveryView>(&mut schemas);
    add::<ApiKeyView>(&mut schemas);
    add::<ApiKeyWithSecretView>(&mut schemas);
    add::<UserView>(&mut schemas);
    schemas
}

/// The success body schema of a v1 JSON route: its view's, or any object.
fn response_schema(route: &Route) -> RefOr<Schema> {
    match RESPONSES.iter().find(|(f, _)| *f == route.function) {
        Some((_, schema)) => schema(),
        None => Schema::Object(ObjectBuilder::new().build()).into(),
    }
}

/// The query parameters of every v1 route that reads some, by function name.
static QUERIES: &[(&str, fn() -> Shape)] = &[
    (row::STORES_LIST.function, Shape::of::<ListQuery<PageQuery>>),
    (
        row::API_KEYS_LIST.function,
        Shape::of::<ListQuery<PageQuery>>,
    ),
    (row::QR.function, || {
        Shape::of::<crate::handlers::checkout::QrQuery>().require(&["data"])
    }),
    (row::INVOICES_LIST.function, Shape::of::<ListInvoicesQuery>),
    (row::PAYMENTS_LIST.function, Shape::of::<ListPaymentsQuery>),
    (row::SUMMARY.function, Shape::of::<SummaryQuery>),
    (row::EVENTS_LIST.function, Shape::of::<ListEventsQuery>),
    (row::CONVERT.function, || {
        Shape::of::<crate::handlers::prices::ConvertQuery>().require(&["from", "to", "amount"])
    }),
    (
        row::WEBHOOK_ENDPOINTS_LIST.function,
        Shape::of::<ListQuery<PageQuery>>,
    ),
    (
        row::WEBHOOK_DELIVERIES_LIST.function,
        Shape::of::<ListQuery<PageQuery>>,
    ),
];

fn credentials() -> RefOr<Schema> {
    Shape::of::<crate::handlers::users::CredentialsRequest>()
        .require(&["username", "password"])
        .body()
}

/// The request body schema of a route: its request type's, or any JSON
/// value (a seed face's request, documented in its seed's README).
fn request_schema(route: &Route) -> RefOr<Schema> {
    match BODIES.iter().find(|(f, _)| *f == route.function) {
        Some((_, schema)) => schema(),
        None => any_value_schema("in the seed system's shape"),
    }
}

fn any_value_schema(description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
        .description(Some(description))
        .into()
}

/// The document, built once.
pub fn document() -> &'static OpenApi {
    static DOC: OnceLock<OpenApi> = OnceLock::new();
    DOC.get_or_init(build)
}

fn build() -> OpenApi {
    let mut schemas = view_schemas();
    <ErrorEnvelope as ToSchema>::schemas(&mut schemas);
    let components = ComponentsBuilder::new()
        .schema_from::<ErrorEnvelope>()
        .schemas_from_iter(schemas)
        .security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        )
        .security_scheme(
            "basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        )
        .security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("Api-Key"))),
        )
        .build();
    let mut paths = PathsBuilder::new();
    for route in ROUTES {
        paths = paths.path(route.path, PathItem::new(method(route), operation(route)));
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("satsgate API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Non-custodial Bitcoin payment gateway, API v1 and the seed faces served next to it.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .build()
}

fn method(route: &Route) -> HttpMethod {
    match route.method {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "PATCH" => HttpMethod::Patch,
        "DELETE" => HttpMethod::Delete,
        "PUT" => HttpMethod::Put,
        other => panic!("route method {other} has no OpenAPI method"),
    }
}

/// What a route answers with.
#[derive(Clone, Copy, PartialEq)]
enum Answer {
    /// JSON; errors in the API's envelope.
    Json,
    /// JSON in seed 000's shapes (errors `{"status": "error", "message"}`).
    Seed,
    /// The hosted checkout page.
    Html,
    /// A QR image.
    Image,
}

fn answer(route: &Route) -> Answer {
    if route.path.starts_with("/i/") {
        Answer::Html
    } else if route.path == "/v1/qr" {
        Answer::Image
    } else if crate::faces::Face::of(route.path) != crate::faces::Face::V1 {
        // A seed face answers in its seed document's shapes (its README
        // table), which this document does not restate.
        Answer::Seed
    } else {
        Answer::Json
    }
}

/// Any JSON value (a face may answer with an array, as POS `GetCurrencyList`).
fn any_value() -> ContentBuilder {
    ContentBuilder::new().schema(Some(Schema::Object(
        ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
            .build(),
    )))
}

fn operation(route: &Route) -> utoipa::openapi::path::Operation {
    let mut op = OperationBuilder::new()
        .operation_id(Some(route.function))
        .tag(
            route
                .path
                .split('/')
                .nth(if route.path.starts_with("/v1/") { 2 } else { 1 })
                .unwrap_or(""),
        );
    for segment in route.path.split('/') {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            op = op.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .min_length(Some(1)),
                    )),
            );
        }
    }
    if let Some((_, query)) = QUERIES.iter().find(|(f, _)| *f == route.function) {
        for p in query().parameters() {
            op = op.parameter(p);
        }
    }
    if matches!(route.method, "POST" | "PATCH" | "PUT") {
        op = op.request_body(Some(
            RequestBodyBuilder::new()
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(request_schema(route)))
                        .build(),
                )
                .build(),
        ));
    }
    if route.auth != Auth::Public {
        op = op.securities(Some(
            SCHEMES.map(|s| SecurityRequirement::new(s, Vec::<String>::new())),
        ));
    }
    let ok = match answer(route) {
        Answer::Json => ResponseBuilder::new().description("success").content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(response_schema(route)))
                .build(),
        ),
        Answer::Seed => ResponseBuilder::new()
            .description("success, in the seed system's shape")
            .content("application/json", any_value().build()),
        Answer::Html => ResponseBuilder::new()
            .description("the page")
            .content("text/html", ContentBuilder::new().build()),
        Answer::Image => ResponseBuilder::new()
            .description("the QR code")
            .content("image/svg+xml", ContentBuilder::new().build())
            .content("image/png", ContentBuilder::new().build()),
    };
    let error = match answer(route) {
        Answer::Seed => ResponseBuilder::new()
            .description("an error in the seed system's shape")
            .content("application/json", any_value().build()),
        Answer::Html => ResponseBuilder::new()
            .description("an error page")
            .content("text/html", ContentBuilder::new().build()),
        Answer::Json | Answer::Image => ResponseBuilder::new().description("an error").content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(Ref::from_schema_name("ErrorEnvelope"))))
                .build(),
        ),
    };
    op.responses(
        ResponsesBuilder::new()
            .response("2XX", ok.build())
            .response("default", error.build())
            .build(),
    )
    .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use std::collections::BTreeSet;

    /// Every route of the table is an operation of the document, and the
    /// document has no other.
    #[test]
    fn the_document_has_exactly_the_route_table() {
        let doc = serde_json::to_value(document()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                documented.insert((
                    method.to_uppercase(),
                    path.clone(),
                    op["operationId"].as_str().unwrap().to_string(),
                ));
            }
        }
        let table = crate::routes::rows();
        let missing: Vec<_> = table.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&table).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "missing in the document: {missing:?}\nonly in the document: {extra:?}"
        );
    }

    /// Every v1 route that takes a body documents its request type, and
    /// every table entry names a real route of the right kind.
    #[test]
    fn every_v1_body_has_its_request_schema() {
        use crate::faces::Face;
        for route in ROUTES {
            let takes_body = matches!(route.method, "POST" | "PATCH" | "PUT");
            if takes_body && Face::of(route.path) == Face::V1 {
                assert!(
                    BODIES.iter().any(|(f, _)| *f == route.function),
                    "{} {} has no request schema",
                    route.method,
                    route.path
                );
            }
        }
        for (function, schema) in BODIES {
            let route = crate::routes::route_of(function).expect("a real route");
            assert!(
                matches!(route.method, "POST" | "PATCH" | "PUT"),
                "{function} takes no body"
            );
            assert_eq!(Face::of(route.path), Face::V1, "{function}");
            schema();
        }
        for (function, query) in QUERIES {
            let route = crate::routes::route_of(function).expect("a real route");
            assert_eq!(route.method, "GET", "{function}");
            assert!(!query().props.is_empty(), "{function}");
        }
    }

    /// The wrappers state their limits, and a request type's schema is its
    /// fields under their serde names, refusing any other.
    #[test]
    fn schemas_state_the_real_limits() {
        let doc = serde_json::to_value(document()).unwrap();
        let body = |path: &str, method: &str| {
            doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
                .clone()
        };
        let mark = body("/v1/invoices/{id}/status", "post");
        assert_eq!(mark["additionalProperties"], false);
        assert_eq!(mark["required"], json!(["status"]));
        assert_eq!(
            mark["properties"]["status"]["enum"],
            json!(["completed", "invalid"])
        );
        let comment = &mark["properties"]["comment"]["oneOf"];
        assert_eq!(comment[0]["maxLength"], 1000);
        assert_eq!(comment[1]["type"], "null");
        let mine = body("/v1/sandbox/blocks", "post");
        let count = &mine["properties"]["count"]["oneOf"][0];
        assert_eq!(
            (&count["minimum"], &count["maximum"]),
            (&json!(1), &json!(1000))
        );
        let store = body("/v1/stores/{id}", "patch");
        assert!(store["properties"].get("network").is_none());
        let store = body("/v1/stores", "post");
        assert_eq!(store["required"], json!(["name", "network", "wallet"]));
        let events = &doc["paths"]["/v1/events"]["get"]["parameters"];
        let names: Vec<&str> = events
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["type", "invoice_id", "limit", "cursor"]);
        assert_eq!(
            body("/v1/auth/logout", "post")["description"],
            "not read",
            "logout reads no body"
        );
        assert_eq!(
            Shape::of::<crate::handlers::users::CredentialsRequest>().names(),
            ["username", "password"]
        );
    }

    /// A JSON Schema validator for what these documents use (formats are
    /// annotations, as JSON Schema 2020-12 has them by default).
    fn valid(schema: &Value, v: &Value) -> Result<(), String> {
        let fail = |why: String| Err(format!("{why}: {v}"));
        let Some(s) = schema.as_object() else {
            return Ok(());
        };
        if let Some(t) = s.get("type") {
            let types: Vec<&str> = match t {
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                other => vec![other.as_str().unwrap()],
            };
            let is = |t: &str| match t {
                "string" => v.is_string(),
                "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
                "number" => v.is_number(),
                "boolean" => v.is_boolean(),
                "object" => v.is_object(),
                "array" => v.is_array(),
                "null" => v.is_null(),
                other => panic!("type {other}"),
            };
            if !types.iter().any(|t| is(t)) {
                return fail(format!("not {types:?}"));
            }
        }
        if let Some(e) = s.get("enum") {
            if !e.as_array().unwrap().contains(v) {
                return fail(format!("not one of {e}"));
            }
        }
        if let Value::String(text) = v {
            let chars = text.chars().count() as u64;
            if s.get("maxLength")
                .and_then(Value::as_u64)
                .is_some_and(|m| chars > m)
            {
                return fail("too long".into());
            }
            if s.get("minLength")
                .and_then(Value::as_u64)
                .is_some_and(|m| chars < m)
            {
                return fail("too short".into());
            }
            if let Some(p) = s.get("pattern").and_then(Value::as_str) {
                if !regex_lite::Regex::new(p).unwrap().is_match(text) {
                    return fail(format!("does not match {p}"));
                }
            }
        }
        if let Some(n) = v.as_f64() {
            if s.get("minimum")
                .and_then(Value::as_f64)
                .is_some_and(|m| n < m)
            {
                return fail("below the minimum".into());
            }
            if s.get("maximum")
                .and_then(Value::as_f64)
                .is_some_and(|m| n > m)
            {
                return fail("above the maximum".into());
            }
        }
        if let Value::Array(items) = v {
            if s.get("maxItems")
                .and_then(Value::as_u64)
                .is_some_and(|m| items.len() as u64 > m)
            {
                return fail("too many items".into());
            }
            if let Some(item) = s.get("items") {
                items.iter().try_for_each(|i| valid(item, i))?;
            }
        }
        if let Value::Object(map) = v {
            let props = s.get("properties").and_then(Value::as_object);
            for name in s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if !map.contains_key(name.as_str().unwrap()) {
                    return fail(format!("{name} is required"));
                }
            }
            for (k, item) in map {
                match props.and_then(|p| p.get(k)) {
                    Some(p) => valid(p, item)?,
                    None if s.get("additionalProperties") == Some(&json!(false)) => {
                        return fail(format!("{k} is not a property"));
                    }
                    None => {}
                }
            }
        }
        for sub in s
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            valid(sub, v)?;
        }
        if let Some(any) = s.get("anyOf").and_then(Value::as_array) {
            if !any.iter().any(|sub| valid(sub, v).is_ok()) {
                return fail("matches none of anyOf".into());
            }
        }
        if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
            let n = one.iter().filter(|sub| valid(sub, v).is_ok()).count();
            if n != 1 {
                return fail(format!("matches {n} of oneOf"));
            }
        }
        Ok(())
    }

    /// A known-good body of each request type (API.md, tests/) validates
    /// against the route's schema and deserializes with no bad and no
    /// unknown field; the schema refuses an unknown field and a wrong type.
    #[test]
    fn known_good_bodies_validate_and_deserialize() {
        use crate::request::{body, UNKNOWN_FIELD};
        let doc = serde_json::to_value(document()).unwrap();
        macro_rules! example {
            ($function:expr, $ty:ty, $body:expr) => {{
                let route = crate::routes::route_of($function).unwrap();
                let schema = &doc["paths"][route.path][route.method.to_lowercase()]["requestBody"]
                    ["content"]["application/json"]["schema"];
                let v: Value = $body;
                if let Err(why) = valid(schema, &v) {
                    panic!("{}: {why}\n{schema:#}", $function);
                }
                let parsed: $ty = body(v.to_string().as_bytes()).unwrap();
                let shown = format!("{parsed:?}");
                assert!(!shown.contains("Bad("), "{}: {shown}", $function);
                let mut e = crate::error::FieldErrors::default();
                parsed.unknown.refuse(&mut e, UNKNOWN_FIELD);
                assert!(e.is_empty(), "{}: unknown fields", $function);
                let mut extra = v.clone();
                extra["no_such_field"] = json!(1);
                assert!(valid(schema, &extra).is_err(), "{}", $function);
                for (k, _) in v.as_object().unwrap() {
                    let mut wrong = v.clone();
                    wrong[k] = json!([[]]);
                    assert!(valid(schema, &wrong).is_err(), "{}: {k}", $function);
                }
            }};
        }
        use crate::handlers::users::CredentialsRequest;
        use crate::store::StoreRequest;
        let vpub = "vpub5SLqN2bLY4WeZF3kL4VqiWF1itbf3A6oRrq9aPf16AZMVWYCuN9TxpAZwCzVgW94TNzZPNc9XAHD4As6pdnExBtCDGYRmNJrcJ4eV9hNqcv";
        example!(
            "stores-create",
            StoreRequest,
            json!({
                "name": "My shop", "network": "regtest", "wallet": vpub,
                "default_currency": "USD", "speed_policy": "one_conf",
                "expiration_minutes": 60, "monitoring_minutes": 1440,
                "payment_tolerance_percent": "0.5", "api_allowed_ips": ["10.0.0.0/8", "::1"]
            })
        );
        example!(
            "stores-update",
            StoreRequest,
            json!({"name": "Renamed", "speed_policy": "zero_conf"})
        );
        example!(
            "api-keys-create",
            crate::handlers::stores::CreateKeyRequest,
            json!({"label": "POS", "allowed_ips": ["203.0.113.7"]})
        );
        example!(
            "invoices-create",
            CreateInvoiceRequest,
            json!({
                "amount": "19.99", "currency": "USD", "order_id": "order-1001",
                "order_name": "T-shirt", "memo": "size M", "buyer_email": "buyer@example.com",
                "redirect_url": "https://shop.example.com/thanks",
                "webhook_url": "https://shop.example.com/hook", "expire_min": 30,
                "allowed_error_percent": 1, "speed_policy": "zero_conf",
                "metadata": {"cart": [1, 2]}
            })
        );
        example!(
            "invoices-create",
            CreateInvoiceRequest,
            json!({"quote_id": "qt_123", "amount": null})
        );
        example!(
            "invoices-import",
            ImportInvoiceRequest,
            json!({
                "order_id": "old-7", "amount": 25, "currency": "EUR",
                "crypto_amount": "0.0005", "order_name": "Archived", "created_at": "2024-05-01T10:00:00Z"
            })
        );
        example!(
            "invoices-mark",
            MarkRequest,
            json!({"status": "completed", "comment": "paid by phone"})
        );
        example!(
            "invoices-cancel",
            CancelRequest,
            json!({"reason": "out of stock", "comment": null})
        );
        example!(
            "invoices-accept-underpayment",
            AcceptUnderpaymentRequest,
            json!({"accepted_amount_sats": 15000})
        );
        example!(
            "refunds-create",
            RefundRequest,
            json!({
                "address": "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", "amount_sats": 5000
            })
        );
        example!(
            "sandbox-payments",
            PayRequest,
            json!({"invoice_id": "inv_1", "amount_sats": 1000, "rbf": true})
        );
        example!(
            "sandbox-payments",
            PayRequest,
            json!({"address": "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", "amount_sats": 1})
        );
        example!("sandbox-blocks", MineRequest, json!({"count": 6}));
        example!("sandbox-reorg", ReorgRequest, json!({"depth": 2}));
        example!(
            "sandbox-double-spend",
            DoubleSpendRequest,
            json!({
                "txid": "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
            })
        );
        example!(
            "sandbox-simulate-webhook",
            SimulateWebhookRequest,
            json!({"invoice_id": "inv_1", "status": "completed"})
        );
        example!(
            "quotes-create",
            crate::prices::quotes::QuoteBody,
            json!({
                "amount": "10.00", "currency": "USD", "crypto_currency": "BTC", "accept_zero_conf": false
            })
        );
        example!(
            "webhook-endpoints-create",
            CreateEndpointRequest,
            json!({
                "url": "https://shop.example.com/hook", "events": ["invoice.completed"], "description": "main"
            })
        );
        example!(
            "webhook-endpoints-update",
            UpdateEndpointRequest,
            json!({"events": ["*"], "description": null})
        );
        example!(
            "webhook-endpoints-rotate-secret",
            RotateSecretRequest,
            json!({"previous_secret_expires_in_hours": 0})
        );
        example!(
            "users-create",
            CredentialsRequest,
            json!({"username": "alice", "password": " s3cret "})
        );
        example!(
            "auth-login",
            CredentialsRequest,
            json!({"username": "alice", "password": "pw"})
        );
    }

    /// Each wrapper's schema takes what its deserializer takes and refuses
    /// what it refuses, on the edges.
    #[test]
    fn wrapper_schemas_agree_with_their_deserializers() {
        use crate::request::{Dec, Int, NonEmpty, Strings, Text};
        use utoipa::PartialSchema;
        fn agree<T: PartialSchema + serde::de::DeserializeOwned>(v: Value) {
            let schema = serde_json::to_value(T::schema()).unwrap();
            let by_schema = valid(&schema, &v).is_ok();
            let by_code = serde_json::from_value::<T>(v.clone()).is_ok();
            assert_eq!(by_schema, by_code, "{v} against {schema}");
        }
        for v in [json!("ab"), json!("abcdef"), json!(""), json!(3)] {
            agree::<Text<5>>(v);
        }
        for v in [
            json!("ab"),
            json!("  "),
            json!(""),
            json!("abcdef"),
            json!(null),
        ] {
            agree::<NonEmpty<5>>(v);
        }
        for v in [
            json!(0),
            json!(10),
            json!(11),
            json!(-1),
            json!("x"),
            json!(true),
        ] {
            agree::<Int<0, 10>>(v);
        }
        for v in [
            json!("19.99"),
            json!(" 1 "),
            json!("-0.5"),
            json!(".5"),
            json!("1."),
            json!("+2"),
            json!("1e3"),
            json!("abc"),
            json!(""),
            json!(7),
            json!(0.25),
            json!(true),
            json!("12345678901234.12345678901234"),
        ] {
            agree::<Dec>(v);
        }
        for v in [
            json!(["a", "bb"]),
            json!(["a", "b", "c"]),
            json!(["abcd"]),
            json!([1]),
            json!("a"),
        ] {
            agree::<Strings<2, 3>>(v);
        }
        for v in [json!("zero_conf"), json!("fast"), json!(1)] {
            agree::<Word<crate::store::SpeedPolicy>>(v);
        }
        for v in [
            json!("2026-01-31T12:34:56Z"),
            json!("2026-01-31"),
            json!("2026-01-31 12:34:56"),
            json!("31/01/2026 12:34:56"),
            json!("yesterday"),
            json!(5),
        ] {
            agree::<Time>(v);
        }
    }

    /// The error schema is the one generated from `ErrorEnvelope`, and an
    /// actual error body matches its required fields.
    #[test]
    fn errors_are_described_by_the_generated_envelope() {
        let doc = serde_json::to_value(document()).unwrap();
        let schema = &doc["components"]["schemas"]["ErrorEnvelope"];
        assert_eq!(schema["required"], serde_json::json!(["error"]));
        let inner = &schema["properties"]["error"];
        assert_eq!(inner["required"], serde_json::json!(["code", "message"]));
        let codes = &doc["components"]["schemas"]["ErrorCode"]["enum"];
        assert!(
            codes
                .as_array()
                .unwrap()
                .contains(&"idempotency_conflict".into()),
            "{codes}"
        );
        let body = crate::error::ApiError::not_found("invoice").body();
        assert_eq!(body["error"]["code"], "not_found");
        assert!(body["error"].get("details").is_none());
        let get = &doc["paths"]["/v1/invoices/{id}"]["get"];
        assert_eq!(
            get["responses"]["default"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorEnvelope"
        );
        assert_eq!(get["parameters"][0]["name"], "id");
        assert!(get["security"].as_array().is_some_and(|s| s.len() == 3));
        assert!(doc["paths"]["/v1/prices"]["get"].get("security").is_none());
    }

    /// `schema` with every `$ref` to a component replaced by the component
    /// (for `valid`, which reads no references).
    fn resolved(doc: &Value, schema: &Value) -> Value {
        match schema {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    let name = r
                        .strip_prefix("#/components/schemas/")
                        .unwrap_or_else(|| panic!("{r} is not a component"));
                    let target = &doc["components"]["schemas"][name];
                    assert!(target.is_object(), "no component {name}");
                    let mut out = map.clone();
                    out.remove("$ref");
                    out.insert("allOf".into(), json!([resolved(doc, target)]));
                    return Value::Object(out);
                }
                Value::Object(
                    map.iter()
                        .map(|(k, v)| (k.clone(), resolved(doc, v)))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| resolved(doc, v)).collect()),
            other => other.clone(),
        }
    }

    /// The success body schema of the route `function`, references resolved.
    fn success_schema(doc: &Value, function: &str) -> Value {
        let route = crate::routes::route_of(function).unwrap();
        let schema = &doc["paths"][route.path][route.method.to_lowercase()]["responses"]["2XX"]
            ["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{function} has no success schema");
        resolved(doc, schema)
    }

    /// Every entry of the response table names a real v1 JSON route.
    #[test]
    fn every_response_entry_is_a_v1_json_route() {
        use crate::faces::Face;
        let doc = serde_json::to_value(document()).unwrap();
        for (function, schema) in RESPONSES {
            let route = crate::routes::route_of(function).expect("a real route");
            assert_eq!(Face::of(route.path), Face::V1, "{function}");
            assert!(answer(route) == Answer::Json, "{function}");
            schema();
            success_schema(&doc, function);
        }
        let mut seen = BTreeSet::new();
        assert!(
            RESPONSES.iter().all(|(f, _)| seen.insert(*f)),
            "a route twice in RESPONSES"
        );
        let get = &doc["paths"]["/v1/invoices/{id}"]["get"]["responses"]["2XX"];
        assert_eq!(
            get["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Invoice"
        );
    }

    /// One rendered example of every resource, by the routes that answer
    /// with it: records as the handlers hold them, shown by their `to_json`.
    fn rendered_examples() -> Vec<(&'static [&'static str], Value)> {
        use crate::events::{Event, EventKind};
        use crate::invoice::{
            Flag, Invoice, Payment, PaymentStatus, Price, Refund, RefundStatus, Status,
        };
        use crate::prices::quotes::QuoteRecord;
        use crate::prices::rates::Rate;
        use crate::prices::Fiat;
        use crate::webhooks::{Attempt, Delivery, DeliveryStatus, Endpoint, Target};
        use bitcoin::Amount;
        use rust_decimal::Decimal;
        let dec = |s: &str| s.parse::<Decimal>().unwrap();
        let now =
            time::OffsetDateTime::from_unix_timestamp_nanos(1_790_000_000_123_456_789).unwrap();
        let at = crate::clock::Stamp::new(now);
        let url = "https://pay.example.com";
        let store = crate::store::Store {
            id: "sto_1".into(),
            account_id: "acc_1".into(),
            name: "My shop".into(),
            network: crate::network::Network::Regtest,
            wallet: "wpkh(vpub/0/*)#abcdefgh".into(),
            wallet_type: crate::wallet::ScriptType::P2wpkh,
            default_currency: Currency::Fiat(Fiat::USD),
            speed_policy: crate::store::SpeedPolicy::OneConf,
            expiration_minutes: 15,
            monitoring_minutes: 60,
            payment_tolerance_percent: dec("0.50"),
            api_allowed_ips: vec!["10.0.0.0/8".into()],
            created_at: at,
            updated_at: at,
        };
        let price = Price {
            amount: dec("19.99"),
            currency: Currency::Fiat(Fiat::USD),
            sats: 30_000,
            rate: Some(dec("65000")),
        };
        let mut inv = Invoice::new("inv_1".into(), &store, Status::PaidPartial, price, now, now);
        inv.address = Some("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080".into());
        inv.address_index = Some(3);
        inv.order_id = Some("order-1".into());
        inv.metadata = Some(json!({"cart": [1, 2]}).as_object().unwrap().clone());
        inv.comment = Some("size M".into());
        inv.set_flag(Flag::PaidLate);
        inv.set_flag(Flag::Overpaid);
        let payment = |n: u32, height: Option<u32>, status| Payment {
            id: format!("pay_{n}"),
            txid: "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b".into(),
            vout: n,
            address: inv.address.clone().unwrap(),
            amount_sats: Amount::from_sat(10_000),
            confirmations: height.map_or(0, |_| 2),
            block_height: height,
            block_hash: None,
            status,
            rbf: n == 0,
            seen_at: at,
            late: n == 1,
        };
        inv.payments = vec![
            payment(0, None, PaymentStatus::Mempool),
            payment(1, Some(101), PaymentStatus::Confirmed),
        ];
        inv.refunds = vec![
            Refund {
                id: "ref_1".into(),
                address: "bcrt1qrefund".into(),
                amount_sats: Amount::from_sat(5_000),
                status: RefundStatus::Requested,
                txid: None,
                created_at: at,
                sent_at: None,
            },
            Refund {
                id: "ref_2".into(),
                address: "bcrt1qrefund".into(),
                amount_sats: Amount::from_sat(1),
                status: RefundStatus::Sent,
                txid: Some("ab".repeat(32)),
                created_at: at,
                sent_at: Some(at),
            },
        ];
        let btc = Price {
            amount: dec("0.001"),
            currency: Currency::Btc,
            sats: 100_000,
            rate: None,
        };
        let bare = Invoice::new("inv_2".into(), &store, Status::New, btc, now, now);
        let event = Event::new(
            EventKind::PaymentReceived,
            &store.id,
            Some(&inv.id),
            json!({"invoice": inv.to_json(url), "payment": inv.payments[0].to_json(&inv.id)}),
            now,
        );
        let quote = QuoteRecord {
            id: "qt_1".into(),
            store_id: store.id.clone(),
            network: store.network,
            amount: dec("10"),
            currency: Fiat::USD,
            rate: dec("65000.5"),
            rate_updated_at: at,
            rate_sources: vec!["coinbase".into()],
            sats: Amount::from_sat(15_385),
            network_fee_sats: Amount::from_sat(282),
            network_fee_rate: dec("2.00"),
            network_fee_source: "estimate".into(),
            total_sats: Amount::from_sat(15_667),
            accept_zero_conf: false,
            created_at: at,
            expires_at: at,
            used: true,
            used_at: Some(at),
            invoice_id: Some("inv_1".into()),
        };
        let rate = Rate {
            fiat: Fiat::USD,
            price: dec("65000.5"),
            updated_at: now,
            sources: vec!["coinbase".into(), "kraken".into()],
        };
        let endpoint = Endpoint::new(
            &store.id,
            "https://shop.example.com/hook".into(),
            vec!["*".into()],
            None,
            now,
        );
        let mut rotated = endpoint.clone();
        rotated.previous_secret = Some("whsec_old".into());
        rotated.previous_secret_expires_at = Some(at);
        rotated.description = Some("main".into());
        let builtin = Endpoint::invoice_url(&store.id, now);
        let mut delivery = Delivery::new(
            "dlv_1".into(),
            &store.id,
            &endpoint.id,
            &event.id,
            event.kind,
            "https://shop.example.com/hook",
            event.to_json().to_string(),
            Target::Endpoint(endpoint.id.clone()),
            now,
        );
        let mut failed = delivery.clone();
        delivery.attempts.push(Attempt {
            at,
            status_code: Some(500),
            error: Some("HTTP 500".into()),
            duration_ms: 12,
            response_body: Some("oops".into()),
        });
        failed.status = DeliveryStatus::Failed;
        failed.error = Some("endpoint deleted".into());
        failed.redelivery_of = Some("dlv_0".into());
        failed.attempts.push(Attempt {
            at,
            status_code: None,
            error: None,
            duration_ms: 0,
            response_body: None,
        });
        let invoices = [inv.to_json(url), bare.to_json(url)];
        let stores = [store.to_json(Some((30, 25))), store.to_json(None)];
        let payments = [
            inv.payments[0].to_json(&inv.id),
            inv.payments[1].to_json(&inv.id),
        ];
        let refunds = [
            inv.refunds[0].to_json(&inv.id),
            inv.refunds[1].to_json(&inv.id),
        ];
        let endpoints = [endpoint.to_json(), rotated.to_json(), builtin.to_json()];
        let secrets = [
            endpoint.to_json_with_secret(),
            rotated.to_json_with_secret(),
        ];
        let deliveries = [delivery.to_json(), failed.to_json()];
        let mut out: Vec<(&'static [&'static str], Value)> = Vec::new();
        let mut each = |functions: &'static [&'static str], items: &[Value]| {
            out.extend(items.iter().map(|v| (functions, v.clone())));
        };
        each(
            &[
                "invoices-create",
                "invoices-get",
                "invoices-mark",
                "invoices-cancel",
            ],
            &invoices,
        );
        each(&["stores-get", "stores-update"], &stores);
        each(&["payments-get"], &payments);
        each(&["refunds-create"], &refunds);
        each(
            &["webhook-endpoints-get", "webhook-endpoints-update"],
            &endpoints,
        );
        each(
            &[
                "webhook-endpoints-create",
                "webhook-endpoints-rotate-secret",
            ],
            &secrets,
        );
        each(
            &["webhook-deliveries-get", "webhook-endpoints-test"],
            &deliveries,
        );
        each(&["quotes-create"], &[quote.to_json()]);
        let lists: [(&'static [&'static str], &[Value]); 7] = [
            (&["invoices-list"], &invoices),
            (&["stores-list"], &stores),
            (&["payments-list"], &payments),
            (&["refunds-list"], &refunds),
            (&["events-list"], &[event.to_json()]),
            (&["webhook-endpoints-list"], &endpoints),
            (&["webhook-deliveries-list"], &deliveries),
        ];
        for (functions, items) in lists {
            out.push((
                functions,
                crate::handlers::list_body(items.to_vec(), Some("cursor-1".into())),
            ));
            out.push((functions, crate::handlers::list_body(vec![], None)));
        }
        out.push((&["prices-list"], json!({"prices": [rate.to_price_json()]})));
        let (store_key, secret) =
            crate::account::ApiKeyRecord::new("acc_1", Some(&store), None, vec![], now);
        let (account_key, _) = crate::account::ApiKeyRecord::new(
            "acc_1",
            None,
            Some("ci".into()),
            vec!["10.0.0.0/8".into()],
            now,
        );
        out.push((
            &["stores-create"],
            json!({"store": store.to_json(Some((0, 0))), "api_key": store_key.to_json_with_secret(&secret)}),
        ));
        out.push((&["api-keys-create"], store_key.to_json_with_secret(&secret)));
        let keys = [store_key.to_json(), account_key.to_json()];
        let user = crate::users::User {
            id: "usr_1".into(),
            account_id: "acc_1".into(),
            username: "alice".into(),
            password_hash: "$argon2id$...".into(),
            created_at: at,
        };
        out.push((&["users-create"], user.to_json()));
        let users = [user.to_json()];
        let more: [(&'static [&'static str], &[Value]); 2] =
            [(&["api-keys-list"], &keys), (&["users-list"], &users)];
        for (functions, items) in more {
            out.push((
                functions,
                crate::handlers::list_body(items.to_vec(), Some("cursor-1".into())),
            ));
            out.push((functions, crate::handlers::list_body(vec![], None)));
        }
        out
    }

    /// The schema of each view takes a real rendered example of it, and
    /// refuses it with a field left out or of another type: every field a
    /// view writes is in its schema, required, with its JSON type.
    #[test]
    fn rendered_resources_validate_against_their_response_schemas() {
        let doc = serde_json::to_value(document()).unwrap();
        let mut covered = BTreeSet::new();
        for (functions, example) in rendered_examples() {
            for function in functions {
                covered.insert(*function);
                let schema = success_schema(&doc, function);
                if let Err(why) = valid(&schema, &example) {
                    panic!("{function}: {why}\n{schema:#}");
                }
                for (k, _) in example.as_object().unwrap() {
                    let mut wrong = example.clone();
                    wrong[k] = json!([[]]);
                    assert!(valid(&schema, &wrong).is_err(), "{function}: {k} [[]]");
                    if k == "previous_secret_expires_at" {
                        continue; // sent only after a rotation that kept the old secret
                    }
                    let mut missing = example.clone();
                    missing.as_object_mut().unwrap().remove(k);
                    assert!(valid(&schema, &missing).is_err(), "{function}: no {k}");
                }
            }
        }
        let untested: Vec<_> = RESPONSES
            .iter()
            .map(|(f, _)| *f)
            .filter(|f| !covered.contains(f))
            .collect();
        assert!(
            untested
                == [
                    "invoices-import",
                    "invoices-accept-underpayment",
                    "webhook-deliveries-redeliver"
                ],
            "no example for {untested:?}"
        );
        // The same views as those covered.
        for (same, as_) in [
            ("invoices-import", "invoices-get"),
            ("invoices-accept-underpayment", "invoices-get"),
            ("webhook-deliveries-redeliver", "webhook-deliveries-get"),
        ] {
            assert_eq!(success_schema(&doc, same), success_schema(&doc, as_));
        }
    }

    /// The word enums of the views: their schemas hold exactly the words
    /// serde writes.
    #[test]
    fn view_enums_hold_the_words_serde_writes() {
        use crate::invoice::{Flag, RefundStatus};
        use crate::wallet::ScriptType;
        let doc = serde_json::to_value(document()).unwrap();
        fn words<T: serde::Serialize>(values: &[T]) -> Value {
            values
                .iter()
                .map(|v| serde_json::to_value(v).unwrap())
                .collect()
        }
        let schemas = &doc["components"]["schemas"];
        let cases = [
            ("InvoiceStatus", words(&crate::invoice::Status::ALL)),
            ("PaymentStatus", words(&crate::invoice::PaymentStatus::ALL)),
            ("Network", words(&crate::network::Network::ALL)),
            ("SpeedPolicy", words(&crate::store::SpeedPolicy::ALL)),
            ("EventType", words(&crate::events::EventKind::ALL)),
            (
                "DeliveryStatus",
                words(&crate::webhooks::DeliveryStatus::ALL),
            ),
            (
                "InvoiceFlag",
                words(&[
                    Flag::Overpaid,
                    Flag::PaidLate,
                    Flag::UnderpaymentAccepted,
                    Flag::ManuallyMarked,
                ]),
            ),
            (
                "RefundStatus",
                words(&[RefundStatus::Requested, RefundStatus::Sent]),
            ),
            (
                "WalletType",
                words(&[
                    ScriptType::P2pkh,
                    ScriptType::P2shP2wpkh,
                    ScriptType::P2wpkh,
                    ScriptType::P2tr,
                ]),
            ),
        ];
        for (name, serde_words) in cases {
            assert_eq!(schemas[name]["enum"], serde_words, "{name}");
        }
    }
}
