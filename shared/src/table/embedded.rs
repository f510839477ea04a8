//! The embedded engine: the whole table in memory, every committed write
//! appended as one JSON line to `table.log` under the data directory, so a
//! restart replays it. One line is one commit, so a transaction is on disk
//! all or nothing (a torn last line from a crash is ignored). On open the log
//! is compacted to one line per live item.

use super::*;
use crate::clock::{Clock, SystemClock};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

type IndexKey = (String, String, String, String);

#[derive(Default)]
struct State {
    items: BTreeMap<String, BTreeMap<String, Item>>,
    gsi1: BTreeSet<IndexKey>,
    gsi2: BTreeSet<IndexKey>,
}

impl State {
    fn get(&self, key: &Key) -> Option<&Item> {
        self.items.get(&key.pk)?.get(&key.sk)
    }

    fn index_mut(&mut self, ix: Index) -> &mut BTreeSet<IndexKey> {
        match ix {
            Index::Gsi1 => &mut self.gsi1,
            Index::Gsi2 => &mut self.gsi2,
        }
    }

    fn index_key(ix: Index, key: &Key, item: &Item) -> Option<IndexKey> {
        Some((
            s(item, ix.pk_attr())?.to_string(),
            s(item, ix.sk_attr())?.to_string(),
            key.pk.clone(),
            key.sk.clone(),
        ))
    }

    fn remove(&mut self, key: &Key) -> Option<Item> {
        let part = self.items.get_mut(&key.pk)?;
        let old = part.remove(&key.sk)?;
        if part.is_empty() {
            self.items.remove(&key.pk);
        }
        for ix in Index::ALL {
            if let Some(k) = Self::index_key(ix, key, &old) {
                self.index_mut(ix).remove(&k);
            }
        }
        Some(old)
    }

    fn insert(&mut self, key: Key, item: Item) {
        self.remove(&key);
        for ix in Index::ALL {
            if let Some(k) = Self::index_key(ix, &key, &item) {
                self.index_mut(ix).insert(k);
            }
        }
        self.items.entry(key.pk).or_default().insert(key.sk, item);
    }

    fn apply(&mut self, write: Write1) {
        match write {
            Write1::Put(item) => {
                if let Some(key) = Key::of(&item) {
                    self.insert(key, item);
                }
            }
            Write1::Delete(key) => {
                self.remove(&key);
            }
        }
    }
}

/// One write of a commit, as logged.
#[derive(Debug, Clone)]
enum Write1 {
    Put(Item),
    Delete(Key),
}

impl Write1 {
    fn to_json(&self) -> Value {
        match self {
            Write1::Put(item) => serde_json::json!({ "put": item }),
            Write1::Delete(k) => serde_json::json!({ "del": { "pk": k.pk, "sk": k.sk } }),
        }
    }

    fn from_json(v: &Value) -> Option<Write1> {
        if let Some(Value::Object(item)) = v.get("put") {
            return Some(Write1::Put(item.clone()));
        }
        let d = v.get("del")?;
        Some(Write1::Delete(Key::new(
            d.get(PK)?.as_str()?,
            d.get(SK)?.as_str()?,
        )))
    }
}

/// The embedded `Table`.
pub struct EmbeddedTable {
    state: Mutex<State>,
    log: Option<Mutex<File>>,
    path: Option<PathBuf>,
    clock: Arc<dyn Clock>,
    fsync: bool,
    changes: tokio::sync::broadcast::Sender<Item>,
}

impl EmbeddedTable {
    /// A table that lives only in memory (tests, `--memory`).
    pub fn in_memory() -> Self {
        EmbeddedTable {
            state: Mutex::new(State::default()),
            log: None,
            path: None,
            clock: Arc::new(SystemClock),
            fsync: false,
            changes: tokio::sync::broadcast::channel(4096).0,
        }
    }

    /// Open (or create) the table in `dir`, replaying and compacting its log.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("table.log");
        let mut state = State::default();
        if path.exists() {
            let reader = BufReader::new(File::open(&path)?);
            for line in reader.lines() {
                let line = line?;
                // A torn last line (crash mid-write) is not a commit.
                let Ok(Value::Array(writes)) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                for w in writes.iter().filter_map(Write1::from_json) {
                    state.apply(w);
                }
            }
        }
        // Compact: one line holding a put of every live item.
        let tmp = dir.join("table.log.tmp");
        {
            let mut f = File::create(&tmp)?;
            for part in state.items.values() {
                for item in part.values() {
                    let line = Value::Array(vec![Write1::Put(item.clone()).to_json()]);
                    writeln!(f, "{line}")?;
                }
            }
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        let log = OpenOptions::new().append(true).open(&path)?;
        Ok(EmbeddedTable {
            state: Mutex::new(state),
            log: Some(Mutex::new(log)),
            path: Some(path),
            clock: Arc::new(SystemClock),
            fsync: std::env::var("SATSGATE_FSYNC").is_ok_and(|v| v == "1"),
            changes: tokio::sync::broadcast::channel(4096).0,
        })
    }

