//! The embedded engine: one SQLite database (`satsgate.db` in the data
//! directory, or in memory for tests and `--memory`).
//!
//! - Items live in one table keyed by `(pk, sk)`, each stored as its JSON
//!   text (numbers stay exact: serde_json `arbitrary_precision`). `ttl` and
//!   the four index attributes are extracted into columns; the two sparse
//!   indexes are partial SQL indexes over them.
//! - Every write is one SQL transaction begun with `BEGIN IMMEDIATE`:
//!   conditions are checked and writes land while the database's write lock
//!   is held, so a conditional write or a transaction is atomic against
//!   this process and any other process on the same file.
//! - WAL journal; `synchronous=NORMAL` by default, `FULL` with
//!   `SATSGATE_FSYNC=1` (see README "Storage engines").
//! - Every put and update also appends its key to the `changes` table in the
//!   same transaction. `changes()` tails that table (woken at once by this
//!   process's commits, and every 100 ms for other processes'), so the feed
//!   comes from what was committed, not from one process's memory.
//!   `changes_in(index, pk)` tails it for one index partition (the outbox):
//!   other changes are skipped in SQL, their items neither read nor parsed.
//! - Expired items (`ttl` in the past) are hidden from every read and
//!   condition, as on DynamoDB, and swept from the file about once a minute.
//! - A data directory still holding the old engine's `table.log` is imported
//!   on open, in one transaction, and the log is renamed `table.log.imported`.
//!
//! rusqlite is synchronous: writes (which may wait for the file's write lock
//! or an fsync) go through a channel to one writer thread per table, which
//! owns the write connection and commits the writes queued at that moment
//! in one transaction, each in its own savepoint (see `write_loop`); reads
//! run inline on a free connection of a small reader pool (WAL readers
//! never wait for writers) and fall back to the blocking pool when every
//! reader is busy.

use super::*;
use crate::clock::{Clock, SystemClock};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering as Atomic};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, TryLockError};
use std::time::Duration;
use tokio::sync::{broadcast, oneshot, watch};

/// The database file in a data directory.
pub const DB_FILE: &str = "satsgate.db";
/// The old engine's log, imported on first open.
pub const OLD_LOG: &str = "table.log";
/// What the imported log is renamed to.
pub const OLD_LOG_IMPORTED: &str = "table.log.imported";

/// Reader connections of a file-backed table.
const READERS: usize = 4;
/// Rows of `changes` kept for slow feed readers (older ones are pruned).
const FEED_KEEP: i64 = 10_000;
/// How often the feed looks for other processes' commits.
const FEED_POLL: Duration = Duration::from_millis(100);
/// Rows the feed reads at once.
const FEED_BATCH: i64 = 500;
/// How long a write waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Seconds between sweeps of expired items.
const SWEEP_EVERY: i64 = 60;
/// Most queued writes the writer thread commits in one transaction.
const WRITE_BATCH: usize = 32;
/// Prepared statements kept per connection (queries build a few dozen
/// shapes; rusqlite's default of 16 would evict and re-parse them).
const STATEMENT_CACHE: usize = 64;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk     TEXT NOT NULL,
    sk     TEXT NOT NULL,
    item   TEXT NOT NULL,
    ttl    INTEGER,
    gsi1pk TEXT,
    gsi1sk TEXT,
    gsi2pk TEXT,
    gsi2sk TEXT,
    PRIMARY KEY (pk, sk)
);
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk)
    WHERE gsi1pk IS NOT NULL AND gsi1sk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_gsi2 ON items (gsi2pk, gsi2sk, pk, sk)
    WHERE gsi2pk IS NOT NULL AND gsi2sk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_ttl ON items (ttl) WHERE ttl IS NOT NULL;
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY,
    pk  TEXT NOT NULL,
    sk  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

impl From<rusqlite::Error> for TableError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                TableError::Busy
            }
            _ => TableError::Backend(format!("sqlite: {e}")),
        }
    }
}

/// The SQLite `Table`.
pub struct SqliteTable {
    inner: Arc<Inner>,
}

/// A feed's filter: None for every change, else the index partition its
/// items must be in.
type FeedFilter = Option<(Index, String)>;

struct Inner {
    writer: Arc<Writer>,
    /// Writes for the writer thread; it stops when this is dropped.
    jobs: mpsc::Sender<Box<dyn WriteJob>>,
    /// Empty in memory: the writer connection serves reads too.
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    clock: Arc<dyn Clock>,
    path: Option<PathBuf>,
    feeds: Mutex<HashMap<FeedFilter, broadcast::Sender<Item>>>,
}

/// The write connection, shared by the writer thread (the only one that
/// writes through it) and, in memory, the readers.
struct Writer {
    conn: Mutex<Connection>,
    /// Counts this process's commits (the feed tailers wait on it).
    committed: watch::Sender<u64>,
    next_sweep: AtomicI64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn try_lock<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match m.try_lock() {
        Ok(g) => Some(g),
        Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

fn connect(path: &Path, fsync: bool) -> rusqlite::Result<Connection> {
    let c = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    c.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = c.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "journal_mode is `{mode}`, WAL is needed"
        )));
    }
    c.pragma_update(None, "synchronous", if fsync { "FULL" } else { "NORMAL" })?;
    c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(c)
}

