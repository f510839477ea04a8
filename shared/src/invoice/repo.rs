//! Invoices in the table: creation with a fresh address (gap-free index,
//! no address twice), loading, and applying a lifecycle change with an
//! optimistic version check, its payment items and events in one transaction.

use super::lifecycle::{next_check, transition, Change, Input, TransitionError};
use super::{Invoice, InvoiceError, Payment};
use crate::app::App;
use crate::clock::rfc3339;
use crate::events::{Event, EventKind};
use crate::handlers::ctx::IdempotencyLease;
use crate::http::Response;
use crate::records::{record, to_item, RecordError};
use crate::schema;
use crate::store::Store;
use crate::table::{Cond, Item, NamedTx, TableError, TxFailed, TxOp, Update, MAX_TX_OPS};
use crate::wallet::Wallet;
use serde_json::{json, Value};
use std::time::Duration;
use time::OffsetDateTime;

/// The wallet's id for address counters: its descriptor checksum.
pub fn wallet_id(descriptor: &str) -> String {
    descriptor
        .rsplit_once('#')
        .map(|(_, c)| c.to_string())
        .unwrap_or_else(|| descriptor.to_string())
}

/// The invoice item, with its list key and (when watched) its watch key.
pub fn invoice_item(inv: &Invoice, now: OffsetDateTime) -> Item {
    let mut extra = vec![
        (schema::GSI1_PK, json!(schema::invoices_of(&inv.store_id))),
        (
            schema::GSI1_SK,
            json!(schema::invoice_list_sk(inv.created_at, &inv.id)),
        ),
    ];
    if let Some(at) = next_check(inv, now) {
        extra.push((schema::GSI2_PK, json!(schema::WATCH)));
        extra.push((
            schema::GSI2_SK,
            json!(schema::watch_sk(&rfc3339(at), &inv.id)),
        ));
    }
    to_item(inv, &schema::invoice(&inv.id), &extra)
}

fn payment_item(inv: &Invoice, p: &Payment) -> Item {
    let mut item = match p.to_json(&inv.id) {
        Value::Object(m) => m,
        _ => unreachable!("payments are objects"),
    };
    item.insert("store_id".into(), json!(inv.store_id));
    item.insert(
        "record".into(),
        serde_json::to_value(p).expect("payment serializes"),
    );
    let key = schema::payment(&p.id);
    item.insert(schema::PK.into(), json!(key.pk));
    item.insert(schema::SK.into(), json!(key.sk));
    item.insert(
        schema::GSI1_PK.into(),
        json!(schema::payments_of(&inv.store_id)),
    );
    item.insert(
        schema::GSI1_SK.into(),
        json!(schema::payment_list_sk(p.seen_at, &p.id)),
    );
    item
}

/// The event items a change causes.
pub fn event_ops(app: &App, inv: &Invoice, change: &Change, now: OffsetDateTime) -> Vec<TxOp> {
    let data_invoice = inv.to_json(&app.config.public_url);
    change
        .events
        .iter()
        .map(|spec| {
            let mut data = json!({ "invoice": data_invoice });
            if let Some(p) = &spec.payment {
                data["payment"] = p.to_json(&inv.id);
            }
            if let Some(r) = &spec.refund {
                data["refund"] = r.to_json(&inv.id);
            }
            Event::new(spec.kind, &inv.store_id, Some(&inv.id), data, now).put_op(now)
        })
        .collect()
}

/// The `invoice.created` event of a new invoice.
pub fn created_event(app: &App, inv: &Invoice, now: OffsetDateTime) -> Event {
    Event::new(
        EventKind::InvoiceCreated,
        &inv.store_id,
        Some(&inv.id),
        json!({ "invoice": inv.to_json(&app.config.public_url) }),
        now,
    )
}