    /// Use this clock for TTL expiry.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where the log lives, if file-backed.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live (non-expired) item under `key`.
    fn live<'a>(&self, state: &'a State, key: &Key, now: i64) -> Option<&'a Item> {
        state.get(key).filter(|i| !is_expired(i, now))
    }

    /// Log then apply one commit while holding the state lock.
    fn commit(&self, state: &mut State, writes: Vec<Write1>) -> Result<(), TableError> {
        if let Some(log) = &self.log {
            let line = Value::Array(writes.iter().map(Write1::to_json).collect());
            let mut f = log.lock().unwrap_or_else(|p| p.into_inner());
            let mut bytes = line.to_string().into_bytes();
            bytes.push(b'\n');
            f.write_all(&bytes)
                .map_err(|e| TableError::Backend(format!("writing table log: {e}")))?;
            if self.fsync {
                f.sync_data()
                    .map_err(|e| TableError::Backend(format!("syncing table log: {e}")))?;
            }
        }
        for w in writes {
            if let Write1::Put(item) = &w {
                if self.changes.receiver_count() > 0 {
                    // Lagging receivers miss items; consumers also sweep the outbox.
                    let _ = self.changes.send(item.clone());
                }
            }
            state.apply(w);
        }
        Ok(())
    }

    fn check(
        cond: Option<&Cond>,
        current: Option<&Item>,
        op: Option<usize>,
    ) -> Result<(), TableError> {
        match cond {
            Some(c) if !c.eval(current) => Err(TableError::ConditionFailed { op }),
            _ => Ok(()),
        }
    }

    fn updated(key: &Key, current: Option<&Item>, update: &Update) -> Result<Item, TableError> {
        let mut item = current.cloned().unwrap_or_default();
        update.apply(key, &mut item)?;
        Ok(item)
    }
}

fn validate_key(key: &Key) -> Result<(), TableError> {
    if key.pk.is_empty() || key.sk.is_empty() {
        Err(TableError::Validation("pk and sk must be non-empty".into()))
    } else {
        Ok(())
    }
}

