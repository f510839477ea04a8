//! Payment requests to a merchant's own fixed address (seed 000's `POST /r`):
//! an invoice whose address is given by the merchant instead of derived
//! from the store's wallet. Everything else (lifecycle, events, webhooks,
//! checkout, `/r/{id}`) is the invoice's.
//!
//! Attribution stays unambiguous:
//! - an address backs at most one open request: the request claims the
//!   address's `ADDR#` item (the one every address handed out has) in the
//!   transaction that creates it, on condition that no open request holds
//!   it, and releases it in the transaction that makes the request final;
//! - what the address received before the request is never counted toward
//!   it: at creation, read after the previous request let the address go,
//!   the chain's history of the address is recorded ([`FixedAddress`]);
//! - a released request takes no new outputs (it keeps following the
//!   payments it recorded), so an output counts for one request at most.

use super::lifecycle::SeenOutput;
use super::repo::{created_event, invoice_item};
use super::InvoiceError;
use super::{Invoice, Status};
use crate::app::App;
use crate::chain::ChainTx;
use crate::handlers::ctx::IdempotencyLease;
use crate::http::Response;
use crate::records::to_item;
use crate::schema;
use crate::store::Store;
use crate::table::{Cond, Item, TableError, TxOp, Update};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Confirmations past which no reorg is expected: an output confirmed this
/// deep when a request is created predates it by its height alone, so only
/// the txids of younger transactions need recording.
pub const PRIOR_DEPTH: u32 = 100;

/// Claims of one address tried at once before giving up (another request
/// claimed and released it in between every time).
const CLAIM_ATTEMPTS: usize = 5;

/// What a fixed-address invoice needs to tell its payments from the
/// address's other ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedAddress {
    /// Outputs confirmed at or below this height predate the request.
    pub prior_height: Option<u32>,
    /// Transactions paying the address when the request was created,
    /// unconfirmed or confirmed above `prior_height`: they predate it.
    #[serde(default)]
    pub prior_txids: Vec<String>,
    /// The request became final and let the address go: it follows only
    /// the payments it recorded before.
    #[serde(default)]
    pub released: bool,
}

impl FixedAddress {
    /// What `address` already had, from the chain's tip and the address's
    /// transactions (only those paying it matter).
    pub fn from_history(tip: u32, address: &str, txs: &[ChainTx]) -> FixedAddress {
        let prior_height = tip.checked_sub(PRIOR_DEPTH);
        let mut prior_txids: Vec<String> = txs
            .iter()
            .filter(|tx| {
                tx.outputs
                    .iter()
                    .any(|o| o.address.as_deref() == Some(address))
            })
            .filter(|tx| match (tx.status.block_height, prior_height) {
                (Some(h), Some(p)) if tx.status.confirmed => h > p,
                _ => true,
            })
            .map(|tx| tx.txid.to_string())
            .collect();
        prior_txids.sort();
        prior_txids.dedup();
        FixedAddress {
            prior_height,
            prior_txids,
            released: false,
        }
    }

    /// Whether an output of `txid`, confirmed at `height` (None: in the
    /// mempool), arrived after the request was created.
    pub fn is_new(&self, txid: &str, height: Option<u32>) -> bool {
        let deep = matches!((height, self.prior_height), (Some(h), Some(p)) if h <= p);
        !deep && !self.prior_txids.iter().any(|t| t == txid)
    }
}

/// Whether a fixed-address request in `status` holds its address: open, or
/// paid and waiting for its confirmations (a fee bump of its payment must
/// still come back to it).
pub fn holds(status: Status) -> bool {
    matches!(status, Status::New | Status::PaidPartial | Status::Pending)
}

/// Keep of `outputs` (all outputs paying the invoice's address) those that
/// are the invoice's: for a fixed address, the payments it recorded, and
/// while it holds the address, outputs that arrived after its creation.
pub fn attribute(inv: &Invoice, outputs: &mut Vec<SeenOutput>) {
    let Some(fixed) = &inv.fixed else {
        return;
    };
    outputs.retain(|o| {
        let recorded = inv
            .payments
            .iter()
            .any(|p| p.txid == o.txid && p.vout == o.vout);
        recorded || (!fixed.released && fixed.is_new(&o.txid, o.block.as_ref().map(|b| b.0)))
    });
}