/// Why an invoice was not loaded or changed (mapped to the API's errors
/// once, in `crate::error`).
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// No invoice of that id in this store (another store's is not found
    /// either).
    #[error("invoice not found")]
    NotFound,
    /// The lifecycle refuses the input.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// Other writers kept changing the invoice; retrying is safe.
    #[error("the invoice is changing right now; retry")]
    Contended,
    /// The change needs more writes than one transaction holds.
    #[error("too many simultaneous payments to record at once")]
    TooLarge,
    /// The table failed, or a write the change could not expect to fail did.
    #[error(transparent)]
    Storage(#[from] TableError),
    /// The stored invoice does not read as one.
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// Load an invoice of a store; another store's invoice is not found.
pub async fn load_for_store(app: &App, store_id: &str, id: &str) -> Result<Invoice, ChangeError> {
    match app.table.get(&schema::invoice(id)).await? {
        Some(item) => {
            let inv: Invoice = record(item)?;
            if inv.store_id == store_id {
                Ok(inv)
            } else {
                Err(ChangeError::NotFound)
            }
        }
        None => Err(ChangeError::NotFound),
    }
}

/// Write `change` if the invoice is still at `old.version`. Ok(false) when
/// another writer got there first (reload and decide again).
pub async fn save_change(
    app: &App,
    old: &Invoice,
    change: &Change,
    now: OffsetDateTime,
) -> Result<bool, ChangeError> {
    if !change.changed {
        return Ok(true);
    }
    // A fixed-address request leaving the states that hold its address
    // lets the address go in this same transaction.
    let release = super::fixed::release(&change.invoice);
    let inv = release
        .as_ref()
        .map_or(&change.invoice, |(released, _)| released);
    let mut tx = NamedTx::new();
    tx.push(
        ChangeWrite::Version,
        TxOp::Put {
            item: invoice_item(inv, now),
            cond: Some(Cond::eq("version", old.version)),
        },
    );
    tx.extend(
        ChangeWrite::Release,
        release.as_ref().map(|(_, op)| op.clone()),
    );
    for p in &inv.payments {
        if old.payments.iter().find(|q| q.id == p.id) != Some(p) {
            tx.push(
                ChangeWrite::Payment,
                TxOp::Put {
                    item: payment_item(inv, p),
                    cond: None,
                },
            );
        }
    }
    tx.extend(ChangeWrite::Event, event_ops(app, inv, change, now));
    if tx.len() > MAX_TX_OPS {
        // Never drop events: keep the invoice write with as many as fit and
        // fail loudly for the rest (one poller run cannot see 20+ new outputs
        // of a single invoice in practice).
        tracing::error!(invoice = %inv.id, ops = tx.len(), "change too large for one transaction");
        return Err(ChangeError::TooLarge);
    }
    match tx.run(&*app.table).await {
        Ok(()) => {
            let detected = change
                .events
                .iter()
                .filter(|e| e.kind == EventKind::PaymentReceived)
                .count();
            if detected > 0 {
                crate::metrics::count(&[(crate::metrics::PAYMENTS_DETECTED, detected as u64)]);
            }
            if old.payments.is_empty() && !inv.payments.is_empty() {
                note_paid_index(app, inv).await;
            }
            Ok(true)
        }
        Err(TxFailed::Condition(ChangeWrite::Version)) | Err(TxFailed::Table(TableError::Busy)) => {
            Ok(false)
        }
        Err(TxFailed::Condition(other)) => Err(TableError::Backend(format!(
            "the {other:?} write of an invoice change failed its condition"
        ))
        .into()),
        Err(TxFailed::Table(e)) => Err(e.into()),
    }
}

/// The writes of an invoice change, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChangeWrite {
    /// The invoice, guarded by its version.
    Version,
    /// A fixed-address request letting its address go (`fixed::release`).
    Release,
    Payment,
    Event,
}

/// The writes of an invoice creation, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CreateWrite {
    /// The address counter, guarded by the index read.
    Counter,
    /// The address claim: never handed out before.
    Address,
    Invoice,
    Event,
    /// The order id claim: unique per store.
    OrderId,
    /// The caller's extra writes (a quote claim).
    Extra,
    /// The idempotent answer, guarded by the lease.
    Answer,
}

/// Remember the highest paid address index (for the gap warning). A hint:
/// losing a race here only makes the warning conservative.
async fn note_paid_index(app: &App, inv: &Invoice) {
    let (Some(index), Some(wallet)) = (inv.address_index, &inv.wallet_id) else {
        return;
    };
    let cond = Cond::Or(vec![
        Cond::AttrNotExists("last_paid".into()),
        Cond::Lt("last_paid".into(), json!(index)),
    ]);
    let _ = app
        .table
        .update(
            &schema::address_counter(&inv.store_id, wallet),
            Update::new().set("last_paid", index),
            Some(Cond::And(vec![Cond::Exists, cond])),
        )
        .await;
}

