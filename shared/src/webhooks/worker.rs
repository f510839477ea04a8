//! satsgate-local's stand-ins for DynamoDB Streams + `events-fanout` and for
//! the SQS trigger + `webhook-dispatcher`: two loops over the same library
//! functions the Lambdas call.
//!
//! - `run_fanout`: sweeps the OUTBOX index at start (events written before a
//!   crash or stop), then fans out each event item from the table's change
//!   feed as it is committed (this process's commits and other processes'
//!   on the same file alike), and sweeps again every `sweep_every`: with a
//!   feed, only events older than `FEED_GRACE` (ones the feed missed: a
//!   failed fan-out, a lagging feed), so the sweep does not repeat the
//!   feed's work; without one (e.g. DynamoDB), every event. One task, so
//!   events are fanned out one at a time in commit order.
//! - `run_dispatcher`: receives batches from `app.queue` and hands each
//!   message to the worker of its target (endpoint or invoice URL): one
//!   target's messages are sent one at a time in queue order, targets in
//!   parallel.

use super::dispatcher::{process_and_settle, target_of, Ack};
use super::fanout::{fan_out_item, sweep_outbox};
use crate::app::App;
use crate::events::{Event, OUTBOX};
use crate::queue::{Message, MAX_BATCH};
use crate::schema;
use crate::table::{s, Index};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// How long a received message stays hidden while local workers hold it
/// (a message held when the process died is retried this long after).
pub const LOCAL_VISIBILITY: Duration = Duration::from_secs(60);
/// Most messages held by local workers at once.
const MAX_IN_FLIGHT: usize = 200;
/// With a change feed, the periodic sweep leaves events younger than this
/// to the feed (which delivers within its 100 ms poll of other processes'
/// commits, and at once for this process's).
pub const FEED_GRACE: Duration = Duration::from_secs(5);

/// The local fan-out loop (never returns; abort the task to stop it).
pub async fn run_fanout(app: Arc<App>, sweep_every: Duration) {
    // Only items in the outbox: the engine need not read the others.
    let mut feed = app.table.changes_in(Index::Gsi2, OUTBOX);
    let mut recent = Recent::new(4096);
    if let Err(e) = sweep_outbox(&app, None).await {
        tracing::warn!(error = %e, "outbox sweep at start failed");
    }
    let mut tick = tokio::time::interval(sweep_every.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        let next = async {
            match feed.as_mut() {
                Some(rx) => Some(rx.recv().await),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            got = next => match got {
                Some(Ok(item)) => {
                    if !Event::is_event_item(&item) || s(&item, schema::GSI2_PK) != Some(OUTBOX) {
                        continue;
                    }
                    let id = s(&item, schema::SK).unwrap_or_default().to_string();
                    if recent.contains(&id) {
                        continue;
                    }
                    match fan_out_item(&app, &item).await {
                        Ok(_) => recent.insert(id),
                        Err(e) => tracing::warn!(error = %e, event = %id, "fan-out failed; the next sweep retries"),
                    }
                }
                Some(Err(RecvError::Lagged(n))) => {
                    tracing::warn!(missed = n, "change feed lagged; sweeping the outbox");
                    if let Err(e) = sweep_outbox(&app, None).await {
                        tracing::warn!(error = %e, "outbox sweep failed");
                    }
                }
                Some(Err(RecvError::Closed)) | None => feed = None,
            },
            _ = tick.tick() => {
                let min_age = feed.is_some().then_some(FEED_GRACE);
                if let Err(e) = sweep_outbox(&app, min_age).await {
                    tracing::warn!(error = %e, "outbox sweep failed");
                }
            }
        }
    }
}

/// Event ids fanned out lately (the feed may repeat what a sweep did).
struct Recent {
    order: VecDeque<String>,
    set: HashSet<String>,
    cap: usize,
}

impl Recent {
    fn new(cap: usize) -> Recent {
        Recent {
            order: VecDeque::new(),
            set: HashSet::new(),
            cap,
        }
    }
    fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }
    fn insert(&mut self, id: String) {
        if self.set.insert(id.clone()) {
            self.order.push_back(id);
            if self.order.len() > self.cap {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }
}

/// The local dispatcher loop (never returns; abort the task to stop it).
/// `poll` is the longest wait for new messages between receives.
pub async fn run_dispatcher(app: Arc<App>, poll: Duration) {
    let mut workers = Workers::new(app.clone());
    loop {
        while workers.tasks.try_join_next().is_some() {}
        if workers.in_flight.load(Ordering::SeqCst) >= MAX_IN_FLIGHT {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let started = tokio::time::Instant::now();
        match app.queue.receive(MAX_BATCH, LOCAL_VISIBILITY, poll).await {
            Ok(msgs) if !msgs.is_empty() => {
                tracing::debug!(
                    n = msgs.len(),
                    queue = app.queue.kind(),
                    "received webhook messages"
                );
                for m in msgs {
                    workers.submit(m);
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, queue = app.queue.kind(), "receiving webhook messages")
            }
        }
        // Queues that do not wait (SQS short polls below 1 s) pace here.
        let spent = started.elapsed();
        if spent < poll {
            tokio::time::sleep(poll - spent).await;
        }
    }
}

type WorkerTx = tokio::sync::mpsc::UnboundedSender<Message>;

/// One task per busy target, fed through a channel in receive order. The
/// tasks live in a `JoinSet`, so stopping the loop stops them too.
struct Workers {
    app: Arc<App>,
    map: Arc<Mutex<HashMap<String, WorkerTx>>>,
    in_flight: Arc<AtomicUsize>,
    tasks: tokio::task::JoinSet<()>,
}

impl Workers {
    fn new(app: Arc<App>) -> Workers {
        Workers {
            app,
            map: Arc::new(Mutex::new(HashMap::new())),
            in_flight: Arc::new(AtomicUsize::new(0)),
            tasks: tokio::task::JoinSet::new(),
        }
    }

    fn submit(&mut self, m: Message) {
        let target = target_of(&m);
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let mut guard = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let m = match guard.get(&target) {
            Some(tx) => match tx.send(m) {
                Ok(()) => return,
                Err(back) => back.0,
            },
            None => m,
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Message>();
        let _ = tx.send(m);
        guard.insert(target.clone(), tx);
        drop(guard);
        let (app, map, in_flight) = (self.app.clone(), self.map.clone(), self.in_flight.clone());
        self.tasks.spawn(async move {
            loop {
                match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                    Ok(Some(m)) => {
                        process_and_settle(&app, &m, Ack::Delete).await;
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                    }
                    Ok(None) => break,
                    Err(_) => {
                        // Idle: leave, unless a message arrived meanwhile
                        // (senders hold the map lock, so this is exact).
                        let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
                        if rx.is_empty() {
                            map.remove(&target);
                            break;
                        }
                    }
                }
            }
        });
    }
}