/// When a change takes a fixed-address invoice out of the states that hold
/// its address: the invoice marked released, and the write that lets the
/// address go (to be made in the same transaction).
pub fn release(inv: &Invoice) -> Option<(Invoice, TxOp)> {
    let fixed = inv.fixed.as_ref()?;
    if fixed.released || holds(inv.status) {
        return None;
    }
    let address = inv.address.as_deref()?;
    let mut released = inv.clone();
    if let Some(f) = released.fixed.as_mut() {
        f.released = true;
    }
    let op = TxOp::Update {
        key: schema::address(inv.network, address),
        update: Update::new()
            .set("open", false)
            .set("released_at", inv.updated_at),
        cond: Some(Cond::eq("invoice_id", inv.id.as_str())),
    };
    Some((released, op))
}

/// Whether an address claim is a fixed-address request's that let it go.
fn released_claim(item: &Item) -> bool {
    item.get("fixed") == Some(&Value::Bool(true)) && item.get("open") == Some(&Value::Bool(false))
}

/// Why an address another request or invoice holds cannot back this one.
fn held(store: &Store, address: &str, claim: &Item) -> InvoiceError {
    let text = |k: &str| claim.get(k).and_then(Value::as_str).unwrap_or_default();
    let ours = text("store_id") == store.id;
    let message = match (claim.get("fixed") == Some(&Value::Bool(true)), ours) {
        (true, true) => format!(
            "address {address} already backs the open payment request {}; it can back a new one \
             once that request is paid and confirmed, expired or cancelled",
            text("invoice_id")
        ),
        (true, false) => format!("address {address} already backs another open payment request"),
        (false, true) => format!(
            "address {address} is an address of this store's wallet, handed out to invoice {}; \
             use an address outside the store's wallet",
            text("invoice_id")
        ),
        (false, false) => format!(
            "address {address} was handed out by a store wallet of this gateway; \
             use an address of your own"
        ),
    };
    InvoiceError::AddressHeld(message)
}

