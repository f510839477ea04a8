//! The one pure function that decides every invoice change: chain
//! observations, the passing of time and merchant commands all go through
//! `transition`, which returns the new invoice and the events it causes.
//! No I/O here; storage applies the result with an optimistic version check.

use super::{Flag, Invoice, Payment, PaymentStatus, Refund, RefundStatus, Status};
use crate::clock::Stamp;
use crate::events::EventKind;
use crate::store::SpeedPolicy;
use bitcoin::Amount;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::HashSet;
use time::OffsetDateTime;

/// Confirmations after which a payment is considered safe from reorgs and
/// the poller stops re-checking a settled invoice.
pub const SAFE_CONFIRMATIONS: u32 = 6;

/// One output paying the invoice's address, as the chain reports it now.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenOutput {
    pub txid: String,
    pub vout: u32,
    pub amount_sats: u64,
    pub rbf: bool,
    /// Height and hash of the block, if confirmed on the best chain.
    pub block: Option<(u32, String)>,
}

/// What the chain says about an invoice right now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChainView {
    pub tip: u32,
    pub outputs: Vec<SeenOutput>,
    /// Txids of recorded payments that the chain no longer knows at all
    /// (double-spent, replaced, or dropped).
    pub gone: HashSet<String>,
    /// Refunds seen paid: (refund id, txid).
    pub refunds_sent: Vec<(String, String)>,
}

/// What happened to an invoice.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Chain(ChainView),
    /// Only time passed (expiry).
    Tick,
    Mark {
        status: Status,
        comment: Option<String>,
    },
    Cancel {
        comment: Option<String>,
    },
    AcceptUnderpayment {
        sats: Amount,
    },
    RequestRefund(Refund),
}

/// An event to record: its type, and the payment or refund it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSpec {
    pub kind: EventKind,
    pub payment: Option<Payment>,
    pub refund: Option<Refund>,
}

/// The result of a transition. `changed` is false when nothing needs writing.
#[derive(Debug, Clone)]
pub struct Change {
    pub invoice: Invoice,
    pub events: Vec<EventSpec>,
    pub changed: bool,
}

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransitionError {
    /// A merchant may mark only `completed` or `invalid`.
    #[error("must be `completed` or `invalid`")]
    MarkStatus,
    /// Only open invoices can be marked.
    #[error("invoice {id} is {}; only new, paid_partial, pending or expired invoices can be marked", .status.as_str())]
    NotMarkable { id: String, status: Status },
    /// Only unpaid new invoices can be cancelled.
    #[error("invoice {id} is {} and has received {paid} sats; only unpaid new invoices can be cancelled", .status.as_str())]
    NotCancellable {
        id: String,
        status: Status,
        paid: u64,
    },
    /// Only underpaid invoices can accept an underpayment.
    #[error("invoice {id} is {}; only underpaid invoices (paid_partial) can accept an underpayment", .status.as_str())]
    NotUnderpaid { id: String, status: Status },
    /// The accepted amount is not what was paid on time.
    #[error("must equal what was paid on time: {paid} sats")]
    AcceptedAmount { paid: u64 },
    /// Archived and cancelled invoices have nothing to refund.
    #[error("invoice {id} is {}; nothing to refund", .status.as_str())]
    NothingToRefund { id: String, status: Status },
    /// A refund must be of what was received and not yet refunded.
    #[error("must be between 1 and the {refundable} sats received and not yet refunded")]
    RefundAmount { refundable: u64 },
}

