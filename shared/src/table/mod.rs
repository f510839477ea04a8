//! The `Table` port: one item-level key-value table with a partition key
//! (`pk`), a sort key (`sk`), two sparse global secondary indexes
//! (`gsi1pk`/`gsi1sk`, `gsi2pk`/`gsi2sk`) and a TTL attribute (`ttl`, epoch
//! seconds). Key design lives above this port (see `crate::schema`); the two
//! engines below it (DynamoDB, and SQLite as the embedded engine) have the
//! same semantics, checked by one contract suite (`contract`).

pub mod contract;
pub mod dynamo;
pub mod sqlite;

use async_trait::async_trait;
use base64::Engine as _;
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::str::FromStr;

/// An item: top-level attribute name -> JSON value. Numbers are exact
/// (serde_json `arbitrary_precision`), strings are strings, maps are maps.
pub type Item = Map<String, Value>;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const TTL: &str = "ttl";
/// Most operations one transaction may hold (DynamoDB's limit is 100 now,
/// we keep the classic 25 so both engines agree everywhere).
pub const MAX_TX_OPS: usize = 25;

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Key {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    /// The key of an item (None if it lacks `pk`/`sk` strings).
    pub fn of(item: &Item) -> Option<Key> {
        Some(Key {
            pk: item.get(PK)?.as_str()?.to_string(),
            sk: item.get(SK)?.as_str()?.to_string(),
        })
    }
}

/// A global secondary index. Sparse: items without its attributes are absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Index {
    Gsi1,
    Gsi2,
}

impl Index {
    pub const ALL: [Index; 2] = [Index::Gsi1, Index::Gsi2];

    pub const fn name(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1",
            Index::Gsi2 => "gsi2",
        }
    }
    pub const fn pk_attr(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1pk",
            Index::Gsi2 => "gsi2pk",
        }
    }
    pub const fn sk_attr(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1sk",
            Index::Gsi2 => "gsi2sk",
        }
    }
}

/// A condition on the sort key of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    All,
    Eq(String),
    BeginsWith(String),
    /// Inclusive on both ends.
    Between(String, String),
    Lt(String),
    Le(String),
    Gt(String),
    Ge(String),
}

impl SortKey {
    pub fn matches(&self, sk: &str) -> bool {
        match self {
            SortKey::All => true,
            SortKey::Eq(v) => sk == v,
            SortKey::BeginsWith(p) => sk.starts_with(p.as_str()),
            SortKey::Between(a, b) => sk >= a.as_str() && sk <= b.as_str(),
            SortKey::Lt(v) => sk < v.as_str(),
            SortKey::Le(v) => sk <= v.as_str(),
            SortKey::Gt(v) => sk > v.as_str(),
            SortKey::Ge(v) => sk >= v.as_str(),
        }
    }
}

/// A query on the table or an index, one page at a time.
#[derive(Debug, Clone)]
pub struct Query {
    pub index: Option<Index>,
    pub pk: String,
    pub sk: SortKey,
    /// Ascending sort-key order when true.
    pub forward: bool,
    /// At most this many items (>= 1).
    pub limit: usize,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl Query {
    pub fn table(pk: impl Into<String>) -> Self {
        Query {
            index: None,
            pk: pk.into(),
            sk: SortKey::All,
            forward: true,
            limit: 100,
            cursor: None,
        }
    }
    pub fn index(index: Index, pk: impl Into<String>) -> Self {
        Query {
            index: Some(index),
            ..Query::table(pk)
        }
    }
    pub fn sk(mut self, sk: SortKey) -> Self {
        self.sk = sk;
        self
    }
    pub fn backward(mut self) -> Self {
        self.forward = false;
        self
    }
    pub fn forward(mut self, forward: bool) -> Self {
        self.forward = forward;
        self
    }
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit.max(1);
        self
    }
    pub fn cursor(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }
}

/// One page of a query. `next_cursor` is Some exactly when more items follow.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Item>,
    pub next_cursor: Option<String>,
}