/// Load, decide and save, retrying on a concurrent change.
pub async fn apply_input(
    app: &App,
    store_id: &str,
    id: &str,
    input: Input,
) -> Result<Invoice, ChangeError> {
    for attempt in 0..8 {
        let old = load_for_store(app, store_id, id).await?;
        let now = app.now();
        let change = transition(&old, input.clone(), now)?;
        if save_change(app, &old, &change, now).await? {
            return Ok(change.invoice);
        }
        tokio::time::sleep(Duration::from_millis(2 << attempt)).await;
    }
    Err(ChangeError::Contended)
}

/// The address counter of a store's current wallet: (next index, gap of
/// unpaid addresses after the last paid one).
pub async fn address_state(app: &App, store: &Store) -> Result<(u64, u64), TableError> {
    let item = app
        .table
        .get(&schema::address_counter(
            &store.id,
            &wallet_id(&store.wallet),
        ))
        .await?;
    let next = item
        .as_ref()
        .and_then(|i| i.get("next"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let last_paid = item
        .as_ref()
        .and_then(|i| i.get("last_paid"))
        .and_then(Value::as_u64);
    let gap = match last_paid {
        Some(p) => next.saturating_sub(p + 1),
        None => next,
    };
    Ok((next, gap))
}

/// Create an invoice with the next unused address of the store's wallet.
/// `extra` ops (a quote claim) join the same transaction. The counter moves
/// only together with an invoice, so indexes are gap-free; an address
/// claimed before (e.g. the wallet was used earlier) is skipped. With an
/// idempotency lease, the `201` answer is stored in the same transaction.
pub async fn create(
    app: &App,
    store: &Store,
    mut inv: Invoice,
    extra: Vec<TxOp>,
    lease: Option<&IdempotencyLease>,
) -> Result<Invoice, InvoiceError> {
    let wallet = Wallet::cached(&store.wallet, store.network).map_err(|e| {
        tracing::error!(store = %store.id, error = %e, "stored wallet does not parse");
        InvoiceError::Wallet(e.to_string())
    })?;
    let wid = wallet_id(&store.wallet);
    let counter = schema::address_counter(&store.id, &wid);
    // Creations on this counter in this process take turns (see `Lane`).
    let mut lane = Lane::of(&counter).lock().await;
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        if attempt > 400 {
            return Err(InvoiceError::Busy);
        }
        let (next, exists) = match lane.next_of(&counter) {
            Some(next) => (next, true),
            None => {
                let current = app.table.get(&counter).await?;
                let next = current
                    .as_ref()
                    .and_then(|i| i.get("next"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                (next, current.is_some())
            }
        };
        let index = u32::try_from(next)
            .ok()
            .filter(|i| *i < 0x8000_0000)
            .ok_or(InvoiceError::WalletExhausted)?;
        let address = wallet
            .address_at(index)
            .map_err(|e| InvoiceError::Wallet(e.to_string()))?
            .to_string();
        let counter_cond = if exists {
            Cond::eq("next", next)
        } else {
            Cond::NotExists
        };
        let now = app.now();
        inv.address = Some(address.clone());
        inv.address_index = Some(next);
        inv.wallet_id = Some(wid.clone());
        let created_event = created_event(app, &inv, now);
        let mut tx = NamedTx::new();
        tx.push(
            CreateWrite::Counter,
            TxOp::Update {
                key: counter.clone(),
                update: Update::new().set("next", next + 1),
                cond: Some(counter_cond.clone()),
            },
        );
        tx.push(
            CreateWrite::Address,
            TxOp::Put {
                item: to_item(
                    &json!({"invoice_id": inv.id, "store_id": inv.store_id, "index": next}),
                    &schema::address(store.network, &address),
                    &[],
                ),
                cond: Some(Cond::NotExists),
            },
        );
        tx.push(
            CreateWrite::Invoice,
            TxOp::Put {
                item: invoice_item(&inv, now),
                cond: Some(Cond::NotExists),
            },
        );
        tx.push(CreateWrite::Event, created_event.put_op(now));
        if let Some(order_id) = &inv.order_id {
            tx.push(
                CreateWrite::OrderId,
                TxOp::Put {
                    item: to_item(
                        &json!({"invoice_id": inv.id}),
                        &schema::order(&store.id, order_id),
                        &[],
                    ),
                    cond: Some(Cond::NotExists),
                },
            );
        }
        tx.extend(CreateWrite::Extra, extra.iter().cloned());
        if let Some(lease) = lease {
            let answer = Response::created(inv.to_json(&app.config.public_url));
            tx.push(CreateWrite::Answer, lease.answer_op(&answer));
        }
        match tx.run(&*app.table).await {
            Ok(()) => {
                lane.known = Some((counter, next + 1));
                crate::metrics::count(&[(crate::metrics::INVOICES_CREATED, 1)]);
                return Ok(inv);
            }
            Err(TxFailed::Condition(CreateWrite::Counter))
            | Err(TxFailed::Table(TableError::Busy)) => {
                // Another process took this index: read the counter again.
                lane.known = None;
                let jitter = rand::random::<u64>() % (1 + u64::from(attempt.min(20)));
                tokio::time::sleep(Duration::from_millis(jitter)).await;
            }
            Err(TxFailed::Condition(CreateWrite::Address)) => {
                // Address handed out before (by an earlier use of this wallet): skip it.
                // (A lost race here only means the next attempt reads again.)
                let skip = Update::new().set("next", next + 1);
                let _ = app.table.update(&counter, skip, Some(counter_cond)).await;
                lane.known = None;
            }
            Err(TxFailed::Condition(CreateWrite::OrderId)) => {
                return Err(InvoiceError::OrderIdTaken(
                    inv.order_id.clone().unwrap_or_default(),
                ))
            }
            Err(TxFailed::Condition(CreateWrite::Answer)) => return Err(InvoiceError::AnswerTaken),
            Err(TxFailed::Condition(CreateWrite::Extra)) => return Err(InvoiceError::QuoteTaken),
            Err(TxFailed::Condition(w @ (CreateWrite::Invoice | CreateWrite::Event))) => {
                return Err(InvoiceError::Storage(TableError::Backend(format!(
                    "the {w:?} write of a new invoice failed its condition"
                ))))
            }
            Err(TxFailed::Table(e)) => {
                // Whether it committed is unknown: read the counter next time.
                lane.known = None;
                return Err(e.into());
            }
        }
    }
}

/// Lanes of address allocation in this process. Creations whose counters
/// hash to one lane take turns there, so concurrent creations on one store
/// do not race each other for the same index and retry (each retry
/// re-reads, re-derives and re-commits). The lane also remembers the
/// counter value its last creation committed, which saves reading it back.
/// Correctness does not rest on either: the counter's conditional write
/// (`next` unchanged) and the address item's `NotExists` still decide,
/// against other processes on the table (Lambda on DynamoDB, a CLI next
/// to the server) and a remembered value that went stale.
#[derive(Default)]
struct Lane {
    /// (counter key, its `next` as this lane last committed it).
    known: Option<(crate::table::Key, u64)>,
}

/// Number of lanes (different stores rarely share one).
const LANES: usize = 64;

impl Lane {
    /// The lane of an address counter.
    fn of(counter: &crate::table::Key) -> &'static tokio::sync::Mutex<Lane> {
        use std::hash::{Hash, Hasher};
        static ALL: std::sync::OnceLock<Vec<tokio::sync::Mutex<Lane>>> = std::sync::OnceLock::new();
        let all = ALL.get_or_init(|| (0..LANES).map(|_| Default::default()).collect());
        let mut h = std::collections::hash_map::DefaultHasher::new();
        counter.hash(&mut h);
        &all[(h.finish() % LANES as u64) as usize]
    }

    /// The counter's next index, if this lane committed it last.
    fn next_of(&self, counter: &crate::table::Key) -> Option<u64> {
        match &self.known {
            Some((key, next)) if key == counter => Some(*next),
            _ => None,
        }
    }
}