/// Decide the invoice after `input` at time `now`.
pub fn transition(
    old: &Invoice,
    input: Input,
    now: OffsetDateTime,
) -> Result<Change, TransitionError> {
    let expires = old.expires_at.time();
    let mut inv = old.clone();
    match input {
        Input::Chain(view) => apply_chain(&mut inv, &view, expires, now),
        Input::Tick => {}
        Input::Mark { status, comment } => {
            if !matches!(status, Status::Completed | Status::Invalid) {
                return Err(TransitionError::MarkStatus);
            }
            if !old.status.is_open() {
                return Err(TransitionError::NotMarkable {
                    id: old.id.clone(),
                    status: old.status,
                });
            }
            inv.status = status;
            inv.set_flag(Flag::ManuallyMarked);
            if comment.is_some() {
                inv.comment = comment;
            }
        }
        Input::Cancel { comment } => {
            if old.status != Status::New || old.paid_sats() > Amount::ZERO {
                return Err(TransitionError::NotCancellable {
                    id: old.id.clone(),
                    status: old.status,
                    paid: old.paid_sats().to_sat(),
                });
            }
            inv.status = Status::Cancelled;
            if comment.is_some() {
                inv.comment = comment;
            }
        }
        Input::AcceptUnderpayment { sats } => {
            let paid = on_time_paid(old);
            let underpaid = matches!(old.status, Status::PaidPartial)
                || (old.status == Status::Expired
                    && paid > Amount::ZERO
                    && paid < threshold(old, None));
            if !underpaid {
                return Err(TransitionError::NotUnderpaid {
                    id: old.id.clone(),
                    status: old.status,
                });
            }
            if sats != paid {
                return Err(TransitionError::AcceptedAmount {
                    paid: paid.to_sat(),
                });
            }
            inv.accepted_sats = Some(sats);
            inv.set_flag(Flag::UnderpaymentAccepted);
        }
        Input::RequestRefund(refund) => {
            if matches!(old.status, Status::Archived | Status::Cancelled) {
                return Err(TransitionError::NothingToRefund {
                    id: old.id.clone(),
                    status: old.status,
                });
            }
            let refunded: Amount = old.refunds.iter().map(|r| r.amount_sats).sum();
            let refundable = old
                .paid_sats()
                .checked_sub(refunded)
                .unwrap_or(Amount::ZERO);
            if refund.amount_sats == Amount::ZERO || refund.amount_sats > refundable {
                return Err(TransitionError::RefundAmount {
                    refundable: refundable.to_sat(),
                });
            }
            inv.refunds.push(refund);
        }
    }
    decide(&mut inv, old.status, expires, now);
    let events = diff(old, &inv);
    let changed = inv != *old;
    if changed {
        inv.version = old.version + 1;
        inv.updated_at = Stamp::new(now);
    }
    Ok(Change {
        invoice: inv,
        events,
        changed,
    })
}

/// A payment first seen this soon after expiry, while the invoice was not yet
/// marked expired, is on time: the poller only looks every minute, so the
/// buyer may well have paid before the deadline.
pub const EXPIRY_GRACE: time::Duration = time::Duration::minutes(5);

fn apply_chain(inv: &mut Invoice, view: &ChainView, expires: OffsetDateTime, now: OffsetDateTime) {
    let still_open = matches!(
        inv.status,
        Status::New | Status::PaidPartial | Status::Pending
    );
    let late = !(now <= expires || (still_open && now <= expires + EXPIRY_GRACE));
    let address = inv.address.clone().unwrap_or_default();
    let mut seen = HashSet::new();
    for o in &view.outputs {
        seen.insert((o.txid.clone(), o.vout));
        let confirmations = o
            .block
            .as_ref()
            .map_or(0, |(h, _)| view.tip.saturating_sub(*h) + 1);
        match inv
            .payments
            .iter_mut()
            .find(|p| p.txid == o.txid && p.vout == o.vout)
        {
            Some(p) => {
                let was_confirmed =
                    p.status == PaymentStatus::Confirmed || p.block_height.is_some();
                p.confirmations = confirmations;
                p.block_height = o.block.as_ref().map(|b| b.0);
                p.block_hash = o.block.as_ref().map(|b| b.1.clone());
                p.rbf = o.rbf;
                p.status = match (
                    &o.block,
                    was_confirmed || p.status == PaymentStatus::Reorged,
                ) {
                    (Some(_), _) => PaymentStatus::Confirmed,
                    (None, true) => PaymentStatus::Reorged,
                    (None, false) => PaymentStatus::Mempool,
                };
            }
            None => inv.payments.push(Payment {
                id: Payment::id_for(&inv.id, &o.txid, o.vout),
                txid: o.txid.clone(),
                vout: o.vout,
                address: address.clone(),
                amount_sats: Amount::from_sat(o.amount_sats),
                confirmations,
                block_height: o.block.as_ref().map(|b| b.0),
                block_hash: o.block.as_ref().map(|b| b.1.clone()),
                status: if o.block.is_some() {
                    PaymentStatus::Confirmed
                } else {
                    PaymentStatus::Mempool
                },
                rbf: o.rbf,
                seen_at: Stamp::new(now),
                late,
            }),
        }
    }
    for p in inv.payments.iter_mut() {
        if !seen.contains(&(p.txid.clone(), p.vout)) && view.gone.contains(&p.txid) {
            p.status = PaymentStatus::Replaced;
            p.confirmations = 0;
            p.block_height = None;
            p.block_hash = None;
        }
    }
    for (refund_id, txid) in &view.refunds_sent {
        if let Some(r) = inv
            .refunds
            .iter_mut()
            .find(|r| &r.id == refund_id && r.status == RefundStatus::Requested)
        {
            r.status = RefundStatus::Sent;
            r.txid = Some(txid.clone());
            r.sent_at = Some(Stamp::new(now));
        }
    }
}

