//! The sandbox chain, driven over HTTP (API.md "Sandbox"). Only for stores
//! whose network the sandbox chain serves; otherwise 404. After each action
//! the chain poller runs once, so the effect is visible at once.

use crate::chain::sim::SimChain;
use crate::error::ApiError;
use crate::handlers::ctx::Ctx;
use crate::http::{Input, Response};
use crate::invoice::repo::load_for_store;
use bitcoin::Amount;
use serde_json::json;
use std::sync::Arc;

fn sim<'a>(cx: &'a Ctx<'_>) -> Result<&'a Arc<SimChain>, ApiError> {
    let store = cx.store()?;
    cx.app.sandbox(store.network).ok_or_else(|| {
        ApiError::not_found(&format!(
            "sandbox (the {} network of this store is not served by the sandbox chain)",
            store.network
        ))
    })
}

/// Make the sandbox action durable before anything records its effect, so a
/// crash can never leave the table ahead of the saved chain.
async fn durable(sim: &SimChain) -> Result<(), ApiError> {
    sim.save()
        .await
        .map_err(|e| ApiError::internal(format!("saving the sandbox chain: {e}")))
}

/// Pick up what other processes saved before acting on the chain.
async fn fresh(sim: &SimChain) -> Result<(), ApiError> {
    sim.refresh()
        .await
        .map_err(|e| ApiError::internal(format!("reading the sandbox chain: {e}")))
}

async fn settle(cx: &Ctx<'_>) {
    if let Err(e) = crate::invoice::poller::poll_chain(cx.app).await {
        tracing::warn!(error = %e, "poll after sandbox action failed");
    }
}

fn sim_error(e: crate::chain::sim::SimError) -> ApiError {
    use crate::chain::sim::SimError;
    match e {
        SimError::NotYours(_) | SimError::UnknownTx(_) => ApiError::not_found(&e.to_string()),
        _ => ApiError::new(422, crate::error::ErrorCode::ValidationError, e.to_string()),
    }
}

/// A store pays by address only addresses that are not another store's
/// invoice addresses (its own, or any outside address such as a buyer's
/// wallet to fund a self-signed payment).
async fn not_another_stores(
    cx: &Ctx<'_>,
    store: &crate::store::Store,
    address: &str,
) -> Result<(), ApiError> {
    let claim = cx
        .app
        .table
        .get(&crate::schema::address(store.network, address.trim()))
        .await
        .map_err(|e| ApiError::internal(format!("reading the address claim: {e}")))?;
    let owner = claim
        .as_ref()
        .and_then(|c| c.get("store_id"))
        .and_then(|v| v.as_str());
    match owner {
        Some(owner) if owner != store.id => Err(ApiError::field(
            "address",
            "is an invoice address of another store; a store can pay only its own invoice addresses or addresses outside satsgate",
        )),
        _ => Ok(()),
    }
}

/// `POST /v1/sandbox/payments {invoice_id | address, amount_sats, rbf?}` -> 201.
pub async fn pay(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let sim = sim(&cx)?.clone();
    fresh(&sim).await?;
    let store = cx.store()?.clone();
    let mut input = Input::from_body(&cx.req.body)?;
    let invoice_id = input.nonempty("invoice_id", 64);
    let address = input.nonempty("address", 100);
    let sats = input.int("amount_sats", 1, 21_000_000 * 100_000_000);
    let sats = input.required("amount_sats", sats);
    let rbf = input.bool("rbf").unwrap_or(false);
    if invoice_id.is_some() == address.is_some() {
        input.error(
            "invoice_id",
            "give exactly one of `invoice_id` or `address`",
        );
    }
    input.finish()?;
    let (address, invoice) = match (invoice_id, address) {
        (Some(id), _) => {
            let inv = load_for_store(cx.app, &store.id, &id).await?;
            let a = inv
                .address
                .clone()
                .ok_or_else(|| ApiError::conflict("this invoice has no address (archived)"))?;
            (a, Some(inv.id))
        }
        (_, Some(a)) => {
            not_another_stores(&cx, &store, &a).await?;
            (a, None)
        }
        _ => unreachable!("checked"),
    };
    let amount_sats = sats.expect("checked") as u64;
    let txid = sim
        .pay_for(
            Some(&store.id),
            &[(address.clone(), Amount::from_sat(amount_sats))],
            rbf,
        )
        .map_err(sim_error)?;
    let vout = 0;
    durable(&sim).await?;
    if let Some(id) = invoice {
        if let Err(e) = crate::invoice::poller::check_now(cx.app, &id).await {
            tracing::warn!(error = %e, "check after sandbox payment failed");
        }
    }
    settle(&cx).await;
    Ok(Response::created(json!({
        "txid": txid.to_string(), "vout": vout, "address": address, "amount_sats": amount_sats, "rbf": rbf,
    })))
}