impl SqliteTable {
    /// A table that lives only in memory (tests, `--memory`).
    pub fn in_memory() -> Self {
        let c = Connection::open_in_memory().expect("an in-memory SQLite database");
        c.execute_batch(SCHEMA).expect("schema in memory");
        c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Self::from_parts(c, Vec::new(), None)
    }

    /// Open (or create) the table in `dir` (`dir/satsgate.db`), importing
    /// the old engine's `table.log` if the directory still has one; commits
    /// survive a killed process (WAL), not a power loss.
    pub fn open(dir: &Path) -> Result<Self, String> {
        Self::open_with(dir, false)
    }

    /// [`open`](Self::open), and with `fsync` the WAL is synced on every
    /// commit (`synchronous=FULL`: commits survive a power loss too).
    pub fn open_with(dir: &Path, fsync: bool) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let path = dir.join(DB_FILE);
        let opened = |what: &str, e: rusqlite::Error| format!("{what} {}: {e}", path.display());
        let mut writer = connect(&path, fsync).map_err(|e| opened("opening", e))?;
        writer
            .execute_batch(SCHEMA)
            .map_err(|e| opened("creating tables in", e))?;
        import_old_log(&mut writer, dir)?;
        let readers = (0..READERS)
            .map(|_| connect(&path, fsync).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| opened("opening", e))?;
        Ok(Self::from_parts(writer, readers, Some(path)))
    }

    fn from_parts(
        writer: Connection,
        readers: Vec<Mutex<Connection>>,
        path: Option<PathBuf>,
    ) -> Self {
        let writer = Arc::new(Writer {
            conn: Mutex::new(writer),
            committed: watch::channel(0).0,
            next_sweep: AtomicI64::new(0),
        });
        let (jobs, queue) = mpsc::channel();
        let thread_writer = writer.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_loop(&thread_writer, queue))
            .expect("a thread for SQLite writes");
        SqliteTable {
            inner: Arc::new(Inner {
                writer,
                jobs,
                readers,
                next_reader: AtomicUsize::new(0),
                clock: Arc::new(SystemClock),
                path,
                feeds: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Use this clock for TTL expiry (call before sharing the table).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("with_clock before the table is shared")
            .clock = clock;
        self
    }

    /// The database file, if file-backed.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    async fn read<T, F>(&self, f: F) -> Result<T, TableError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, i64) -> Result<T, TableError> + Send + 'static,
    {
        read(&self.inner, f).await
    }

    /// Run `f` in a write transaction on the writer thread; it commits when
    /// `f` returns Ok and rolls back otherwise (see `write_loop`).
    async fn write<T, F>(&self, f: F) -> Result<T, TableError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, i64) -> Result<T, TableError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Pending {
            f: Some(f),
            now: self.inner.now(),
            out: None,
            reply,
        };
        let stopped = || TableError::Backend("sqlite writer thread stopped".into());
        self.inner.jobs.send(Box::new(job)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    fn feed(&self, filter: FeedFilter) -> Option<broadcast::Receiver<Item>> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let mut feeds = lock(&self.inner.feeds);
        if let Some(tx) = feeds.get(&filter) {
            return Some(tx.subscribe());
        }
        let after = match self.inner.last_change() {
            Ok(seq) => seq,
            Err(e) => {
                tracing::warn!(error = %e, "no change feed");
                return None;
            }
        };
        let (tx, rx) = broadcast::channel(4096);
        feeds.insert(filter.clone(), tx.clone());
        runtime.spawn(tail(self.inner.clone(), filter, tx, after));
        Some(rx)
    }
}

/// Run `f` on a reader connection: inline on a free one, else on the
/// blocking pool.
async fn read<T, F>(inner: &Arc<Inner>, f: F) -> Result<T, TableError>
where
    T: Send + 'static,
    F: FnOnce(&Connection, i64) -> Result<T, TableError> + Send + 'static,
{
    let now = inner.now();
    let pool = inner.pool();
    let start = inner.next_reader.fetch_add(1, Atomic::Relaxed);
    for i in 0..pool.len() {
        if let Some(c) = try_lock(&pool[(start + i) % pool.len()]) {
            return f(&c, now);
        }
    }
    let inner = inner.clone();
    tokio::task::spawn_blocking(move || {
        let pool = inner.pool();
        let c = lock(&pool[start % pool.len()]);
        f(&c, now)
    })
    .await
    .map_err(|e| TableError::Backend(format!("sqlite reader: {e}")))?
}

impl Inner {
    fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    fn pool(&self) -> &[Mutex<Connection>] {
        if self.readers.is_empty() {
            std::slice::from_ref(&self.writer.conn)
        } else {
            &self.readers
        }
    }

    fn last_change(&self) -> Result<i64, TableError> {
        let c = lock(&self.pool()[0]);
        Ok(
            c.query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |r| {
                r.get(0)
            })?,
        )
    }
}

/// A write waiting for the writer thread, with its caller's answer.
trait WriteJob: Send {
    /// The caller's clock reading (expiry is judged at it).
    fn now(&self) -> i64;
    /// Run the write inside the open transaction; true if it succeeded
    /// (its writes are to be kept). The outcome waits for `finish`.
    fn run(&mut self, c: &Connection) -> bool;
    /// Answer the caller, once the transaction's fate is known.
    fn finish(self: Box<Self>, committed: Result<(), TableError>);
}