/// What was paid before expiry (payments that still count).
pub fn on_time_paid(inv: &Invoice) -> Amount {
    inv.payments
        .iter()
        .filter(|p| p.counts() && !p.late)
        .map(|p| p.amount_sats)
        .sum()
}

/// What counts as paid in full: the amount less the tolerance (rounded up),
/// or exactly the accepted underpayment.
fn threshold(inv: &Invoice, accepted: Option<Amount>) -> Amount {
    if let Some(a) = accepted {
        return a;
    }
    let due = Decimal::from(inv.crypto_amount_sats.to_sat());
    let keep = (Decimal::from(100) - inv.payment_tolerance_percent) / Decimal::from(100);
    (due * keep)
        .round_dp_with_strategy(0, RoundingStrategy::AwayFromZero)
        .to_u64()
        .map_or(inv.crypto_amount_sats, Amount::from_sat)
}

/// Whether a counted payment is final enough for the speed policy.
fn settles(p: &Payment, policy: SpeedPolicy) -> bool {
    match policy {
        SpeedPolicy::ZeroConf => {
            p.status == PaymentStatus::Confirmed || (p.status == PaymentStatus::Mempool && !p.rbf)
        }
        other => p.status == PaymentStatus::Confirmed && p.confirmations >= other.confirmations(),
    }
}

/// Whether the payments made on time reach what counts as paid in full.
fn paid_in_full(inv: &Invoice) -> bool {
    let paid = on_time_paid(inv);
    paid > Amount::ZERO && paid >= threshold(inv, inv.accepted_sats)
}

/// Record the payments that are now confirmed in the sense of
/// `payment.confirmed`: counted, paid on time, the invoice paid in full by
/// such payments, and the payment final enough for the speed policy. A
/// payment is recorded once and stays recorded (even if a reorg later takes
/// it back), so the event fires exactly once per payment.
fn note_confirmed(inv: &mut Invoice) {
    if matches!(inv.status, Status::Archived | Status::Cancelled) || !paid_in_full(inv) {
        return;
    }
    let policy = inv.speed_policy;
    let newly: Vec<String> = inv
        .payments
        .iter()
        .filter(|p| p.counts() && !p.late && settles(p, policy))
        .filter(|p| !inv.confirmed_payments.contains(&p.id))
        .map(|p| p.id.clone())
        .collect();
    inv.confirmed_payments.extend(newly);
}

/// Recompute status and flags from payments, policy and time.
fn decide(inv: &mut Invoice, old_status: Status, expires: OffsetDateTime, now: OffsetDateTime) {
    note_confirmed(inv);
    if inv.payments.iter().any(|p| p.counts() && p.late) {
        inv.set_flag(Flag::PaidLate);
    }
    if inv.paid_sats() > inv.crypto_amount_sats {
        inv.set_flag(Flag::Overpaid);
    } else {
        inv.flags.retain(|f| *f != Flag::Overpaid);
    }
    if !inv.refunds.is_empty() && inv.refunds.iter().all(|r| r.status == RefundStatus::Sent) {
        inv.status = Status::Refunded;
        return;
    }
    if matches!(
        inv.status,
        Status::Archived | Status::Cancelled | Status::Refunded
    ) || inv.has_flag(Flag::ManuallyMarked)
    {
        return;
    }
    let on_time: Vec<&Payment> = inv
        .payments
        .iter()
        .filter(|p| p.counts() && !p.late)
        .collect();
    let paid: Amount = on_time.iter().map(|p| p.amount_sats).sum();
    let full = paid_in_full(inv);
    let expired = now >= expires;
    let replaced = inv
        .payments
        .iter()
        .any(|p| p.status == PaymentStatus::Replaced);
    inv.status = if full {
        if on_time.iter().all(|p| settles(p, inv.speed_policy)) {
            Status::Completed
        } else {
            Status::Pending
        }
    } else if replaced
        && matches!(
            old_status,
            Status::Pending | Status::Completed | Status::Invalid
        )
    {
        // A payment the invoice relied on was double-spent.
        Status::Invalid
    } else if expired {
        Status::Expired
    } else if paid > Amount::ZERO {
        Status::PaidPartial
    } else {
        Status::New
    };
}

