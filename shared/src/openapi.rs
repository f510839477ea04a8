//! The OpenAPI 3.1 document of the API (`GET /v1/openapi.json`), built from
//! the route table: every route is one operation (its Lambda function name
//! is the `operationId`), path parameters come from the path, security from
//! the route's `Auth`, and the error envelope's schema is generated (utoipa)
//! from the type every error answer is serialized from.

use crate::error::ErrorEnvelope;
use crate::routes::{Auth, Route, ROUTES};
use std::sync::OnceLock;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ComponentsBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathItem, PathsBuilder, Ref, RefOr,
    Required, ResponseBuilder, ResponsesBuilder,
};
use utoipa::ToSchema;

/// The security schemes a key may come in (API.md "Auth").
const SCHEMES: [&str; 3] = ["bearer", "basic", "api_key"];

/// The document, built once.
pub fn document() -> &'static OpenApi {
    static DOC: OnceLock<OpenApi> = OnceLock::new();
    DOC.get_or_init(build)
}

fn build() -> OpenApi {
    let mut schemas = Vec::new();
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

fn any_json() -> ContentBuilder {
    ContentBuilder::new().schema(Some(Schema::Object(ObjectBuilder::new().build())))
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
    if matches!(route.method, "POST" | "PATCH" | "PUT") {
        op = op.request_body(Some(
            RequestBodyBuilder::new()
                .content("application/json", any_json().build())
                .build(),
        ));
    }
    if route.auth != Auth::Public {
        op = op.securities(Some(
            SCHEMES.map(|s| SecurityRequirement::new(s, Vec::<String>::new())),
        ));
    }
    let ok = match answer(route) {
        Answer::Json => ResponseBuilder::new()
            .description("success")
            .content("application/json", any_json().build()),
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
}
