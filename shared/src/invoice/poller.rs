//! The chain poller (scheduled every minute on AWS, every few seconds in
//! satsgate-local). It reads only the watched invoices that are due (the
//! sparse `WATCH` index), a page at a time, asks the chain for each address with bounded
//! concurrency, the tip once per network, and applies what it saw through
//! the lifecycle function with an optimistic version check.

use super::lifecycle::{next_check, transition, ChainView, Input, SeenOutput};
use super::repo::{invoice_item, save_change};
use super::{Invoice, PaymentStatus, RefundStatus};
use crate::app::App;
use crate::chain::{Chain, ChainError};
use crate::clock::rfc3339;
use crate::network::Network;
use crate::records::from_item;
use crate::schema;
use crate::table::{s, Cond, Index, Item, Query, SortKey, TableError, TxOp};
use futures::StreamExt;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use time::OffsetDateTime;

/// Invoices checked at once.
pub const CONCURRENCY: usize = 16;
/// At most this many invoices per run (the rest wait for the next run).
pub const MAX_PER_RUN: usize = 20_000;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PollReport {
    pub due: usize,
    pub checked: usize,
    pub changed: usize,
    pub errors: usize,
}

/// Due invoices read per page.
const PAGE: usize = 200;

/// One run of the chain poller: due invoices a page at a time through the
/// `WATCH` index (a page is checked before the next is read, so memory and
/// any one read stay small, and requests never wait for the whole run).
pub async fn poll_chain(app: &App) -> Result<PollReport, String> {
    let now = app.now();
    let mut report = PollReport::default();
    let mut tips: BTreeMap<Network, Option<u32>> = BTreeMap::new();
    let mut cursor = None;
    loop {
        let page = app
            .table
            .query(
                Query::index(Index::Gsi2, schema::WATCH)
                    .sk(SortKey::Lt(format!("{}~", rfc3339(now))))
                    .limit(PAGE.min(MAX_PER_RUN - report.due))
                    .cursor(cursor),
            )
            .await
            .map_err(|e| e.to_string())?;
        report.due += page.items.len();
        check_page(app, page.items, &mut tips, &mut report).await;
        cursor = page.next_cursor;
        if cursor.is_none() || report.due >= MAX_PER_RUN {
            return Ok(report);
        }
    }
}