/// The events between two versions of an invoice.
fn diff(old: &Invoice, new: &Invoice) -> Vec<EventSpec> {
    let mut events = Vec::new();
    let ev = |kind, payment: Option<&Payment>, refund: Option<&Refund>| EventSpec {
        kind,
        payment: payment.cloned(),
        refund: refund.cloned(),
    };
    for p in &new.payments {
        let before = old.payments.iter().find(|q| q.id == p.id);
        if before.is_none() && p.counts() {
            events.push(ev(EventKind::PaymentReceived, Some(p), None));
        }
        if new.confirmed_payments.contains(&p.id) && !old.confirmed_payments.contains(&p.id) {
            events.push(ev(EventKind::PaymentConfirmed, Some(p), None));
        }
    }
    for r in &new.refunds {
        let before = old.refunds.iter().find(|q| q.id == r.id);
        if r.status == RefundStatus::Sent && before.is_none_or(|b| b.status != RefundStatus::Sent) {
            events.push(ev(EventKind::PaymentRefunded, None, Some(r)));
        }
    }
    if new.status != old.status {
        events.push(ev(EventKind::InvoiceUpdated, None, None));
        if let Announced::OnChange(kind) = announcement(new.status) {
            events.push(ev(kind, None, None));
        }
    } else if new.flags != old.flags {
        events.push(ev(EventKind::InvoiceUpdated, None, None));
    }
    events
}

/// When the poller should look at this invoice next; None = stop watching.
pub fn next_check(inv: &Invoice, now: OffsetDateTime) -> Option<OffsetDateTime> {
    let monitoring = now < inv.monitoring_until;
    let refund_open = inv
        .refunds
        .iter()
        .any(|r| r.status == RefundStatus::Requested);
    let shallow = inv
        .payments
        .iter()
        .any(|p| p.counts() && p.confirmations < SAFE_CONFIRMATIONS);
    match inv.status {
        Status::New | Status::PaidPartial | Status::Pending => Some(now),
        Status::Archived => None,
        _ if shallow || refund_open => Some(now),
        _ if monitoring => Some(now + time::Duration::minutes(5)),
        _ => None,
    }
}

/// How an invoice reaching a status is announced (see [`announcement`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announced {
    /// A change to the status sends this event besides `invoice.updated`.
    OnChange(EventKind),
    /// This event announces the status, sent by another change than the
    /// status's: `invoice.created` by the creation, `payment.refunded` by
    /// the refund's own change; a change to the status sends only
    /// `invoice.updated`.
    Elsewhere(EventKind),
    /// Only `invoice.updated`.
    UpdatedOnly,
}

/// The one table of status -> event type: what announces `status`.
pub fn announcement(status: Status) -> Announced {
    use Announced::*;
    match status {
        Status::Pending => OnChange(EventKind::InvoicePaid),
        Status::Completed => OnChange(EventKind::InvoiceCompleted),
        Status::Expired => OnChange(EventKind::InvoiceExpired),
        Status::Cancelled => OnChange(EventKind::InvoiceCancelled),
        Status::PaidPartial => OnChange(EventKind::InvoiceUnderpaid),
        Status::Invalid => OnChange(EventKind::InvoiceInvalid),
        Status::New => Elsewhere(EventKind::InvoiceCreated),
        Status::Refunded => Elsewhere(EventKind::PaymentRefunded),
        Status::Archived => UpdatedOnly,
    }
}