#[async_trait]
impl Table for EmbeddedTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        validate_key(key)?;
        let now = self.now();
        let state = self.lock();
        Ok(self.live(&state, key, now).cloned())
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, TableError> {
        if keys.len() > 100 {
            return Err(TableError::Validation(
                "at most 100 keys per get_many".into(),
            ));
        }
        let now = self.now();
        let state = self.lock();
        keys.iter()
            .map(|k| {
                validate_key(k)?;
                Ok(self.live(&state, k, now).cloned())
            })
            .collect()
    }

    async fn put(&self, item: Item, cond: Option<Cond>) -> Result<(), TableError> {
        let key = Key::of(&item)
            .ok_or_else(|| TableError::Validation("item needs string pk and sk".into()))?;
        validate_key(&key)?;
        let now = self.now();
        let mut state = self.lock();
        Self::check(cond.as_ref(), self.live(&state, &key, now), None)?;
        self.commit(&mut state, vec![Write1::Put(item)])
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        cond: Option<Cond>,
    ) -> Result<Item, TableError> {
        validate_key(key)?;
        let now = self.now();
        let mut state = self.lock();
        let current = self.live(&state, key, now);
        Self::check(cond.as_ref(), current, None)?;
        let item = Self::updated(key, current, &update)?;
        self.commit(&mut state, vec![Write1::Put(item.clone())])?;
        Ok(item)
    }

    async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<Option<Item>, TableError> {
        validate_key(key)?;
        let now = self.now();
        let mut state = self.lock();
        let current = self.live(&state, key, now).cloned();
        Self::check(cond.as_ref(), current.as_ref(), None)?;
        if state.get(key).is_some() {
            self.commit(&mut state, vec![Write1::Delete(key.clone())])?;
        }
        Ok(current)
    }

    async fn query(&self, q: Query) -> Result<Page, TableError> {
        let limit = q.limit.max(1);
        let after = q
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c, q.index))
            .transpose()?;
        let now = self.now();
        let state = self.lock();
        let mut items = Vec::with_capacity(limit.min(128));
        let mut more = false;
        match q.index {
            None => {
                if let Some(part) = state.items.get(&q.pk) {
                    let start_after = after.as_ref().and_then(|c| s(c, SK)).map(str::to_string);
                    let range: Box<dyn Iterator<Item = (&String, &Item)>> =
                        match (&start_after, q.forward) {
                            (Some(sk), true) => Box::new(part.range::<String, _>((
                                Bound::Excluded(sk.clone()),
                                Bound::Unbounded,
                            ))),
                            (Some(sk), false) => Box::new(
                                part.range::<String, _>((
                                    Bound::Unbounded,
                                    Bound::Excluded(sk.clone()),
                                ))
                                .rev(),
                            ),
                            (None, true) => Box::new(part.iter()),
                            (None, false) => Box::new(part.iter().rev()),
                        };
                    for (sk, item) in range {
                        if !q.sk.matches(sk) || is_expired(item, now) {
                            continue;
                        }
                        if items.len() == limit {
                            more = true;
                            break;
                        }
                        items.push(item.clone());
                    }
                }
            }
            Some(ix) => {
                let set = match ix {
                    Index::Gsi1 => &state.gsi1,
                    Index::Gsi2 => &state.gsi2,
                };
                let lo: IndexKey = (q.pk.clone(), String::new(), String::new(), String::new());
                let cursor_key = after.as_ref().map(|c| {
                    (
                        q.pk.clone(),
                        s(c, ix.sk_attr()).unwrap_or_default().to_string(),
                        s(c, PK).unwrap_or_default().to_string(),
                        s(c, SK).unwrap_or_default().to_string(),
                    )
                });
                let in_part = |k: &&IndexKey| k.0 == q.pk;
                let range: Box<dyn Iterator<Item = &IndexKey>> = match (cursor_key, q.forward) {
                    (Some(c), true) => Box::new(
                        set.range((Bound::Excluded(c), Bound::Unbounded))
                            .take_while(in_part),
                    ),
                    (Some(c), false) => Box::new(
                        set.range((Bound::Included(lo), Bound::Excluded(c)))
                            .rev()
                            .take_while(in_part),
                    ),
                    (None, true) => Box::new(
                        set.range((Bound::Included(lo), Bound::Unbounded))
                            .take_while(in_part),
                    ),
                    (None, false) => {
                        let mut hi = q.pk.clone();
                        hi.push('\u{10FFFF}');
                        Box::new(
                            set.range((
                                Bound::Included(lo),
                                Bound::Excluded((hi, String::new(), String::new(), String::new())),
                            ))
                            .rev()
                            .take_while(in_part),
                        )
                    }
                };
                for (_, isk, pk, sk) in range {
                    if !q.sk.matches(isk) {
                        continue;
                    }
                    let Some(item) = state.get(&Key::new(pk.clone(), sk.clone())) else {
                        continue;
                    };
                    if is_expired(item, now) {
                        continue;
                    }
                    if items.len() == limit {
                        more = true;
                        break;
                    }
                    items.push(item.clone());
                }
            }
        }
        let next_cursor = if more {
            items.last().map(|i| encode_cursor(i, q.index))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), TableError> {
        validate_tx(&ops)?;
        let now = self.now();
        let mut state = self.lock();
        let mut writes = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            let key = op.key().expect("validated");
            validate_key(&key)?;
            let current = self.live(&state, &key, now);
            match op {
                TxOp::Put { item, cond } => {
                    Self::check(cond.as_ref(), current, Some(i))?;
                    writes.push(Write1::Put(item.clone()));
                }
                TxOp::Update { update, cond, .. } => {
                    Self::check(cond.as_ref(), current, Some(i))?;
                    writes.push(Write1::Put(Self::updated(&key, current, update)?));
                }
                TxOp::Delete { cond, .. } => {
                    Self::check(cond.as_ref(), current, Some(i))?;
                    writes.push(Write1::Delete(key));
                }
                TxOp::Check { cond, .. } => Self::check(Some(cond), current, Some(i))?,
            }
        }
        self.commit(&mut state, writes)
    }

    fn engine(&self) -> &'static str {
        "embedded"
    }

    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Item>> {
        Some(self.changes.subscribe())
    }
}