struct Pending<T, F> {
    f: Option<F>,
    now: i64,
    out: Option<Result<T, TableError>>,
    reply: oneshot::Sender<Result<T, TableError>>,
}

impl<T, F> WriteJob for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Connection, i64) -> Result<T, TableError> + Send,
{
    fn now(&self) -> i64 {
        self.now
    }

    fn run(&mut self, c: &Connection) -> bool {
        let Some(f) = self.f.take() else {
            return false;
        };
        let now = self.now;
        // A panicking write fails alone (its writes are rolled back) and
        // the thread goes on serving the others.
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(c, now)))
            .unwrap_or_else(|_| Err(TableError::Backend("sqlite write panicked".into())));
        let ok = out.is_ok();
        self.out = Some(out);
        ok
    }

    fn finish(self: Box<Self>, committed: Result<(), TableError>) {
        let out = match (self.out, committed) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (_, Err(e)) => Err(e),
            (None, Ok(())) => Err(TableError::Backend("sqlite write was not run".into())),
        };
        let _ = self.reply.send(out);
    }
}

fn exec(c: &Connection, sql: &str) -> Result<(), TableError> {
    // Cached statements: rusqlite's `Transaction` would parse `BEGIN
    // IMMEDIATE` and `COMMIT` again for every write.
    c.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// The writer thread: takes the queued writes (up to `WRITE_BATCH`) and
/// runs them in one `BEGIN IMMEDIATE` transaction, each inside its own
/// savepoint, so a write whose condition fails (or that fails otherwise) is
/// rolled back alone and the others keep theirs; one `COMMIT` (one WAL
/// append, one fsync with `SATSGATE_FSYNC=1`) then makes them durable
/// together, and only after it is each caller answered. If the database
/// itself fails the transaction (the commit, or an I/O error that rolls it
/// all back), every write of the batch fails and none is applied, as if
/// each caller's own commit had failed. Ends when the table is dropped.
fn write_loop(w: &Writer, queue: mpsc::Receiver<Box<dyn WriteJob>>) {
    let mut batch: Vec<Box<dyn WriteJob>> = Vec::with_capacity(WRITE_BATCH);
    while let Ok(first) = queue.recv() {
        batch.push(first);
        while batch.len() < WRITE_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let c = lock(&w.conn);
        let (committed, wrote) = match write_batch(&c, &mut batch) {
            Ok(wrote) => (Ok(()), wrote),
            Err(e) => {
                if !c.is_autocommit() {
                    if let Err(r) = exec(&c, "ROLLBACK") {
                        tracing::error!(error = %r, "rolling back a failed write");
                    }
                }
                (Err(e), false)
            }
        };
        let now = batch.iter().map(|j| j.now()).max().unwrap_or(0);
        if wrote {
            w.committed.send_modify(|n| *n += 1);
        }
        for job in batch.drain(..) {
            job.finish(committed.clone());
        }
        if wrote && now >= w.next_sweep.load(Atomic::Relaxed) {
            w.next_sweep.store(now + SWEEP_EVERY, Atomic::Relaxed);
            sweep_expired(&c, now);
        }
    }
}

/// Run `batch` in one transaction (see `write_loop`); whether anything was
/// committed.
fn write_batch(c: &Connection, batch: &mut [Box<dyn WriteJob>]) -> Result<bool, TableError> {
    if !c.is_autocommit() {
        // A transaction left open by an earlier failure.
        exec(c, "ROLLBACK")?;
    }
    exec(c, "BEGIN IMMEDIATE")?;
    // One write needs no savepoint: its failure rolls back the transaction.
    let savepoints = batch.len() > 1;
    let mut kept = 0;
    for job in batch.iter_mut() {
        if savepoints {
            exec(c, "SAVEPOINT w")?;
        }
        let ok = job.run(c);
        if c.is_autocommit() {
            return Err(TableError::Backend(
                "sqlite rolled back the write transaction".into(),
            ));
        }
        if savepoints {
            if !ok {
                exec(c, "ROLLBACK TO w")?;
            }
            exec(c, "RELEASE w")?;
        }
        kept += usize::from(ok);
    }
    if kept == 0 {
        exec(c, "ROLLBACK")?;
        return Ok(false);
    }
    exec(c, "COMMIT")?;
    Ok(true)
}

/// Committed changes after `seq`: (seq, the item as it is now; None if it
/// was deleted or expired since, or is not in the filter's partition).
fn changes_after(
    c: &Connection,
    seq: i64,
    now: i64,
    filter: &FeedFilter,
) -> Result<Vec<(i64, Option<Item>)>, TableError> {
    let rows = |stmt: &mut rusqlite::CachedStatement<'_>, args: &[&dyn rusqlite::ToSql]| {
        let mut out = Vec::new();
        let rows = stmt.query_map(args, |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
        })?;
        for row in rows {
            let (seq, text) = row?;
            out.push((seq, text.as_deref().map(parse_item).transpose()?));
        }
        Ok::<_, TableError>(out)
    };
    match filter {
        None => rows(
            &mut c.prepare_cached(
                "SELECT c.seq, i.item FROM changes c
                 LEFT JOIN items i ON i.pk = c.pk AND i.sk = c.sk AND (i.ttl IS NULL OR i.ttl > ?2)
                 WHERE c.seq > ?1 ORDER BY c.seq LIMIT ?3",
            )?,
            params![seq, now, FEED_BATCH],
        ),
        // Rows outside the partition come back without their item, so they
        // are neither read nor parsed, and the feed still moves past them.
        Some((ix, pk)) => rows(
            &mut c.prepare_cached(&format!(
                "SELECT c.seq, i.item FROM changes c
                 LEFT JOIN items i ON i.pk = c.pk AND i.sk = c.sk AND (i.ttl IS NULL OR i.ttl > ?2)
                     AND +i.{ipk} = ?4 AND +i.{isk} IS NOT NULL
                 WHERE c.seq > ?1 ORDER BY c.seq LIMIT ?3",
                ipk = ix.pk_attr(),
                isk = ix.sk_attr()
            ))?,
            params![seq, now, FEED_BATCH, pk],
        ),
    }
}