impl Announced {
    /// The event that names the status (`invoice.updated` when none does).
    pub fn kind(self) -> EventKind {
        match self {
            Announced::OnChange(k) | Announced::Elsewhere(k) => k,
            Announced::UpdatedOnly => EventKind::InvoiceUpdated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Network;

    fn t(s: &str) -> OffsetDateTime {
        crate::clock::parse_rfc3339(s).unwrap()
    }

    fn invoice(sats: u64, policy: SpeedPolicy) -> Invoice {
        let store: crate::store::Store = serde_json::from_value(serde_json::json!({
            "id": "store_1", "account_id": "acct_1", "name": "Shop", "network": Network::Regtest,
            "wallet": "w", "wallet_type": crate::wallet::ScriptType::P2wpkh, "default_currency": "USD",
            "speed_policy": policy, "expiration_minutes": 15, "monitoring_minutes": 60,
            "payment_tolerance_percent": "0", "api_allowed_ips": [],
            "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z"
        }))
        .unwrap();
        let price = super::super::Price {
            amount: Decimal::from(10),
            currency: crate::prices::rates::Currency::Fiat(crate::prices::Fiat::USD),
            sats,
            rate: Some(Decimal::from(65000)),
        };
        let created = t("2026-01-01T00:00:00.000Z");
        Invoice {
            address: Some("bcrt1qaddr".into()),
            address_index: Some(0),
            wallet_id: Some("w".into()),
            expires_at: t("2026-01-01T00:15:00.000Z").into(),
            monitoring_until: t("2026-01-01T01:15:00.000Z").into(),
            ..Invoice::new("inv_1".into(), &store, Status::New, price, created, created)
        }
    }

    fn out(txid: &str, sats: u64, rbf: bool, block: Option<u32>) -> SeenOutput {
        SeenOutput {
            txid: txid.into(),
            vout: 0,
            amount_sats: sats,
            rbf,
            block: block.map(|h| (h, format!("hash{h}"))),
        }
    }

    fn chain(tip: u32, outputs: Vec<SeenOutput>) -> Input {
        Input::Chain(ChainView {
            tip,
            outputs,
            ..Default::default()
        })
    }

    fn kinds(c: &Change) -> Vec<&str> {
        c.events.iter().map(|e| e.kind.as_str()).collect()
    }

    const T0: &str = "2026-01-01T00:05:00Z";

    #[test]
    fn partial_then_full_then_confirmed() {
        let inv = invoice(1000, SpeedPolicy::OneConf);
        let c = transition(&inv, chain(100, vec![out("a", 500, false, None)]), t(T0)).unwrap();
        assert_eq!(c.invoice.status, Status::PaidPartial);
        assert_eq!(
            kinds(&c),
            ["payment.received", "invoice.updated", "invoice.underpaid"]
        );
        assert_eq!(c.invoice.version, 2);
        let c = transition(
            &c.invoice,
            chain(
                100,
                vec![out("a", 500, false, None), out("b", 500, false, None)],
            ),
            t(T0),
        )
        .unwrap();
        assert_eq!(c.invoice.status, Status::Pending);
        assert_eq!(
            kinds(&c),
            ["payment.received", "invoice.updated", "invoice.paid"]
        );
        let c = transition(
            &c.invoice,
            chain(
                101,
                vec![
                    out("a", 500, false, Some(101)),
                    out("b", 500, false, Some(101)),
                ],
            ),
            t(T0),
        )
        .unwrap();
        assert_eq!(c.invoice.status, Status::Completed);
        assert_eq!(
            kinds(&c),
            [
                "payment.confirmed",
                "payment.confirmed",
                "invoice.updated",
                "invoice.completed"
            ]
        );
        let again = transition(
            &c.invoice,
            chain(
                101,
                vec![
                    out("a", 500, false, Some(101)),
                    out("b", 500, false, Some(101)),
                ],
            ),
            t(T0),
        )
        .unwrap();
        assert!(
            !again.changed && again.events.is_empty(),
            "same view, no change"
        );
    }

    #[test]
    fn speed_policies() {
        let inv = invoice(1000, SpeedPolicy::ZeroConf);
        let c = transition(&inv, chain(1, vec![out("a", 1000, false, None)]), t(T0)).unwrap();
        assert_eq!(
            c.invoice.status,
            Status::Completed,
            "zero_conf accepts a non-RBF mempool payment"
        );
        let c = transition(&inv, chain(1, vec![out("a", 1000, true, None)]), t(T0)).unwrap();
        assert_eq!(
            c.invoice.status,
            Status::Pending,
            "but not one that signals RBF"
        );
        let inv = invoice(1000, SpeedPolicy::TwoConf);
        let c = transition(
            &inv,
            chain(10, vec![out("a", 1000, false, Some(10))]),
            t(T0),
        )
        .unwrap();
        assert_eq!(c.invoice.status, Status::Pending, "one confirmation of two");
        let c = transition(
            &c.invoice,
            chain(11, vec![out("a", 1000, false, Some(10))]),
            t(T0),
        )
        .unwrap();
        assert_eq!(c.invoice.status, Status::Completed);
        let inv = invoice(1000, SpeedPolicy::SixConf);
        let c = transition(
            &inv,
            chain(15, vec![out("a", 1000, false, Some(10))]),
            t(T0),
        )
        .unwrap();
        assert_eq!(
            (c.invoice.status, c.invoice.payments[0].confirmations),
            (Status::Completed, 6)
        );
    }

    fn confirmed_ids(c: &Change) -> Vec<String> {
        c.events
            .iter()
            .filter(|e| e.kind == EventKind::PaymentConfirmed)
            .map(|e| e.payment.as_ref().expect("payment").txid.clone())
            .collect()
    }

    /// The chain shows `outputs` at `tip` (at T0): the new invoice and the
    /// txids that became `payment.confirmed`.
    fn see(
        inv: &Invoice,
        tip: u32,
        outputs: &[(&str, u64, bool, Option<u32>)],
    ) -> (Invoice, Vec<String>) {
        let outs = outputs
            .iter()
            .map(|(id, sats, rbf, b)| out(id, *sats, *rbf, *b))
            .collect();
        let c = transition(inv, chain(tip, outs), t(T0)).unwrap();
        let ids = confirmed_ids(&c);
        (c.invoice, ids)
    }

    #[test]
    fn payment_confirmed_waits_for_full_payment_and_the_policy() {
        let none: Vec<String> = vec![];
        // A confirmed partial payment is not `payment.confirmed` yet.
        let (inv, ids) = see(
            &invoice(1000, SpeedPolicy::OneConf),
            10,
            &[("a", 400, false, Some(10))],
        );
        assert_eq!((inv.status, ids), (Status::PaidPartial, none.clone()));
        let (inv, ids) = see(
            &inv,
            10,
            &[("a", 400, false, Some(10)), ("b", 600, false, None)],
        );
        assert_eq!(
            (inv.status, ids),
            (Status::Pending, vec!["a".to_string()]),
            "paid in full: the confirmed one counts now"
        );
        let (inv, ids) = see(
            &inv,
            11,
            &[("a", 400, false, Some(10)), ("b", 600, false, Some(11))],
        );
        assert_eq!(
            (inv.status, ids),
            (Status::Completed, vec!["b".to_string()]),
            "each payment once"
        );

        // two_conf: not at the first confirmation; once at the second; never again,
        // not even when re-mined after a reorg.
        let paid = [("a", 1000, false, Some(10))];
        let (inv, ids) = see(&invoice(1000, SpeedPolicy::TwoConf), 10, &paid);
        assert_eq!(ids, none, "1 of 2");
        let (inv, ids) = see(&inv, 11, &paid);
        assert_eq!(ids, ["a"]);
        let (inv, ids) = see(&inv, 12, &paid);
        assert_eq!(ids, none, "third confirmation");
        let (inv, _) = see(&inv, 12, &[("a", 1000, false, None)]);
        assert_eq!(inv.status, Status::Pending, "reorged out");
        let (inv, ids) = see(&inv, 14, &[("a", 1000, false, Some(13))]);
        assert_eq!(
            (inv.status, ids),
            (Status::Completed, none.clone()),
            "re-mined: still once"
        );

        // six_conf: nothing before the sixth confirmation.
        let (inv, ids) = see(&invoice(1000, SpeedPolicy::SixConf), 14, &paid);
        assert_eq!(ids, none, "5 of 6");
        assert_eq!(see(&inv, 15, &paid).1, ["a"]);

        // zero_conf: a non-RBF payment in the mempool; an RBF one at its first block.
        let zero = invoice(1000, SpeedPolicy::ZeroConf);
        assert_eq!(see(&zero, 1, &[("a", 1000, false, None)]).1, ["a"]);
        let (inv, ids) = see(&zero, 1, &[("a", 1000, true, None)]);
        assert_eq!(ids, none, "RBF in the mempool");
        assert_eq!(see(&inv, 2, &[("a", 1000, true, Some(2))]).1, ["a"]);

        // A late payment never counts toward settling, so never fires.
        let late = transition(
            &invoice(1000, SpeedPolicy::OneConf),
            chain(5, vec![out("a", 1000, false, Some(5))]),
            t("2026-01-01T01:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            (late.invoice.status, confirmed_ids(&late)),
            (Status::Expired, none)
        );
    }

    #[test]
    fn tolerance_overpayment_and_expiry() {
        let mut inv = invoice(1000, SpeedPolicy::OneConf);
        inv.payment_tolerance_percent = Decimal::new(5, 1); // 0.5% -> 995 is enough
        let c = transition(&inv, chain(1, vec![out("a", 995, false, None)]), t(T0)).unwrap();
        assert_eq!(c.invoice.status, Status::Pending);
        let c = transition(&inv, chain(1, vec![out("a", 994, false, None)]), t(T0)).unwrap();
        assert_eq!(c.invoice.status, Status::PaidPartial);
        let c = transition(&inv, chain(1, vec![out("a", 1500, false, None)]), t(T0)).unwrap();
        assert!(c.invoice.has_flag(Flag::Overpaid));
        let c = transition(&inv, Input::Tick, t("2026-01-01T00:15:00Z")).unwrap();
        assert_eq!(c.invoice.status, Status::Expired);
        assert_eq!(kinds(&c), ["invoice.updated", "invoice.expired"]);
        let partial = transition(&inv, chain(1, vec![out("a", 10, false, None)]), t(T0))
            .unwrap()
            .invoice;
        let c = transition(&partial, Input::Tick, t("2026-01-01T00:20:00Z")).unwrap();
        assert_eq!(
            c.invoice.status,
            Status::Expired,
            "paid_partial expires too"
        );
    }

    #[test]
    fn late_payment_flags_paid_late_and_stays_expired() {
        let inv = invoice(1000, SpeedPolicy::OneConf);
        let expired = transition(&inv, Input::Tick, t("2026-01-01T00:16:00Z"))
            .unwrap()
            .invoice;
        let c = transition(
            &expired,
            chain(1, vec![out("a", 1000, false, None)]),
            t("2026-01-01T00:30:00Z"),
        )
        .unwrap();
        assert_eq!(c.invoice.status, Status::Expired);
        assert!(c.invoice.has_flag(Flag::PaidLate));
        assert!(c.invoice.payments[0].late);
        assert_eq!(kinds(&c), ["payment.received", "invoice.updated"]);
    }

    #[test]
    fn payment_seen_just_after_expiry_before_the_poller_marked_it_counts() {
        let inv = invoice(1000, SpeedPolicy::OneConf);
        let c = transition(
            &inv,
            chain(1, vec![out("a", 1000, false, None)]),
            t("2026-01-01T00:15:40Z"),
        )
        .unwrap();
        assert_eq!(
            c.invoice.status,
            Status::Pending,
            "still open in storage: on time"
        );
        assert!(!c.invoice.payments[0].late);
        let c = transition(
            &inv,
            chain(1, vec![out("a", 1000, false, None)]),
            t("2026-01-01T00:21:00Z"),
        )
        .unwrap();
        assert_eq!(c.invoice.status, Status::Expired, "past the grace: late");
        assert!(c.invoice.has_flag(Flag::PaidLate));
    }

    #[test]
    fn double_spend_and_reorg() {
        let inv = invoice(1000, SpeedPolicy::OneConf);
        let pending = transition(&inv, chain(1, vec![out("a", 1000, true, None)]), t(T0))
            .unwrap()
            .invoice;
        let mut gone = ChainView {
            tip: 1,
            ..Default::default()
        };
        gone.gone.insert("a".into());
        let c = transition(&pending, Input::Chain(gone), t(T0)).unwrap();
        assert_eq!(c.invoice.status, Status::Invalid);
        assert_eq!(c.invoice.payments[0].status, PaymentStatus::Replaced);
        assert_eq!(kinds(&c), ["invoice.updated", "invoice.invalid"]);

        let completed = transition(&inv, chain(5, vec![out("a", 1000, false, Some(5))]), t(T0))
            .unwrap()
            .invoice;
        assert_eq!(completed.status, Status::Completed);
        let c = transition(
            &completed,
            chain(5, vec![out("a", 1000, false, None)]),
            t(T0),
        )
        .unwrap();
        assert_eq!(
            c.invoice.status,
            Status::Pending,
            "reorged out: back to pending"
        );
        assert_eq!(c.invoice.payments[0].status, PaymentStatus::Reorged);
        assert_eq!(c.invoice.payments[0].confirmations, 0);
        let c = transition(
            &c.invoice,
            chain(6, vec![out("a", 1000, false, Some(6))]),
            t(T0),
        )
        .unwrap();
        assert_eq!(c.invoice.status, Status::Completed, "re-mined");
    }

    #[test]
    fn commands() {
        let inv = invoice(1000, SpeedPolicy::OneConf);
        let c = transition(
            &inv,
            Input::Cancel {
                comment: Some("out of stock".into()),
            },
            t(T0),
        )
        .unwrap();
        assert_eq!(c.invoice.status, Status::Cancelled);
        assert_eq!(kinds(&c), ["invoice.updated", "invoice.cancelled"]);
        let partial = transition(&inv, chain(1, vec![out("a", 600, false, Some(1))]), t(T0))
            .unwrap()
            .invoice;
        assert!(
            transition(&partial, Input::Cancel { comment: None }, t(T0)).is_err(),
            "paid invoices cannot be cancelled"
        );
        assert!(
            transition(
                &partial,
                Input::AcceptUnderpayment {
                    sats: Amount::from_sat(500)
                },
                t(T0)
            )
            .is_err(),
            "must equal what was paid"
        );
        let c = transition(
            &partial,
            Input::AcceptUnderpayment {
                sats: Amount::from_sat(600),
            },
            t(T0),
        )
        .unwrap();
        assert_eq!(c.invoice.status, Status::Completed);
        assert!(c.invoice.has_flag(Flag::UnderpaymentAccepted));
        let c = transition(
            &inv,
            Input::Mark {
                status: Status::Completed,
                comment: None,
            },
            t(T0),
        )
        .unwrap();
        assert_eq!(c.invoice.status, Status::Completed);
        assert!(c.invoice.has_flag(Flag::ManuallyMarked));
        let marked = c.invoice;
        let c = transition(&marked, chain(1, vec![out("a", 1, false, None)]), t(T0)).unwrap();
        assert_eq!(
            c.invoice.status,
            Status::Completed,
            "a manual mark is final"
        );
        assert!(transition(
            &marked,
            Input::Mark {
                status: Status::Invalid,
                comment: None
            },
            t(T0)
        )
        .is_err());
    }

    #[test]
    fn refunds() {
        let inv = invoice(1000, SpeedPolicy::OneConf);
        let paid = transition(&inv, chain(1, vec![out("a", 1000, false, Some(1))]), t(T0))
            .unwrap()
            .invoice;
        let refund = Refund {
            id: "ref_1".into(),
            address: "bcrt1qx".into(),
            amount_sats: Amount::from_sat(1000),
            status: RefundStatus::Requested,
            txid: None,
            created_at: t(T0).into(),
            sent_at: None,
        };
        let too_much = Refund {
            amount_sats: Amount::from_sat(1001),
            ..refund.clone()
        };
        assert!(transition(&paid, Input::RequestRefund(too_much), t(T0)).is_err());
        let requested = transition(&paid, Input::RequestRefund(refund), t(T0))
            .unwrap()
            .invoice;
        assert_eq!(requested.status, Status::Completed);
        assert!(next_check(&requested, t(T0)).is_some());
        let view = ChainView {
            tip: 1,
            outputs: vec![out("a", 1000, false, Some(1))],
            refunds_sent: vec![("ref_1".into(), "r".into())],
            ..Default::default()
        };
        let c = transition(&requested, Input::Chain(view), t(T0)).unwrap();
        assert_eq!(c.invoice.status, Status::Refunded);
        assert_eq!(kinds(&c), ["payment.refunded", "invoice.updated"]);
    }

    #[test]
    fn watching_stops_when_nothing_can_change() {
        let inv = invoice(1000, SpeedPolicy::OneConf);
        assert!(next_check(&inv, t(T0)).is_some());
        let done = transition(&inv, chain(10, vec![out("a", 1000, false, Some(5))]), t(T0))
            .unwrap()
            .invoice;
        assert_eq!(done.payments[0].confirmations, 6);
        assert!(
            next_check(&done, t("2026-01-01T02:00:00Z")).is_none(),
            "deeply confirmed and monitoring over"
        );
        let expired = transition(&inv, Input::Tick, t("2026-01-01T00:20:00Z"))
            .unwrap()
            .invoice;
        assert!(
            next_check(&expired, t("2026-01-01T00:20:00Z")).is_some(),
            "watched for late payments"
        );
        assert!(next_check(&expired, t("2026-01-01T01:20:00Z")).is_none());
    }

    #[test]
    fn an_unreadable_expiry_is_an_error_not_now() {
        // An invoice cannot hold an unreadable expiry: the stored item
        // fails to read, so nothing is decided on a guess.
        let inv = invoice(10_000, SpeedPolicy::OneConf);
        let key = crate::schema::invoice(&inv.id);
        let mut item = crate::records::to_item(&inv, &key, &[]);
        item.insert("expires_at".into(), serde_json::json!("soon"));
        let err = crate::records::record::<Invoice>(item).unwrap_err();
        assert!(err.reason.contains("soon"), "{err}");
        assert!(err.key.contains(&inv.id), "{err}");
    }
}
