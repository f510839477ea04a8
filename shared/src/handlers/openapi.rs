//! `GET /v1/openapi.json`: the OpenAPI 3.1 document of every route.

use crate::error::ApiError;
use crate::handlers::ctx::Ctx;
use crate::http::Response;

/// The document (`crate::openapi`), no key needed.
pub async fn get(cx: Ctx<'_>) -> Result<Response, ApiError> {
    crate::request::no_query(&cx.req.query)?;
    let doc = serde_json::to_value(crate::openapi::document())
        .map_err(|e| ApiError::internal(format!("OpenAPI document: {e}")))?;
    Ok(Response::ok(doc))
}