/// Check one page of due invoices, asking each network's tip once per run.
async fn check_page(
    app: &App,
    items: Vec<Item>,
    tips: &mut BTreeMap<Network, Option<u32>>,
    report: &mut PollReport,
) {
    let mut by_network: BTreeMap<Network, Vec<(Invoice, Option<String>)>> = BTreeMap::new();
    for item in items {
        // Only the watch key is needed of the item once it is parsed.
        let watch = s(&item, schema::GSI2_SK).map(str::to_string);
        match from_item::<Invoice>(item) {
            Ok(inv) => by_network
                .entry(inv.network)
                .or_default()
                .push((inv, watch)),
            Err(_) => report.errors += 1,
        }
    }
    for (network, invoices) in by_network {
        let chain = app.chain(network).cloned();
        let tip = match tips.get(&network) {
            Some(tip) => *tip,
            None => {
                let tip = match &chain {
                    Some(c) => match c.tip_height().await {
                        Ok(t) => Some(t),
                        Err(e) => {
                            tracing::warn!(%network, error = %e, "chain tip unavailable; only expiry is checked this run");
                            None
                        }
                    },
                    None => None,
                };
                tips.insert(network, tip);
                tip
            }
        };
        let results: Vec<Result<bool, String>> = futures::stream::iter(invoices)
            .map(|(inv, watch)| {
                let chain = chain.clone().filter(|_| tip.is_some());
                async move {
                    let r =
                        check_invoice(app, &inv, watch.as_deref(), chain, tip.unwrap_or(0)).await;
                    // The chain and table answers are often ready at once, so
                    // a whole page could run without yielding: let requests
                    // on this worker thread go first after each invoice.
                    tokio::task::yield_now().await;
                    r
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for r in results {
            report.checked += 1;
            match r {
                Ok(true) => report.changed += 1,
                Ok(false) => {}
                Err(e) => {
                    report.errors += 1;
                    tracing::warn!(error = %e, "invoice check failed");
                }
            }
        }
    }
}

/// Check one invoice at once, whatever its next check time (the sandbox
/// uses this after paying an invoice, so the effect is visible at once).
pub async fn check_now(app: &App, invoice_id: &str) -> Result<bool, String> {
    let Some(item) = app
        .table
        .get(&schema::invoice(invoice_id))
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(false);
    };
    let watch = s(&item, schema::GSI2_SK).map(str::to_string);
    let inv: Invoice = from_item(item).map_err(|e| e.to_string())?;
    let chain = app.chain(inv.network).cloned();
    let tip = match &chain {
        Some(c) => Some(c.tip_height().await.map_err(|e| e.to_string())?),
        None => None,
    };
    check_invoice(
        app,
        &inv,
        watch.as_deref(),
        chain.filter(|_| tip.is_some()),
        tip.unwrap_or(0),
    )
    .await
}

/// What the chain says about this invoice.
async fn observe(chain: &dyn Chain, inv: &Invoice, tip: u32) -> Result<ChainView, ChainError> {
    let mut view = ChainView {
        tip,
        ..Default::default()
    };
    let Some(address) = &inv.address else {
        return Ok(view);
    };
    let txs = chain.address_txs(address).await?;
    let mut listed = HashSet::new();
    for tx in &txs {
        let txid = tx.txid.to_string();
        listed.insert(txid.clone());
        for o in tx
            .outputs
            .iter()
            .filter(|o| o.address.as_deref() == Some(address.as_str()))
        {
            view.outputs.push(SeenOutput {
                txid: txid.clone(),
                vout: o.vout,
                amount_sats: o.value.to_sat(),
                rbf: tx.rbf,
                block: match (
                    tx.status.confirmed,
                    tx.status.block_height,
                    tx.status.block_hash,
                ) {
                    (true, Some(h), Some(hash)) => Some((h, hash.to_string())),
                    _ => None,
                },
            });
        }
    }
    // A fixed address may have paid other requests: keep what is this one's.
    super::fixed::attribute(inv, &mut view.outputs);
    // A recorded payment the address no longer lists: ask for the tx itself.
    for p in inv
        .payments
        .iter()
        .filter(|p| p.status != PaymentStatus::Replaced && !listed.contains(&p.txid))
    {
        let txid = p
            .txid
            .parse()
            .map_err(|_| ChainError::Parse(format!("stored txid {}", p.txid)))?;
        if chain.tx(&txid).await?.is_none() {
            view.gone.insert(p.txid.clone());
        }
    }
    for r in inv
        .refunds
        .iter()
        .filter(|r| r.status == RefundStatus::Requested)
    {
        let refund_txs = chain.address_txs(&r.address).await?;
        let paid = refund_txs.iter().find(|tx| {
            tx.outputs.iter().any(|o| {
                o.address.as_deref() == Some(r.address.as_str()) && o.value >= r.amount_sats
            })
        });
        if let Some(tx) = paid {
            view.refunds_sent.push((r.id.clone(), tx.txid.to_string()));
        }
    }
    Ok(view)
}

/// Check one invoice; Ok(true) when it changed.
async fn check_invoice(
    app: &App,
    inv: &Invoice,
    watch: Option<&str>,
    chain: Option<Arc<dyn Chain>>,
    tip: u32,
) -> Result<bool, String> {
    let mut current = inv.clone();
    for _ in 0..4 {
        let now = app.now();
        let input = match &chain {
            Some(c) => Input::Chain(
                observe(&**c, &current, tip)
                    .await
                    .map_err(|e| format!("{}: {e}", current.id))?,
            ),
            None => Input::Tick,
        };
        let change = transition(&current, input, now).map_err(|e| e.to_string())?;
        if change.changed {
            if save_change(app, &current, &change, now)
                .await
                .map_err(|e| e.to_string())?
            {
                return Ok(true);
            }
            // Someone else wrote it: reload and decide again.
            match app
                .table
                .get(&schema::invoice(&current.id))
                .await
                .map_err(|e| e.to_string())?
            {
                Some(it) => current = from_item(it).map_err(|e| e.to_string())?,
                None => return Ok(false),
            }
            continue;
        }
        reschedule(app, &current, watch, now)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(false);
    }
    Err(format!("{}: kept changing under the poller", inv.id))
}

/// Move an unchanged invoice's watch key (`watch`: its stored `gsi2sk`)
/// when it should back off or stop.
async fn reschedule(
    app: &App,
    inv: &Invoice,
    watch: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), TableError> {
    let wanted = next_check(inv, now);
    let due_now = wanted.is_some_and(|t| t <= now);
    if due_now {
        return Ok(()); // stays due; no write needed
    }
    let fresh = invoice_item(inv, now);
    if s(&fresh, schema::GSI2_SK) == watch {
        return Ok(());
    }
    app.table
        .transact(vec![TxOp::Put {
            item: fresh,
            cond: Some(Cond::eq("version", inv.version)),
        }])
        .await
        .or_else(|e| {
            if e.is_condition_failed() {
                Ok(())
            } else {
                Err(e)
            }
        })
}