/// Delete up to 1000 expired items (they are already invisible).
fn sweep_expired(c: &Connection, now: i64) {
    let swept = c.execute(
        "DELETE FROM items WHERE rowid IN
         (SELECT rowid FROM items WHERE ttl IS NOT NULL AND ttl <= ?1 LIMIT 1000)",
        [now],
    );
    if let Err(e) = swept {
        tracing::debug!(error = %e, "sweeping expired items (retried later)");
    }
}

/// A feed: tail `changes` and broadcast each changed item (that passes
/// `filter`) until nobody listens any more.
async fn tail(inner: Arc<Inner>, filter: FeedFilter, tx: broadcast::Sender<Item>, mut after: i64) {
    let mut commits = inner.writer.committed.subscribe();
    loop {
        if tx.receiver_count() == 0 {
            let mut feeds = lock(&inner.feeds);
            if tx.receiver_count() == 0 {
                feeds.remove(&filter);
                return;
            }
        }
        let wanted = filter.clone();
        let got = read(&inner, move |c, now| changes_after(c, after, now, &wanted)).await;
        let mut full = false;
        match got {
            Ok(rows) => {
                full = rows.len() as i64 == FEED_BATCH;
                for (seq, item) in rows {
                    after = seq;
                    if let Some(item) = item {
                        let _ = tx.send(item);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading the change feed"),
        }
        if !full {
            tokio::select! {
                _ = commits.changed() => {}
                _ = tokio::time::sleep(FEED_POLL) => {}
            }
        }
    }
}

fn parse_item(text: &str) -> Result<Item, TableError> {
    serde_json::from_str(text).map_err(|e| TableError::Backend(format!("stored item: {e}")))
}

fn validate_key(key: &Key) -> Result<(), TableError> {
    if key.pk.is_empty() || key.sk.is_empty() {
        Err(TableError::Validation("pk and sk must be non-empty".into()))
    } else {
        Ok(())
    }
}

fn check(cond: Option<&Cond>, current: Option<&Item>, op: Option<usize>) -> Result<(), TableError> {
    match cond {
        Some(c) if !c.eval(current) => Err(TableError::ConditionFailed { op }),
        _ => Ok(()),
    }
}

/// The live item under `key` (None if absent or expired), and whether a row
/// exists at all (an expired one still does until swept).
fn current(c: &Connection, key: &Key, now: i64) -> Result<(Option<Item>, bool), TableError> {
    let row: Option<(String, Option<i64>)> = c
        .prepare_cached("SELECT item, ttl FROM items WHERE pk = ?1 AND sk = ?2")?
        .query_row(params![key.pk, key.sk], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match row {
        None => Ok((None, false)),
        Some((_, Some(ttl))) if ttl <= now => Ok((None, true)),
        Some((text, _)) => Ok((Some(parse_item(&text)?), true)),
    }
}

fn live(c: &Connection, key: &Key, now: i64) -> Result<Option<Item>, TableError> {
    let text: Option<String> = c
        .prepare_cached(
            "SELECT item FROM items WHERE pk = ?1 AND sk = ?2 AND (ttl IS NULL OR ttl > ?3)",
        )?
        .query_row(params![key.pk, key.sk, now], |r| r.get(0))
        .optional()?;
    text.as_deref().map(parse_item).transpose()
}

/// Write a whole item; with `feed`, record the change for the change feed.
fn store(c: &Connection, item: &Item, feed: bool) -> Result<(), TableError> {
    let key = Key::of(item)
        .ok_or_else(|| TableError::Validation("item needs string pk and sk".into()))?;
    let text = serde_json::to_string(item)
        .map_err(|e| TableError::Validation(format!("item is not JSON: {e}")))?;
    let attr = |a: &str| s(item, a);
    c.prepare_cached(
        "INSERT INTO items (pk, sk, item, ttl, gsi1pk, gsi1sk, gsi2pk, gsi2sk)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (pk, sk) DO UPDATE SET item = excluded.item, ttl = excluded.ttl,
             gsi1pk = excluded.gsi1pk, gsi1sk = excluded.gsi1sk,
             gsi2pk = excluded.gsi2pk, gsi2sk = excluded.gsi2sk",
    )?
    .execute(params![
        key.pk,
        key.sk,
        text,
        ttl_of(item),
        attr(Index::Gsi1.pk_attr()),
        attr(Index::Gsi1.sk_attr()),
        attr(Index::Gsi2.pk_attr()),
        attr(Index::Gsi2.sk_attr()),
    ])?;
    if feed {
        c.prepare_cached("INSERT INTO changes (pk, sk) VALUES (?1, ?2)")?
            .execute(params![key.pk, key.sk])?;
        let seq = c.last_insert_rowid();
        if seq % 1024 == 0 {
            c.prepare_cached("DELETE FROM changes WHERE seq <= ?1")?
                .execute([seq - FEED_KEEP])?;
        }
    }
    Ok(())
}

/// Apply `update` to the current item (or a new one) and store the result.
fn updated(
    c: &Connection,
    key: &Key,
    cur: Option<Item>,
    update: &Update,
) -> Result<Item, TableError> {
    let mut item = cur.unwrap_or_default();
    update.apply(key, &mut item)?;
    store(c, &item, true)?;
    Ok(item)
}

fn remove(c: &Connection, key: &Key) -> Result<(), TableError> {
    c.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")?
        .execute(params![key.pk, key.sk])?;
    Ok(())
}

/// The smallest string greater than every string that starts with `prefix`
/// (None if there is none): the last char that can grow, grown by one. UTF-8
/// byte order is code point order, so this bounds a prefix range exactly.
fn prefix_upper(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = last as u32 + 1;
        if (0xD800..=0xDFFF).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// `col <op> ?` clauses and their values for a sort-key condition.
fn sort_key_sql(col: &str, sk: &SortKey, sql: &mut String, args: &mut Vec<SqlValue>) {
    let mut clause = |op: &str, v: &str| {
        sql.push_str(&format!(" AND {col} {op} ?"));
        args.push(SqlValue::Text(v.to_string()));
    };
    match sk {
        SortKey::All => {}
        SortKey::Eq(v) => clause("=", v),
        SortKey::BeginsWith(p) => {
            clause(">=", p);
            if let Some(upper) = prefix_upper(p) {
                clause("<", &upper);
            }
        }
        SortKey::Between(a, b) => {
            clause(">=", a);
            clause("<=", b);
        }
        SortKey::Lt(v) => clause("<", v),
        SortKey::Le(v) => clause("<=", v),
        SortKey::Gt(v) => clause(">", v),
        SortKey::Ge(v) => clause(">=", v),
    }
}

fn run_query(
    c: &Connection,
    q: &Query,
    after: Option<&Item>,
    now: i64,
) -> Result<Page, TableError> {
    let limit = q.limit.max(1);
    let dir = if q.forward { "ASC" } else { "DESC" };
    let past = if q.forward { ">" } else { "<" };
    let mut args = vec![SqlValue::Text(q.pk.clone()), SqlValue::Integer(now)];
    let mut sql;
    let text = |item: &Item, a: &str| SqlValue::Text(s(item, a).unwrap_or_default().to_string());
    match q.index {
        None => {
            sql = "SELECT item FROM items WHERE pk = ?1 AND (ttl IS NULL OR ttl > ?2)".to_string();
            sort_key_sql("sk", &q.sk, &mut sql, &mut args);
            if let Some(c) = after {
                sql.push_str(&format!(" AND sk {past} ?"));
                args.push(text(c, SK));
            }
            sql.push_str(&format!(" ORDER BY sk {dir}"));
        }
        Some(ix) => {
            let (ipk, isk) = (ix.pk_attr(), ix.sk_attr());
            sql = format!(
                "SELECT item FROM items WHERE {ipk} = ?1 AND {isk} IS NOT NULL \
                 AND (ttl IS NULL OR ttl > ?2)"
            );
            sort_key_sql(isk, &q.sk, &mut sql, &mut args);
            if let Some(c) = after {
                sql.push_str(&format!(" AND ({isk}, pk, sk) {past} (?, ?, ?)"));
                args.extend([text(c, isk), text(c, PK), text(c, SK)]);
            }
            sql.push_str(&format!(" ORDER BY {isk} {dir}, pk {dir}, sk {dir}"));
        }
    }
    sql.push_str(" LIMIT ?");
    args.push(SqlValue::Integer(limit as i64 + 1));
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(0))?;
    let mut items = Vec::with_capacity(limit.min(128));
    let mut more = false;
    for row in rows {
        if items.len() == limit {
            more = true;
            break;
        }
        items.push(parse_item(&row?)?);
    }
    let next_cursor = if more {
        items.last().map(|i| encode_cursor(i, q.index))
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

#[async_trait]
impl Table for SqliteTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        validate_key(key)?;
        let key = key.clone();
        self.read(move |c, now| live(c, &key, now)).await
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, TableError> {
        if keys.len() > 100 {
            return Err(TableError::Validation(
                "at most 100 keys per get_many".into(),
            ));
        }
        keys.iter().try_for_each(validate_key)?;
        let keys = keys.to_vec();
        self.read(move |c, now| keys.iter().map(|k| live(c, k, now)).collect())
            .await
    }

    async fn put(&self, item: Item, cond: Option<Cond>) -> Result<(), TableError> {
        let key = Key::of(&item)
            .ok_or_else(|| TableError::Validation("item needs string pk and sk".into()))?;
        validate_key(&key)?;
        self.write(move |c, now| {
            if cond.is_some() {
                check(cond.as_ref(), current(c, &key, now)?.0.as_ref(), None)?;
            }
            store(c, &item, true)
        })
        .await
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        cond: Option<Cond>,
    ) -> Result<Item, TableError> {
        validate_key(key)?;
        let key = key.clone();
        self.write(move |c, now| {
            let (cur, _) = current(c, &key, now)?;
            check(cond.as_ref(), cur.as_ref(), None)?;
            updated(c, &key, cur, &update)
        })
        .await
    }

    async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<Option<Item>, TableError> {
        validate_key(key)?;
        let key = key.clone();
        self.write(move |c, now| {
            let (cur, exists) = current(c, &key, now)?;
            check(cond.as_ref(), cur.as_ref(), None)?;
            if exists {
                remove(c, &key)?;
            }
            Ok(cur)
        })
        .await
    }

    async fn query(&self, q: Query) -> Result<Page, TableError> {
        let after = q
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c, q.index))
            .transpose()?;
        self.read(move |c, now| run_query(c, &q, after.as_ref(), now))
            .await
    }

    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), TableError> {
        validate_tx(&ops)?;
        for op in &ops {
            validate_key(&op.key().expect("validated"))?;
        }
        self.write(move |c, now| {
            for (i, op) in ops.iter().enumerate() {
                let key = op.key().expect("validated");
                let (cur, exists) = current(c, &key, now)?;
                match op {
                    TxOp::Put { item, cond } => {
                        check(cond.as_ref(), cur.as_ref(), Some(i))?;
                        store(c, item, true)?;
                    }
                    TxOp::Update { update, cond, .. } => {
                        check(cond.as_ref(), cur.as_ref(), Some(i))?;
                        updated(c, &key, cur, update)?;
                    }
                    TxOp::Delete { cond, .. } => {
                        check(cond.as_ref(), cur.as_ref(), Some(i))?;
                        if exists {
                            remove(c, &key)?;
                        }
                    }
                    TxOp::Check { cond, .. } => check(Some(cond), cur.as_ref(), Some(i))?,
                }
            }
            Ok(())
        })
        .await
    }

    fn engine(&self) -> &'static str {
        "embedded"
    }

    /// Items as committed (by this process or another on the same file),
    /// read back from the `changes` table; each is the item's image when
    /// the feed reads it. Starts after the newest change at subscription.
    fn changes(&self) -> Option<broadcast::Receiver<Item>> {
        self.feed(None)
    }

    /// The feed of the items in `index` partition `pk` only: the others'
    /// changes are skipped in SQL, neither read nor parsed.
    fn changes_in(&self, index: Index, pk: &str) -> Option<broadcast::Receiver<Item>> {
        self.feed(Some((index, pk.to_string())))
    }
}

/// Import the old engine's `table.log` (one JSON array of `{"put": item}` /
/// `{"del": {"pk", "sk"}}` writes per commit; a torn last line is not a
/// commit) in one transaction, then rename it. A crash before the rename
/// is safe: the `meta` row says the import happened.
fn import_old_log(c: &mut Connection, dir: &Path) -> Result<(), String> {
    let log = dir.join(OLD_LOG);
    if !log.exists() {
        return Ok(());
    }
    let failed = |e: &dyn std::fmt::Display| format!("importing {}: {e}", log.display());
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| failed(&e))?;
    let done: Option<String> = tx
        .query_row(
            "SELECT value FROM meta WHERE name = 'imported_table_log'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| failed(&e))?;
    if done.is_none() {
        let reader = std::io::BufReader::new(std::fs::File::open(&log).map_err(|e| failed(&e))?);
        let (mut commits, mut torn) = (0usize, 0usize);
        for line in reader.lines() {
            let line = line.map_err(|e| failed(&e))?;
            let Ok(Value::Array(writes)) = serde_json::from_str::<Value>(&line) else {
                torn += 1;
                continue;
            };
            for w in &writes {
                old_log_write(&tx, w).map_err(|e| failed(&e))?;
            }
            commits += 1;
        }
        tx.execute(
            "INSERT INTO meta (name, value) VALUES ('imported_table_log', ?1)",
            [format!("{commits} commits")],
        )
        .map_err(|e| failed(&e))?;
        tx.commit().map_err(|e| failed(&e))?;
        tracing::info!(commits, skipped_lines = torn, from = %log.display(), "imported the old table log");
    }
    std::fs::rename(&log, dir.join(OLD_LOG_IMPORTED)).map_err(|e| failed(&e))?;
    Ok(())
}

/// Apply one write of an old log line.
fn old_log_write(c: &Connection, w: &Value) -> Result<(), TableError> {
    if let Some(Value::Object(item)) = w.get("put") {
        return store(c, item, false);
    }
    let key = w
        .get("del")
        .and_then(|d| Some(Key::new(d.get(PK)?.as_str()?, d.get(SK)?.as_str()?)));
    match key {
        Some(key) => remove(c, &key),
        None => Err(TableError::Validation(format!("unknown log write {w}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("satsgate-{name}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn item(v: Value) -> Item {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn prefix_upper_bounds_exactly() {
        assert_eq!(prefix_upper("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_upper(""), None);
        assert_eq!(prefix_upper("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper("\u{D7FF}").as_deref(), Some("\u{E000}"));
        for s in ["ab", "ab\u{10FFFF}\u{10FFFF}", "abz~", "ab\u{0}"] {
            assert!(s < "ac", "{s:?} starts with ab and sorts below the bound");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn on_disk_meets_the_contract_and_survives_reopen() {
        let dir = temp_dir("sqlite-contract");
        {
            let t = Arc::new(SqliteTable::open(&dir).unwrap());
            contract::run_all(t, "disk").await;
        }
        let t = SqliteTable::open(&dir).unwrap();
        let got = t.get(&Key::new("disk#occ", "doc")).await.unwrap().unwrap();
        assert_eq!(got["count"].as_i64(), Some(10), "state survives a reopen");
        assert!(t.get(&Key::new("disk#tx", "m0")).await.unwrap().is_none());
        let mode: String = lock(&t.inner.writer.conn)
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(t);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn index_queries_use_the_partial_indexes() {
        let t = SqliteTable::in_memory();
        let c = lock(&t.inner.writer.conn);
        let q = Query::index(Index::Gsi2, "WATCH").sk(SortKey::Lt("2030".into()));
        let mut args = vec![SqlValue::Text("WATCH".into()), SqlValue::Integer(0)];
        let mut sql = "EXPLAIN QUERY PLAN SELECT item FROM items WHERE gsi2pk = ?1 \
                       AND gsi2sk IS NOT NULL AND (ttl IS NULL OR ttl > ?2)"
            .to_string();
        sort_key_sql("gsi2sk", &q.sk, &mut sql, &mut args);
        sql.push_str(" ORDER BY gsi2sk ASC, pk ASC, sk ASC");
        let plan: Vec<String> = c
            .prepare(&sql)
            .unwrap()
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("\n");
        assert!(plan.contains("items_gsi2"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "no sort step: {plan}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_second_handle_on_the_same_file_sees_commits_and_feeds_them() {
        let dir = temp_dir("sqlite-feed");
        let a = SqliteTable::open(&dir).unwrap();
        let b = SqliteTable::open(&dir).unwrap();
        let mut feed = a.changes().expect("a change feed");
        b.put(item(json!({"pk": "p", "sk": "1", "n": 1})), None)
            .await
            .unwrap();
        b.update(&Key::new("p", "2"), Update::new().set("n", 2), None)
            .await
            .unwrap();
        let mut got = Vec::new();
        while got.len() < 2 {
            let next = tokio::time::timeout(Duration::from_secs(5), feed.recv()).await;
            got.push(
                next.expect("the feed delivers the other handle's commits")
                    .unwrap(),
            );
        }
        assert_eq!(got[0]["sk"], json!("1"));
        assert_eq!(got[1]["n"], json!(2));
        assert_eq!(
            a.get(&Key::new("p", "2")).await.unwrap().unwrap()["n"],
            json!(2)
        );
        // A conditional write through one handle sees the other's item.
        let e = a
            .put(item(json!({"pk": "p", "sk": "1"})), Some(Cond::NotExists))
            .await
            .unwrap_err();
        assert!(e.is_condition_failed());
        drop((a, b, feed));
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Writes queued behind a busy writer are committed together, and each
    /// stays atomic on its own: a failed condition (a put's, or one
    /// operation of a transaction) rolls back that write only.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn queued_writes_share_a_commit_and_fail_alone() {
        let dir = temp_dir("sqlite-batch");
        let t = Arc::new(SqliteTable::open(&dir).unwrap());
        t.put(item(json!({"pk": "b", "sk": "taken"})), None)
            .await
            .unwrap();
        let commits_before = *t.inner.writer.committed.borrow();
        // Hold the write connection: the writes below queue up behind it.
        let held = lock(&t.inner.writer.conn);
        let mut writes = tokio::task::JoinSet::new();
        for i in 0..24 {
            let t = t.clone();
            writes.spawn(async move {
                let got = match i % 3 {
                    0 => {
                        t.put(
                            item(json!({"pk": "b", "sk": "taken", "n": i})),
                            Some(Cond::NotExists),
                        )
                        .await
                    }
                    1 => {
                        t.transact(vec![
                            TxOp::Put {
                                item: item(json!({"pk": "b", "sk": format!("tx{i}")})),
                                cond: None,
                            },
                            TxOp::Check {
                                key: Key::new("b", "missing"),
                                cond: Cond::Exists,
                            },
                        ])
                        .await
                    }
                    _ => {
                        t.put(
                            item(json!({"pk": "b", "sk": format!("ok{i}")})),
                            Some(Cond::NotExists),
                        )
                        .await
                    }
                };
                (i, got)
            });
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(held);
        while let Some(done) = writes.join_next().await {
            let (i, got) = done.unwrap();
            match i % 3 {
                0 => assert_eq!(got, Err(TableError::ConditionFailed { op: None })),
                1 => assert_eq!(got, Err(TableError::ConditionFailed { op: Some(1) })),
                _ => assert_eq!(got, Ok(()), "write {i}"),
            }
        }
        let page = t.query(Query::table("b")).await.unwrap();
        let mut sks: Vec<&str> = page.items.iter().map(|i| s(i, SK).unwrap()).collect();
        sks.sort();
        let mut want: Vec<String> = (0..24)
            .filter(|i| i % 3 == 2)
            .map(|i| format!("ok{i}"))
            .collect();
        want.push("taken".into());
        want.sort();
        assert_eq!(
            sks, want,
            "the failed writes left nothing, the others all landed"
        );
        let taken = t.get(&Key::new("b", "taken")).await.unwrap().unwrap();
        assert!(
            !taken.contains_key("n"),
            "the failed puts did not overwrite"
        );
        let commits = *t.inner.writer.committed.borrow() - commits_before;
        assert!(
            (1..8).contains(&commits),
            "8 successful writes queued together took {commits} commits"
        );
        // What was committed together is durable for another connection.
        let other = SqliteTable::open(&dir).unwrap();
        assert_eq!(other.query(Query::table("b")).await.unwrap().items.len(), 9);
        drop((t, other));
        std::fs::remove_dir_all(&dir).ok();
    }

    /// A feed of one index partition delivers the items in it, from this
    /// handle and from another on the same file, and skips the rest
    /// (items outside it, and an item once it has left it).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_partition_feed_delivers_only_items_in_the_partition() {
        let dir = temp_dir("sqlite-feed-in");
        let a = SqliteTable::open(&dir).unwrap();
        let b = SqliteTable::open(&dir).unwrap();
        let mut feed = a.changes_in(Index::Gsi2, "BOX").expect("a change feed");
        let mut all = a.changes().expect("the unfiltered feed too");
        let boxed =
            |sk: &str, part: &str| item(json!({"pk": "f", "sk": sk, "gsi2pk": part, "gsi2sk": sk}));
        a.put(boxed("1", "BOX"), None).await.unwrap();
        b.put(boxed("2", "OTHER"), None).await.unwrap();
        a.put(item(json!({"pk": "f", "sk": "3"})), None)
            .await
            .unwrap();
        b.put(boxed("4", "BOX"), None).await.unwrap();
        // Leaves the partition: its change is not delivered.
        a.update(
            &Key::new("f", "1"),
            Update::new().remove("gsi2pk").remove("gsi2sk"),
            None,
        )
        .await
        .unwrap();
        a.put(boxed("5", "BOX"), None).await.unwrap();
        let mut got = Vec::new();
        while got.len() < 6 {
            let next = tokio::time::timeout(Duration::from_secs(5), all.recv()).await;
            let item = next.expect("the unfiltered feed has every change").unwrap();
            got.push(s(&item, SK).unwrap().to_string());
        }
        assert_eq!(got, ["1", "2", "3", "4", "1", "5"]);
        let mut got = Vec::new();
        while got.last().map(String::as_str) != Some("5") {
            let next = tokio::time::timeout(Duration::from_secs(5), feed.recv()).await;
            let item = next.expect("the partition feed goes on").unwrap();
            assert_eq!(s(&item, "gsi2pk"), Some("BOX"), "{item:?}");
            got.push(s(&item, SK).unwrap().to_string());
        }
        // Item 1 had left the partition by the time the feed read it, or not.
        got.retain(|sk| sk != "1");
        assert_eq!(got, ["4", "5"]);
        drop((a, b, feed, all));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn expired_items_are_swept_from_the_file() {
        let t = SqliteTable::in_memory();
        let now = SystemClock.now().unix_timestamp();
        t.put(item(json!({"pk": "t", "sk": "old", "ttl": now - 5})), None)
            .await
            .unwrap();
        t.inner.writer.next_sweep.store(0, Atomic::Relaxed);
        t.put(
            item(json!({"pk": "t", "sk": "new", "ttl": now + 3600})),
            None,
        )
        .await
        .unwrap();
        let rows: i64 = lock(&t.inner.writer.conn)
            .query_row("SELECT COUNT(*) FROM items WHERE pk = 't'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(rows, 1, "the expired row is gone, the live one stays");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_old_log_is_imported_once_and_renamed() {
        let dir = temp_dir("sqlite-import");
        let lines = [
            r#"[{"put":{"pk":"a","sk":"1","n":1.50,"gsi1pk":"G","gsi1sk":"x"}}]"#,
            r#"[{"put":{"pk":"a","sk":"2","n":2}},{"put":{"pk":"a","sk":"3"}}]"#,
            r#"[{"del":{"pk":"a","sk":"3"}}]"#,
            r#"[{"put":{"pk":"a","sk":"2","n":3}}]"#,
            r#"[{"put": {"pk": "torn""#,
        ];
        std::fs::write(dir.join(OLD_LOG), lines.join("\n")).unwrap();
        let t = SqliteTable::open(&dir).unwrap();
        assert!(!dir.join(OLD_LOG).exists());
        assert!(dir.join(OLD_LOG_IMPORTED).exists());
        let page = t.query(Query::table("a")).await.unwrap();
        let got: Vec<Value> = page.items.into_iter().map(Value::Object).collect();
        let want: Value = serde_json::from_str(
            r#"[{"pk":"a","sk":"1","n":1.50,"gsi1pk":"G","gsi1sk":"x"},{"pk":"a","sk":"2","n":3}]"#,
        )
        .unwrap();
        assert_eq!(Value::Array(got.clone()), want);
        assert_eq!(got[0]["n"].to_string(), "1.50", "numbers stay exact");
        let ix = t.query(Query::index(Index::Gsi1, "G")).await.unwrap();
        assert_eq!(ix.items.len(), 1, "imported items are indexed");
        drop(t);
        // A log left behind after a crash before the rename is not imported twice.
        std::fs::write(dir.join(OLD_LOG), lines[3].replace("\"n\":3", "\"n\":9")).unwrap();
        let t = SqliteTable::open(&dir).unwrap();
        assert_eq!(
            t.get(&Key::new("a", "2")).await.unwrap().unwrap()["n"],
            json!(3)
        );
        assert!(!dir.join(OLD_LOG).exists());
        drop(t);
        std::fs::remove_dir_all(&dir).ok();
    }
}
