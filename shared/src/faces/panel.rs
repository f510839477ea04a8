//! Seed 003 (panel, `/api/v1/...`, Bearer keys): stores, invoices, a summary
//! across the caller's stores and a webhook test, over the v1 use cases.
//!
//! Success bodies are `{"success": true, "data": ...}`; errors are the
//! seed's Laravel shapes: 401 `{"message": "Unauthenticated. Invalid API
//! Key."}`, 403 `{"message": "This action is unauthorized."}` (and
//! `{"success": false, "message": "You cannot create an invoice."}` on
//! invoice creation), 422 `{"message", "errors": {field: [messages]}}`.
//! Ids are satsgate's (`store_...`, `inv_...`) where the seed shows numbers.
//! An account key acts on every store of its account, a store key on its own.

use super::{btc_number, json_number};
use crate::error::{ApiError, ErrorCode};
use crate::handlers::ctx::Ctx;
use crate::handlers::invoices::{
    create_invoice as create_use_case, parse_new_invoice, summarize, Summary,
};
use crate::handlers::stores::caller_stores;
use crate::handlers::webhooks::{endpoints_page, send_test};
use crate::http::Response;
use crate::invoice::{Invoice, Status};
use crate::records::from_item;
use crate::schema;
use serde_json::{json, Value};

/// The seed's status words (BTCPay's legacy ones, which the panel shows).
pub fn status_word(s: Status) -> &'static str {
    match s {
        Status::New => "new",
        Status::PaidPartial => "partially_paid",
        Status::Pending => "paid",
        Status::Completed => "confirmed",
        other => other.as_str(),
    }
}

fn ok(status: u16, data: Value) -> Response {
    Response::json(status, json!({ "success": true, "data": data }))
}

/// An invoice as the panel shows it: the seed's `id, invoice_number,
/// amount (number), currency, status`, plus what a client needs to get
/// paid.
pub fn invoice_json(inv: &Invoice, public_url: &str) -> Value {
    json!({
        "id": inv.id,
        "invoice_number": inv.id,
        "amount": json_number(inv.amount),
        "currency": inv.currency,
        "status": status_word(inv.status),
        "state": inv.status,
        "store_id": inv.store_id,
        "order_id": inv.order_id,
        "buyer_email": inv.buyer_email,
        "crypto_amount": btc_number(inv.crypto_amount_sats),
        "address": inv.address,
        "payment_uri": inv.payment_uri(),
        "checkout_url": format!("{public_url}/i/{}", inv.id),
        "created_at": inv.created_at,
        "expires_at": inv.expires_at,
    })
}

/// `GET /api/v1/stores`: the caller's stores.
pub async fn stores(cx: Ctx<'_>) -> Result<Response, ApiError> {
    crate::request::no_query(&cx.req.query)?;
    let stores = caller_stores(&cx).await?;
    let data: Vec<Value> = stores
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "name": s.name,
                "network": s.network,
                "default_currency": s.default_currency,
                "wallet_type": s.wallet_type,
                "created_at": s.created_at,
            })
        })
        .collect();
    Ok(ok(200, json!(data)))
}

/// `POST /api/v1/stores/{store_id}/invoices {amount, currency, order_id,
/// buyer_email}` (any v1 invoice field is accepted too) -> 201.
pub async fn create_invoice(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = match cx.visible_store(cx.param("store_id")).await {
        Ok(s) => s,
        Err(e) if e.code == ErrorCode::NotFound => {
            return Ok(Response::json(
                403,
                json!({ "success": false, "message": "You cannot create an invoice." }),
            ))
        }
        Err(e) => return Err(e),
    };
    let new = parse_new_invoice(&cx.req.body, cx.app.config.allow_insecure_urls).await?;
    let inv = create_use_case(cx.app, &store, new, None).await?;
    Ok(ok(201, invoice_json(&inv, &cx.app.config.public_url)))
}

