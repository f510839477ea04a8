use crate::error::ApiError;
use crate::handlers::ctx::Ctx;
use crate::http::Response;
use serde_json::json;

/// `GET /v1/health`: the process is up and its table answers.
pub async fn health(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let started = std::time::Instant::now();
    let table_ok = cx.app.table.get(&crate::schema::health()).await.is_ok();
    let body = json!({
        "status": if table_ok { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "storage": cx.app.table.engine(),
        "storage_ok": table_ok,
        "storage_ms": started.elapsed().as_millis() as u64,
        "time": crate::clock::rfc3339(cx.now()),
    });
    Ok(Response::json(if table_ok { 200 } else { 503 }, body))
}