/// Create `inv` as a request paying the merchant's own `address` (checked
/// for the store's network by the caller): the address is claimed in the
/// invoice's transaction, and what it already had is recorded first.
/// `extra` ops (a quote claim) join the transaction; with an idempotency
/// lease, the `201` answer is stored in it too.
pub async fn create(
    app: &App,
    store: &Store,
    mut inv: Invoice,
    address: String,
    extra: Vec<TxOp>,
    lease: Option<&IdempotencyLease>,
) -> Result<Invoice, InvoiceError> {
    let unreadable = |e: crate::chain::ChainError| InvoiceError::ChainUnreadable {
        address: address.clone(),
        reason: e.to_string(),
    };
    let key = schema::address(store.network, &address);
    for _ in 0..CLAIM_ATTEMPTS {
        let cond = match app.table.get(&key).await? {
            None => Cond::NotExists,
            Some(claim) if released_claim(&claim) => Cond::And(vec![
                Cond::eq("fixed", true),
                Cond::eq("open", false),
                // Still released by the same request: nothing was counted
                // by another one since the history below was read.
                Cond::Eq(
                    "invoice_id".into(),
                    claim.get("invoice_id").cloned().unwrap_or(Value::Null),
                ),
            ]),
            Some(claim) => return Err(held(store, &address, &claim)),
        };
        // Asked only now: a held address is refused whatever serves its chain.
        let chain = app
            .chain(store.network)
            .cloned()
            .ok_or(InvoiceError::NoChain(store.network))?;
        // Read after the previous request let the address go (it takes no
        // new output since), so everything it counted is in this history.
        let tip = chain.tip_height().await.map_err(unreadable)?;
        let txs = chain.address_txs(&address).await.map_err(unreadable)?;
        inv.address = Some(address.clone());
        inv.address_index = None;
        inv.wallet_id = None;
        inv.fixed = Some(FixedAddress::from_history(tip, &address, &txs));
        let now = app.now();
        let created = created_event(app, &inv, now);
        let claim = json!({
            "invoice_id": inv.id,
            "store_id": inv.store_id,
            "fixed": true,
            "open": true,
        });
        let mut ops = vec![
            TxOp::Put {
                item: to_item(&claim, &key, &[]),
                cond: Some(cond),
            },
            TxOp::Put {
                item: invoice_item(&inv, now),
                cond: Some(Cond::NotExists),
            },
            created.put_op(now),
        ];
        let first_extra = ops.len();
        ops.extend(extra.iter().cloned());
        if let Some(lease) = lease {
            ops.push(lease.answer_op(&Response::created(inv.to_json(&app.config.public_url))));
        }
        match app.table.transact(ops).await {
            Ok(()) => {
                crate::metrics::count(&[(crate::metrics::INVOICES_CREATED, 1)]);
                return Ok(inv);
            }
            // The claim changed since it was read: read it again.
            Err(TableError::ConditionFailed { op: Some(0) }) | Err(TableError::Busy) => continue,
            Err(TableError::ConditionFailed { op: Some(i) }) if i >= first_extra => {
                return Err(InvoiceError::ClaimTaken)
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(InvoiceError::AddressContended(address))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{ChainOutput, TxStatus};
    use bitcoin::hashes::Hash;
    use bitcoin::{Amount, BlockHash, ScriptBuf, Txid};

    const ADDRESS: &str = "bcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk";

    fn txid(n: u8) -> Txid {
        Txid::from_byte_array([n; 32])
    }

    fn tx(n: u8, to: &str, height: Option<u32>) -> ChainTx {
        ChainTx {
            txid: txid(n),
            outputs: vec![ChainOutput {
                vout: 0,
                script_pubkey: ScriptBuf::new(),
                address: Some(to.to_string()),
                value: Amount::from_sat(1000),
            }],
            inputs: vec![],
            rbf: false,
            status: match height {
                Some(h) => TxStatus::confirmed_at(h, BlockHash::all_zeros()),
                None => TxStatus::unconfirmed(),
            },
        }
    }

    #[test]
    fn history_records_what_may_still_move_and_a_height_below_which_all_is_old() {
        let txs = [
            tx(1, ADDRESS, None),
            tx(2, ADDRESS, Some(990)),
            tx(3, ADDRESS, Some(850)),
            tx(4, "bcrt1qother", Some(995)),
        ];
        let f = FixedAddress::from_history(1000, ADDRESS, &txs);
        assert_eq!(f.prior_height, Some(900));
        assert_eq!(f.prior_txids, [txid(1).to_string(), txid(2).to_string()]);
        // Old ones are not new, wherever a reorg puts them.
        assert!(!f.is_new(&txid(1).to_string(), Some(1001)));
        assert!(!f.is_new(&txid(2).to_string(), None));
        assert!(!f.is_new(&txid(3).to_string(), Some(850)));
        // A new one is new, in the mempool or mined (even re-mined lower).
        assert!(f.is_new(&txid(9).to_string(), None));
        assert!(f.is_new(&txid(9).to_string(), Some(1001)));
        assert!(f.is_new(&txid(9).to_string(), Some(999)));
        // A young chain: no height is deep enough, every txid is recorded.
        let young = FixedAddress::from_history(50, ADDRESS, &txs);
        assert_eq!(young.prior_height, None);
        assert_eq!(young.prior_txids.len(), 3);
    }

    #[test]
    fn only_open_and_paid_unconfirmed_requests_hold_the_address() {
        let holding: Vec<&str> = Status::NAMES
            .into_iter()
            .filter(|n| holds(Status::parse(n).expect("a status")))
            .collect();
        assert_eq!(holding, ["new", "paid_partial", "pending"]);
    }
}