/// A condition on the current item, checked atomically with the write.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// The item exists.
    Exists,
    /// The item does not exist.
    NotExists,
    AttrExists(String),
    AttrNotExists(String),
    /// Attribute equals the value (numbers compare numerically).
    Eq(String, Value),
    Ne(String, Value),
    Lt(String, Value),
    Le(String, Value),
    Gt(String, Value),
    Ge(String, Value),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

impl Cond {
    pub fn eq(attr: &str, v: impl Into<Value>) -> Cond {
        Cond::Eq(attr.to_string(), v.into())
    }

    /// Evaluate against the current item (None = absent). This is the
    /// reference semantics; the DynamoDB engine translates to a
    /// ConditionExpression with the same meaning.
    pub fn eval(&self, item: Option<&Item>) -> bool {
        let attr = |name: &str| item.and_then(|i| i.get(name));
        match self {
            Cond::Exists => item.is_some(),
            Cond::NotExists => item.is_none(),
            Cond::AttrExists(a) => attr(a).is_some(),
            Cond::AttrNotExists(a) => attr(a).is_none(),
            Cond::Eq(a, v) => attr(a).is_some_and(|x| compare(x, v) == Some(Ordering::Equal)),
            // DynamoDB: `a <> v` is true when the attribute is absent.
            Cond::Ne(a, v) => attr(a).is_none_or(|x| compare(x, v) != Some(Ordering::Equal)),
            Cond::Lt(a, v) => attr(a).and_then(|x| compare(x, v)) == Some(Ordering::Less),
            Cond::Le(a, v) => matches!(
                attr(a).and_then(|x| compare(x, v)),
                Some(Ordering::Less | Ordering::Equal)
            ),
            Cond::Gt(a, v) => attr(a).and_then(|x| compare(x, v)) == Some(Ordering::Greater),
            Cond::Ge(a, v) => matches!(
                attr(a).and_then(|x| compare(x, v)),
                Some(Ordering::Greater | Ordering::Equal)
            ),
            Cond::And(cs) => cs.iter().all(|c| c.eval(item)),
            Cond::Or(cs) => cs.iter().any(|c| c.eval(item)),
        }
    }
}

/// DynamoDB-style comparison: numbers numerically, strings by bytes, booleans
/// and other types only for equality; different types never compare.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let x = Decimal::from_str(&x.to_string()).ok()?;
            let y = Decimal::from_str(&y.to_string()).ok()?;
            Some(x.cmp(&y))
        }
        (Value::String(x), Value::String(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Value::Bool(x), Value::Bool(y)) => (x == y).then_some(Ordering::Equal),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (x, y) if std::mem::discriminant(x) == std::mem::discriminant(y) => {
            (x == y).then_some(Ordering::Equal)
        }
        _ => None,
    }
}

/// A change to top-level attributes of one item. Applied to an absent item
/// it creates the item (with its key), as DynamoDB's UpdateItem does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    pub set: Vec<(String, Value)>,
    pub remove: Vec<String>,
    /// Atomic counters: add to a number attribute (absent counts as 0).
    pub add: Vec<(String, i64)>,
}

impl Update {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn set(mut self, attr: &str, v: impl Into<Value>) -> Self {
        self.set.push((attr.to_string(), v.into()));
        self
    }
    pub fn remove(mut self, attr: &str) -> Self {
        self.remove.push(attr.to_string());
        self
    }
    pub fn add(mut self, attr: &str, by: i64) -> Self {
        self.add.push((attr.to_string(), by));
        self
    }

    /// Apply to `item` in place (reference semantics for both engines).
    pub fn apply(&self, key: &Key, item: &mut Item) -> Result<(), TableError> {
        item.insert(PK.into(), Value::String(key.pk.clone()));
        item.insert(SK.into(), Value::String(key.sk.clone()));
        for (a, v) in &self.set {
            check_not_key(a)?;
            item.insert(a.clone(), v.clone());
        }
        for a in &self.remove {
            check_not_key(a)?;
            item.remove(a);
        }
        for (a, by) in &self.add {
            check_not_key(a)?;
            let current = match item.get(a) {
                None => Decimal::ZERO,
                Some(Value::Number(n)) => Decimal::from_str(&n.to_string())
                    .map_err(|_| TableError::Validation(format!("`{a}` is not a number")))?,
                Some(_) => {
                    return Err(TableError::Validation(format!(
                        "ADD on `{a}`, which is not a number"
                    )))
                }
            };
            item.insert(a.clone(), number(current + Decimal::from(*by)));
        }
        Ok(())
    }
}