/// `POST /v1/sandbox/blocks {count}`.
pub async fn mine(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let sim = sim(&cx)?.clone();
    fresh(&sim).await?;
    let mut input = Input::from_body(&cx.req.body)?;
    let count = input.int("count", 1, 1000).unwrap_or(1) as u32;
    input.finish()?;
    let hashes = sim.mine(count);
    durable(&sim).await?;
    settle(&cx).await;
    let tip = crate::chain::Chain::tip_height(&*sim).await.unwrap_or(0);
    Ok(Response::created(json!({
        "count": count, "tip_height": tip, "block_hashes": hashes.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
    })))
}

/// `POST /v1/sandbox/reorg {depth}`.
pub async fn reorg(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let sim = sim(&cx)?.clone();
    fresh(&sim).await?;
    let mut input = Input::from_body(&cx.req.body)?;
    let depth = input.int("depth", 1, 100);
    let depth = input.required("depth", depth);
    input.finish()?;
    let depth = depth.expect("checked") as u32;
    let store = cx.store()?;
    sim.reorg_for(Some(&store.id), depth).map_err(sim_error)?;
    durable(&sim).await?;
    settle(&cx).await;
    let tip = crate::chain::Chain::tip_height(&*sim).await.unwrap_or(0);
    Ok(Response::ok(json!({ "depth": depth, "tip_height": tip })))
}

/// `POST /v1/sandbox/double-spend {txid}`.
pub async fn double_spend(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let sim = sim(&cx)?.clone();
    fresh(&sim).await?;
    let mut input = Input::from_body(&cx.req.body)?;
    let txid = input.nonempty("txid", 64);
    let txid = input.required("txid", txid);
    input.finish()?;
    let txid: bitcoin::Txid = txid
        .expect("checked")
        .parse()
        .map_err(|_| ApiError::field("txid", "is not a transaction id"))?;
    let store = cx.store()?;
    let replacement = sim
        .double_spend_for(Some(&store.id), &txid)
        .map_err(sim_error)?;
    durable(&sim).await?;
    settle(&cx).await;
    Ok(Response::ok(
        json!({ "txid": txid.to_string(), "replaced_by": replacement.to_string() }),
    ))
}

/// `POST /v1/sandbox/simulate-webhook {invoice_id, status}`: send the event
/// that status would cause, with the invoice as if it had that status, to
/// the store's endpoints and the invoice's `webhook_url`. Nothing is stored
/// and the invoice does not change; the body carries `"simulated": true`.
/// Works for every store (it does not touch the chain).
pub async fn simulate_webhook(cx: Ctx<'_>) -> Result<Response, ApiError> {
    use crate::invoice::Status;
    let store = cx.store()?.clone();
    let mut input = Input::from_body(&cx.req.body)?;
    let invoice_id = input.nonempty("invoice_id", 64);
    let invoice_id = input.required("invoice_id", invoice_id);
    let status = input.one_of("status", &Status::NAMES);
    let status = input.required("status", status);
    input.finish()?;
    let inv = load_for_store(cx.app, &store.id, &invoice_id.expect("checked")).await?;
    let status = Status::parse(&status.expect("checked")).expect("one_of");
    // The event that status sends, from the lifecycle's one table; a new
    // invoice announces itself, a refund is a payment event.
    let kind = match status {
        Status::New => "invoice.created",
        Status::Refunded => "payment.refunded",
        other => crate::invoice::lifecycle::status_event(other).unwrap_or("invoice.updated"),
    };
    let mut invoice = inv.to_json(&cx.app.config.public_url);
    invoice["status"] = json!(status);
    let event = crate::events::Event::new(
        kind,
        &store.id,
        Some(&inv.id),
        json!({ "invoice": invoice, "simulated": true }),
        cx.now(),
    );
    let targets = crate::webhooks::fanout::enqueue_event(cx.app, &event).await?;
    Ok(Response::ok(
        json!({ "event": event.to_json(), "deliveries": targets }),
    ))
}