/// `GET /api/v1/invoices/{id}`: an invoice of one of the caller's stores;
/// anything else (someone else's or unknown) is the seed's 403.
pub async fn get_invoice(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let refused = || ApiError::forbidden("This action is unauthorized.");
    let item = cx
        .app
        .table
        .get(&schema::invoice(cx.param("id")))
        .await?
        .ok_or_else(refused)?;
    let inv: Invoice = from_item(item)?;
    cx.visible_store(&inv.store_id)
        .await
        .map_err(|_| refused())?;
    Ok(ok(200, invoice_json(&inv, &cx.app.config.public_url)))
}

/// `GET /api/v1/balance-or-summary`: counts and totals across the caller's
/// stores (the v1 summary of each, added up).
pub async fn summary(cx: Ctx<'_>) -> Result<Response, ApiError> {
    crate::request::no_query(&cx.req.query)?;
    let stores = caller_stores(&cx).await?;
    let mut total = Summary::default();
    for s in &stores {
        total.add(&summarize(cx.app, &s.id, None, None).await?);
    }
    let counts: serde_json::Map<String, Value> = total
        .counts
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    Ok(ok(
        200,
        json!({
            "store_count": stores.len(),
            "invoice_count": total.invoice_count,
            "counts": counts,
            "received_sats": total.received_sats.to_sat(),
            "received_btc": btc_number(total.received_sats),
            "received_fiat": total
                .received_fiat
                .iter()
                .map(|(k, v)| (k.clone(), json_number(*v)))
                .collect::<serde_json::Map<_, _>>(),
            "truncated": total.truncated,
        }),
    ))
}

/// `POST /api/v1/stores/{store_id}/webhook-test`: a signed `webhook.test`
/// event to every webhook endpoint of the store, now; the answer lists the
/// logged deliveries (their `status` says whether each receiver took it).
pub async fn webhook_test(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx
        .visible_store(cx.param("store_id"))
        .await
        .map_err(|_| ApiError::forbidden("This action is unauthorized."))?;
    let (endpoints, _) = endpoints_page(
        cx.app,
        &store.id,
        crate::request::Paging {
            limit: 100,
            cursor: None,
        },
    )
    .await?;
    if endpoints.is_empty() {
        return Ok(Response::json(
            422,
            json!({ "success": false, "message": "This store has no webhook endpoint; add one with POST /v1/webhook-endpoints." }),
        ));
    }
    let mut deliveries = Vec::with_capacity(endpoints.len());
    for e in &endpoints {
        deliveries.push(send_test(cx.app, &store.id, e).await?);
    }
    let all_ok = deliveries
        .iter()
        .all(|d| d.status == crate::webhooks::DeliveryStatus::Succeeded);
    let deliveries: Vec<Value> = deliveries.iter().map(|d| d.to_json()).collect();
    Ok(Response::json(
        200,
        json!({
            "success": all_ok,
            "message": if all_ok { "Test webhook sent." } else { "Test webhook sent; not every endpoint answered 2xx." },
            "data": { "deliveries": deliveries },
        }),
    ))
}

/// Errors in the seed's (Laravel's) shapes.
pub fn error_response(e: &ApiError) -> Response {
    let (status, body) = match e.code {
        ErrorCode::Unauthenticated => (
            401,
            json!({ "message": "Unauthenticated. Invalid API Key.", "reason": e.message }),
        ),
        ErrorCode::Forbidden => (
            403,
            if e.message == "This action is unauthorized." {
                json!({ "message": e.message })
            } else {
                json!({ "message": "This action is unauthorized.", "reason": e.message })
            },
        ),
        ErrorCode::ValidationError if !e.details.is_empty() => {
            (422, json!({ "message": e.message, "errors": e.details }))
        }
        _ => (e.status, json!({ "message": e.message })),
    };
    let mut r = Response::json(status, body);
    r.headers.extend(e.headers.iter().cloned());
    r
}
