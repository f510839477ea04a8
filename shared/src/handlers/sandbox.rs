//! The sandbox chain, driven over HTTP (API.md "Sandbox"). Only for stores
//! whose network the sandbox chain serves; otherwise 404. After each action
//! the chain poller runs once, so the effect is visible at once.

use crate::chain::sim::SimChain;
use crate::error::{ApiError, FieldErrors};
use crate::handlers::ctx::Ctx;
use crate::handlers::invoices::Sats;
use crate::http::Response;
use crate::invoice::repo::load_for_store;
use crate::invoice::Status;
use crate::request::{self, Field, Flag, Int, NonEmpty, Unknown, Word};
use bitcoin::Amount;
use serde::Deserialize;
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

crate::request_schema::request_type! {
    /// The body of `POST /v1/sandbox/payments`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct PayRequest {
        pub invoice_id: Field<NonEmpty<64>>,
        pub address: Field<NonEmpty<100>>,
        pub amount_sats: Field<Sats>,
        pub rbf: Field<Flag>,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

/// What a sandbox payment pays.
#[derive(Debug, Clone, PartialEq)]
pub enum PayTo {
    /// The address of this invoice of the store.
    Invoice(String),
    /// Any address that is not another store's invoice address.
    Address(String),
}

/// A checked sandbox payment.
#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    pub to: PayTo,
    pub amount: Amount,
    pub rbf: bool,
}

impl TryFrom<PayRequest> for Payment {
    type Error = ApiError;
    fn try_from(r: PayRequest) -> Result<Payment, ApiError> {
        let mut e = FieldErrors::default();
        let invoice_id = r.invoice_id.take("invoice_id", &mut e);
        let address = r.address.take("address", &mut e);
        let sats = r.amount_sats.require("amount_sats", &mut e);
        let rbf = r.rbf.take("rbf", &mut e).is_some_and(|f| f.0);
        let to = match (invoice_id, address) {
            (Some(id), None) => Some(PayTo::Invoice(id.0)),
            (None, Some(a)) => Some(PayTo::Address(a.0)),
            _ => {
                e.add(
                    "invoice_id",
                    "give exactly one of `invoice_id` or `address`",
                );
                None
            }
        };
        r.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
        let value = match (to, sats) {
            (Some(to), Some(sats)) => Some(Payment {
                to,
                amount: Amount::from_sat(sats.unsigned()),
                rbf,
            }),
            _ => None,
        };
        request::finish(e, value)
    }
}

/// `POST /v1/sandbox/payments {invoice_id | address, amount_sats, rbf?}` -> 201.
pub async fn pay(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let sim = sim(&cx)?.clone();
    fresh(&sim).await?;
    let store = cx.store()?.clone();
    let req: PayRequest = request::body(&cx.req.body)?;
    let payment = Payment::try_from(req)?;
    let (address, invoice) = match payment.to {
        PayTo::Invoice(id) => {
            let inv = load_for_store(cx.app, &store.id, &id).await?;
            let a = inv
                .address
                .clone()
                .ok_or_else(|| ApiError::conflict("this invoice has no address (archived)"))?;
            (a, Some(inv.id))
        }
        PayTo::Address(a) => {
            not_another_stores(&cx, &store, &a).await?;
            (a, None)
        }
    };
    let (amount, rbf) = (payment.amount, payment.rbf);
    let txid = sim
        .pay_for(Some(&store.id), &[(address.clone(), amount)], rbf)
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
        "txid": txid.to_string(), "vout": vout, "address": address, "amount_sats": amount.to_sat(), "rbf": rbf,
    })))
}

crate::request_schema::request_type! {
    /// The body of `POST /v1/sandbox/blocks`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct MineRequest {
        pub count: Field<Int<1, 1000>>,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

/// `POST /v1/sandbox/blocks {count}`.
pub async fn mine(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let sim = sim(&cx)?.clone();
    fresh(&sim).await?;
    let req: MineRequest = request::body(&cx.req.body)?;
    let mut e = FieldErrors::default();
    let count = req.count.take("count", &mut e).map_or(1, |n| n.0 as u32);
    req.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
    e.finish()?;
    let hashes = sim.mine(count);
    durable(&sim).await?;
    settle(&cx).await;
    let tip = crate::chain::Chain::tip_height(&*sim).await.unwrap_or(0);
    Ok(Response::created(json!({
        "count": count, "tip_height": tip, "block_hashes": hashes.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
    })))
}

crate::request_schema::request_type! {
    /// The body of `POST /v1/sandbox/reorg`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct ReorgRequest {
        pub depth: Field<Int<1, 100>>,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

/// `POST /v1/sandbox/reorg {depth}`.
pub async fn reorg(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let sim = sim(&cx)?.clone();
    fresh(&sim).await?;
    let req: ReorgRequest = request::body(&cx.req.body)?;
    let mut e = FieldErrors::default();
    let depth = req.depth.require("depth", &mut e).map(|n| n.0 as u32);
    req.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
    let depth = request::finish(e, depth)?;
    let store = cx.store()?;
    sim.reorg_for(Some(&store.id), depth).map_err(sim_error)?;
    durable(&sim).await?;
    settle(&cx).await;
    let tip = crate::chain::Chain::tip_height(&*sim).await.unwrap_or(0);
    Ok(Response::ok(json!({ "depth": depth, "tip_height": tip })))
}

/// A transaction id (64 hex digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxidIn(pub bitcoin::Txid);

impl<'de> Deserialize<'de> for TxidIn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let NonEmpty(s) = NonEmpty::<64>::deserialize(d)?;
        s.parse()
            .map(TxidIn)
            .map_err(|_| serde::de::Error::custom("is not a transaction id"))
    }
}

crate::request_schema::request_type! {
    /// The body of `POST /v1/sandbox/double-spend`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct DoubleSpendRequest {
        pub txid: Field<TxidIn>,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

/// `POST /v1/sandbox/double-spend {txid}`.
pub async fn double_spend(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let sim = sim(&cx)?.clone();
    fresh(&sim).await?;
    let req: DoubleSpendRequest = request::body(&cx.req.body)?;
    let mut e = FieldErrors::default();
    let txid = req.txid.require("txid", &mut e).map(|t| t.0);
    req.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
    let txid = request::finish(e, txid)?;
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

crate::request_schema::request_type! {
    /// The body of `POST /v1/sandbox/simulate-webhook`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct SimulateWebhookRequest {
        pub invoice_id: Field<NonEmpty<64>>,
        pub status: Field<Word<Status>>,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

/// `POST /v1/sandbox/simulate-webhook {invoice_id, status}`: send the event
/// that status would cause, with the invoice as if it had that status, to
/// the store's endpoints and the invoice's `webhook_url`. Nothing is stored
/// and the invoice does not change; the body carries `"simulated": true`.
/// Works for every store (it does not touch the chain).
pub async fn simulate_webhook(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let req: SimulateWebhookRequest = request::body(&cx.req.body)?;
    let mut e = FieldErrors::default();
    let invoice_id = req.invoice_id.require("invoice_id", &mut e);
    let status = req.status.require("status", &mut e);
    req.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
    let (invoice_id, status) = request::finish(e, invoice_id.zip(status))?;
    let status = status.0;
    let inv = load_for_store(cx.app, &store.id, &invoice_id.0).await?;
    // The event that announces that status, from the lifecycle's one table.
    let kind = crate::invoice::lifecycle::announcement(status).kind();
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