fn check_not_key(attr: &str) -> Result<(), TableError> {
    if attr == PK || attr == SK {
        Err(TableError::Validation(format!(
            "cannot update key attribute `{attr}`"
        )))
    } else {
        Ok(())
    }
}

/// An exact JSON number from a Decimal.
pub fn number(d: Decimal) -> Value {
    Value::Number(
        serde_json::Number::from_str(&d.normalize().to_string())
            .expect("decimal is a valid JSON number"),
    )
}

/// One operation of a transaction.
#[derive(Debug, Clone)]
pub enum TxOp {
    Put {
        item: Item,
        cond: Option<Cond>,
    },
    Update {
        key: Key,
        update: Update,
        cond: Option<Cond>,
    },
    Delete {
        key: Key,
        cond: Option<Cond>,
    },
    /// Only checks a condition; writes nothing.
    Check {
        key: Key,
        cond: Cond,
    },
}

impl TxOp {
    pub fn key(&self) -> Option<Key> {
        match self {
            TxOp::Put { item, .. } => Key::of(item),
            TxOp::Update { key, .. } | TxOp::Delete { key, .. } | TxOp::Check { key, .. } => {
                Some(key.clone())
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TableError {
    /// A condition did not hold; nothing was written. For a transaction,
    /// `op` is the index of the first operation whose condition failed.
    #[error("condition failed{}", .op.map(|i| format!(" (operation {i})")).unwrap_or_default())]
    ConditionFailed { op: Option<usize> },
    /// Another transaction touched the same items at the same time, or the
    /// engine is throttling: nothing was written, retrying is safe.
    #[error("conflict with a concurrent write; retry")]
    Busy,
    /// The request itself is invalid (bad key, too many ops, ...).
    #[error("invalid table request: {0}")]
    Validation(String),
    #[error("storage backend error: {0}")]
    Backend(String),
}

impl TableError {
    pub fn is_condition_failed(&self) -> bool {
        matches!(self, TableError::ConditionFailed { .. })
    }
}

/// The storage port.
#[async_trait]
pub trait Table: Send + Sync {
    /// Strongly consistent read of one item.
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError>;
    /// Several items in one round trip (at most 100), in the order asked.
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, TableError>;
    /// Write a whole item (replacing any current one) if `cond` holds.
    async fn put(&self, item: Item, cond: Option<Cond>) -> Result<(), TableError>;
    /// Change attributes if `cond` holds; returns the item as it is after.
    async fn update(
        &self,
        key: &Key,
        update: Update,
        cond: Option<Cond>,
    ) -> Result<Item, TableError>;
    /// Delete if `cond` holds; returns the deleted item, if there was one.
    async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<Option<Item>, TableError>;
    async fn query(&self, query: Query) -> Result<Page, TableError>;
    /// All or nothing: every condition holds and every write lands, or
    /// nothing is written. At most `MAX_TX_OPS` operations, each item once.
    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), TableError>;
    /// The engine's name for logs ("dynamodb" / "embedded").
    fn engine(&self) -> &'static str;
    /// A feed of items as written (after commit), like a DynamoDB stream
    /// with NEW_IMAGE. The embedded engine has one (fed from its table of
    /// committed changes); on AWS the stream is DynamoDB Streams and this
    /// is None.
    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Item>> {
        None
    }
    /// The same feed filtered (like a stream's filter criteria) to items
    /// that are, when the feed reads them, in partition `pk` of `index`;
    /// the engine need not read or parse the other changes. Subscribers
    /// still check what they get: an engine may deliver more (the default
    /// is the unfiltered feed).
    fn changes_in(&self, index: Index, pk: &str) -> Option<tokio::sync::broadcast::Receiver<Item>> {
        let _ = (index, pk);
        self.changes()
    }
}

/// Checks every engine applies before a transaction.
pub fn validate_tx(ops: &[TxOp]) -> Result<(), TableError> {
    if ops.is_empty() {
        return Err(TableError::Validation("empty transaction".into()));
    }
    if ops.len() > MAX_TX_OPS {
        return Err(TableError::Validation(format!(
            "a transaction holds at most {MAX_TX_OPS} operations, got {}",
            ops.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for op in ops {
        let key = op
            .key()
            .ok_or_else(|| TableError::Validation("item without pk/sk".into()))?;
        if !seen.insert(key.clone()) {
            return Err(TableError::Validation(format!(
                "item {}/{} appears twice in one transaction",
                key.pk, key.sk
            )));
        }
    }
    Ok(())
}

/// Cursor encoding shared by both engines: base64url of the JSON key
/// attributes of the last item returned.
pub fn encode_cursor(item: &Item, index: Option<Index>) -> String {
    let mut key = Map::new();
    let mut attrs = vec![PK, SK];
    if let Some(ix) = index {
        attrs.push(ix.pk_attr());
        attrs.push(ix.sk_attr());
    }
    for a in attrs {
        if let Some(v) = item.get(a) {
            key.insert(a.to_string(), v.clone());
        }
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Value::Object(key).to_string())
}

/// Decode a cursor into its key attributes; a malformed cursor is a
/// validation error (the API turns it into a 400 on `cursor`).
pub fn decode_cursor(cursor: &str, index: Option<Index>) -> Result<Item, TableError> {
    let bad = || TableError::Validation("malformed cursor".into());
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let Value::Object(m) = v else {
        return Err(bad());
    };
    let mut needed = vec![PK, SK];
    if let Some(ix) = index {
        needed.push(ix.pk_attr());
        needed.push(ix.sk_attr());
    }
    if needed
        .iter()
        .all(|a| m.get(*a).is_some_and(Value::is_string))
        && m.len() == needed.len()
    {
        Ok(m)
    } else {
        Err(bad())
    }
}

/// Whether an item has expired (its `ttl` is in the past). Both engines hide
/// expired items from reads, so nothing depends on when DynamoDB sweeps them.
pub fn is_expired(item: &Item, now_epoch: i64) -> bool {
    ttl_of(item).is_some_and(|ttl| ttl <= now_epoch)
}

/// The item's `ttl` in epoch seconds (a number, or a string of one).
pub fn ttl_of(item: &Item) -> Option<i64> {
    item.get(TTL).and_then(|v| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    })
}

/// A string attribute of an item.
pub fn s<'a>(item: &'a Item, attr: &str) -> Option<&'a str> {
    item.get(attr).and_then(Value::as_str)
}

/// A transaction whose writes carry names, so a failed condition is
/// reported by which write it guarded rather than by its position.
#[derive(Debug, Clone)]
pub struct NamedTx<N> {
    ops: Vec<TxOp>,
    names: Vec<N>,
}

/// Why a [`NamedTx`] was not applied (nothing was written).
#[derive(Debug)]
pub enum TxFailed<N> {
    /// The condition of the write with this name did not hold.
    Condition(N),
    /// Anything else: busy, backend, or a failed condition of unknown position.
    Table(TableError),
}

impl<N: Copy> Default for NamedTx<N> {
    fn default() -> Self {
        NamedTx {
            ops: Vec::new(),
            names: Vec::new(),
        }
    }
}

impl<N: Copy> NamedTx<N> {
    /// An empty transaction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a write under `name`.
    pub fn push(&mut self, name: N, op: TxOp) {
        self.ops.push(op);
        self.names.push(name);
    }

    /// Add several writes under one name.
    pub fn extend(&mut self, name: N, ops: impl IntoIterator<Item = TxOp>) {
        for op in ops {
            self.push(name, op);
        }
    }

    /// How many writes it holds.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether it holds no write.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Apply all writes or none.
    pub async fn run(self, table: &dyn Table) -> Result<(), TxFailed<N>> {
        match table.transact(self.ops).await {
            Ok(()) => Ok(()),
            Err(TableError::ConditionFailed { op: Some(i) }) if i < self.names.len() => {
                Err(TxFailed::Condition(self.names[i]))
            }
            Err(e) => Err(TxFailed::Table(e)),
        }
    }
}
