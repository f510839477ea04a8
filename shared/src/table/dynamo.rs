//! DynamoDB engine (aws-sdk-dynamodb).
//!
//! Same semantics as the embedded engine (checked by `contract`):
//! - Items whose `ttl` is in the past are absent, although DynamoDB sweeps
//!   them lazily: reads filter them out, and every condition is evaluated as
//!   if an expired item were absent (`Cond::eval(None)`), see
//!   `Expr::on_live`.
//! - An update of an expired (not yet swept) item starts from an empty item,
//!   as in the embedded engine: updates carry a guard "not expired", and when
//!   the guard trips the expired item is deleted and the update retried.
//! - Conditions, updates and transactions map to ConditionExpression /
//!   UpdateExpression / TransactWriteItems with placeholders for every name
//!   and value (`#n0`, `:v0`, ...).

use super::*;
use crate::clock::{Clock, SystemClock};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, KeysAndAttributes, Projection, ProjectionType, ReturnValue, ScalarAttributeType,
    StreamSpecification, StreamViewType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
    TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use base64::Engine as _;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

type AttrMap = HashMap<String, AttributeValue>;

/// How often a write is re-sent after a condition failure that turned out to
/// be caused by an expired item (or by a concurrent change) before giving up
/// with `Busy`.
const MAX_ATTEMPTS: usize = 8;

/// The DynamoDB `Table`.
pub struct DynamoTable {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
    /// Emulator mode (`for_emulator`): writes of this process exclusive,
    /// reads shared.
    serial: Option<tokio::sync::RwLock<()>>,
}

type Guard<'a> = Option<Box<dyn Send + Sync + 'a>>;

impl DynamoTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoTable {
            client,
            table: table.into(),
            clock: Arc::new(SystemClock),
            serial: None,
        }
    }

    /// For an emulator (moto_server): run this process's writes one at a
    /// time while reads stay concurrent. moto neither locks nor isolates:
    /// its TransactWriteItems applies operations one by one and rolls back by
    /// restoring a snapshot of the whole table (clobbering writes that
    /// landed meanwhile), and its conditional writes check then write without
    /// a lock. This only orders requests of this process (several processes
    /// sharing one moto_server still race). Real DynamoDB needs none of it;
    /// `from_env` turns it on when the endpoint is not AWS.
    pub fn for_emulator(mut self) -> Self {
        self.serial = Some(tokio::sync::RwLock::new(()));
        self
    }

    async fn shared(&self) -> Guard<'_> {
        match &self.serial {
            Some(l) => Some(Box::new(l.read().await)),
            None => None,
        }
    }

    async fn exclusive(&self) -> Guard<'_> {
        match &self.serial {
            Some(l) => Some(Box::new(l.write().await)),
            None => None,
        }
    }

    /// The table `config.table_name` at `config.dynamo_endpoint` (else the
    /// SDK's endpoint, `AWS_ENDPOINT_URL`); region and credentials come
    /// from the usual AWS environment.
    pub async fn connect(config: &crate::app::Config) -> Result<DynamoTable, String> {
        let table = config
            .table_name
            .clone()
            .ok_or("TABLE_NAME is not set: the DynamoDB table to use")?;
        let conf = crate::sdk::aws_sdk_config().await;
        let endpoint = config
            .dynamo_endpoint
            .clone()
            .or_else(|| conf.endpoint_url().map(str::to_string))
            .filter(|e| !e.is_empty());
        let t = DynamoTable::new(Client::new(conf), table);
        Ok(match endpoint {
            Some(e) if !e.contains("amazonaws.com") => t.for_emulator(),
            _ => t,
        })
    }

    /// Use this clock for TTL expiry (default: the system clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    /// The stored item, expired or not.
    async fn get_raw(&self, key: &Key) -> Result<Option<Item>, TableError> {
        let _g = self.shared().await;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        out.item.map(from_attrs).transpose()
    }

    /// Delete `key` if (and only if) it is still expired.
    async fn delete_expired(&self, key: &Key) -> Result<(), TableError> {
        let mut ex = Expr::new(self.now());
        let cond = ex.expired().text;
        let _g = self.exclusive().await;
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .condition_expression(cond)
            .set_expression_attribute_names(ex.names())
            .set_expression_attribute_values(ex.values())
            .send()
            .await;
        match res.map_err(|e| sdk_error("DeleteItem", e)) {
            Ok(_) | Err(TableError::ConditionFailed { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A guarded update (or transaction update) failed its condition. Decide
    /// whether to retry: the item was expired (swept now) or changed since so
    /// that `cond` holds; otherwise the condition really failed.
    async fn retry_after_guard(&self, key: &Key, cond: Option<&Cond>) -> Result<bool, TableError> {
        let raw = self.get_raw(key).await?;
        let now = self.now();
        if raw.as_ref().is_some_and(|i| stored_expired(i, now)) {
            if cond.is_some_and(|c| !c.eval(None)) {
                // Fails on an absent item too: no need to sweep it.
                return Ok(false);
            }
            self.delete_expired(key).await?;
            return Ok(true);
        }
        let live = raw.filter(|i| !is_expired(i, now));
        Ok(cond.is_none_or(|c| c.eval(live.as_ref())))
    }

    /// TransactWriteItems cancelled without CancellationReasons (some
    /// emulators): find the first failing operation by reading the items.
    /// Ok(None) = nothing fails now, retry.
    async fn first_failing_op(&self, ops: &[TxOp]) -> Result<Option<usize>, TableError> {
        for (i, op) in ops.iter().enumerate() {
            let key = op.key().expect("validated");
            let cond = tx_cond(op);
            if cond.is_none() && !matches!(op, TxOp::Update { .. }) {
                continue;
            }
            let raw = self.get_raw(&key).await?;
            let now = self.now();
            if matches!(op, TxOp::Update { .. })
                && raw.as_ref().is_some_and(|i| stored_expired(i, now))
                && cond.is_none_or(|c| c.eval(None))
            {
                self.delete_expired(&key).await?;
                return Ok(None);
            }
            let live = raw.filter(|i| !is_expired(i, now));
            if cond.is_some_and(|c| !c.eval(live.as_ref())) {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    fn tx_item(&self, op: &TxOp, now: i64) -> Result<TransactWriteItem, TableError> {
        let key = op.key().expect("validated");
        let mut ex = Expr::new(now);
        let built = match op {
            TxOp::Put { item, cond } => {
                let cond = cond.as_ref().map(|c| ex.on_live(c));
                let put = aws_sdk_dynamodb::types::Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(to_attrs(item)))
                    .set_condition_expression(cond)
                    .set_expression_attribute_names(ex.names())
                    .set_expression_attribute_values(ex.values())
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().put(put).build()
            }
            TxOp::Update { update, cond, .. } => {
                let upd = ex.update(update)?;
                let cond = ex.guarded(cond.as_ref());
                let update = aws_sdk_dynamodb::types::Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(&key)))
                    .update_expression(upd.unwrap_or_else(|| ex.noop_update()))
                    .condition_expression(cond)
                    .set_expression_attribute_names(ex.names())
                    .set_expression_attribute_values(ex.values())
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().update(update).build()
            }
            TxOp::Delete { cond, .. } => {
                let cond = cond.as_ref().map(|c| ex.on_live(c));
                let delete = aws_sdk_dynamodb::types::Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(&key)))
                    .set_condition_expression(cond)
                    .set_expression_attribute_names(ex.names())
                    .set_expression_attribute_values(ex.values())
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().delete(delete).build()
            }
            TxOp::Check { cond, .. } => {
                let cond = ex.on_live(cond);
                let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(&key)))
                    .condition_expression(cond)
                    .set_expression_attribute_names(ex.names())
                    .set_expression_attribute_values(ex.values())
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().condition_check(check).build()
            }
        };
        Ok(built)
    }
}

/// Create the table (schema as in the SAM template): `pk`/`sk` strings,
/// sparse GSIs `gsi1` (`gsi1pk`/`gsi1sk`) and `gsi2` (`gsi2pk`/`gsi2sk`),
/// both projecting everything, on-demand billing, a NEW_IMAGE stream, TTL on
/// `ttl`. Idempotent: an existing table is left as it is (TTL is still
/// enabled if it is not).
pub async fn create_table(client: &Client, name: &str) -> Result<(), String> {
    let err = |op: &str, e: String| format!("creating DynamoDB table {name}: {op}: {e}");
    let key = |attr: &str, kt: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(attr)
            .key_type(kt)
            .build()
            .map_err(|e| e.to_string())
    };
    let mut defs = Vec::new();
    for attr in [PK, SK, "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"] {
        defs.push(
            AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| err("schema", e.to_string()))?,
        );
    }
    let mut gsis = Vec::new();
    for ix in Index::ALL {
        gsis.push(
            GlobalSecondaryIndex::builder()
                .index_name(ix.name())
                .key_schema(key(ix.pk_attr(), KeyType::Hash).map_err(|e| err("schema", e))?)
                .key_schema(key(ix.sk_attr(), KeyType::Range).map_err(|e| err("schema", e))?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(|e| err("schema", e.to_string()))?,
        );
    }
    let created = client
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(defs))
        .key_schema(key(PK, KeyType::Hash).map_err(|e| err("schema", e))?)
        .key_schema(key(SK, KeyType::Range).map_err(|e| err("schema", e))?)
        .set_global_secondary_indexes(Some(gsis))
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .map_err(|e| err("schema", e.to_string()))?,
        )
        .send()
        .await;
    if let Err(e) = created {
        if e.code() != Some("ResourceInUseException") {
            return Err(err("CreateTable", error_text(&e)));
        }
    }
    // Wait until the table is ACTIVE (immediate on emulators).
    let mut waited = Duration::ZERO;
    loop {
        let out = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| err("DescribeTable", error_text(&e)))?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            break;
        }
        if waited > Duration::from_secs(300) {
            return Err(err(
                "DescribeTable",
                "table did not become ACTIVE within 5 minutes".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        waited += Duration::from_millis(500);
    }
    let ttl = client
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(|e| err("DescribeTimeToLive", error_text(&e)))?;
    let enabled = ttl.time_to_live_description().is_some_and(|d| {
        d.attribute_name() == Some(TTL)
            && matches!(
                d.time_to_live_status(),
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            )
    });
    if !enabled {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(TTL)
                    .build()
                    .map_err(|e| err("schema", e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| err("UpdateTimeToLive", error_text(&e)))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Item <-> AttributeValue.
//
// Not serde_dynamo: with serde_json's `arbitrary_precision` a Number
// serializes as a private one-field struct (it would be stored as an M) and N
// deserializes through i64/u64/f64, losing digits; so convert by hand.

/// A JSON value as a DynamoDB attribute value (numbers keep every digit).
pub fn to_attr(v: &Value) -> AttributeValue {
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(a) => AttributeValue::L(a.iter().map(to_attr).collect()),
        Value::Object(m) => {
            AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect())
        }
    }
}

/// A DynamoDB attribute value as JSON. Sets become arrays, binaries base64
/// strings (this engine never writes either).
pub fn from_attr(av: AttributeValue) -> Result<Value, TableError> {
    Ok(match av {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(b),
        AttributeValue::N(n) => Value::Number(parse_number(&n)?),
        AttributeValue::S(s) => Value::String(s),
        AttributeValue::L(l) => {
            Value::Array(l.into_iter().map(from_attr).collect::<Result<_, _>>()?)
        }
        AttributeValue::M(m) => Value::Object(from_attrs(m)?),
        AttributeValue::Ss(ss) => Value::Array(ss.into_iter().map(Value::String).collect()),
        AttributeValue::Ns(ns) => Value::Array(
            ns.iter()
                .map(|n| parse_number(n).map(Value::Number))
                .collect::<Result<_, _>>()?,
        ),
        AttributeValue::B(b) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_ref()))
        }
        AttributeValue::Bs(bs) => Value::Array(
            bs.iter()
                .map(|b| {
                    Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_ref()))
                })
                .collect(),
        ),
        other => {
            return Err(TableError::Backend(format!(
                "unsupported DynamoDB attribute value {other:?}"
            )))
        }
    })
}

pub fn to_attrs(item: &Item) -> AttrMap {
    item.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect()
}

pub fn from_attrs(m: AttrMap) -> Result<Item, TableError> {
    // Sorted, so the attribute order does not depend on the response.
    let mut pairs: Vec<_> = m.into_iter().collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
        .into_iter()
        .map(|(k, v)| Ok((k, from_attr(v)?)))
        .collect()
}

fn parse_number(n: &str) -> Result<serde_json::Number, TableError> {
    serde_json::Number::from_str(&plain_number(n))
        .map_err(|_| TableError::Backend(format!("DynamoDB returned a bad number {n:?}")))
}

/// Exponent notation (`1.5E+3`, `-1E-8`) to plain decimal (`1500`,
/// `-0.00000001`), so numbers read back as they were written whatever form
/// the service normalizes them to. Anything else is returned unchanged.
fn plain_number(n: &str) -> String {
    let Some(epos) = n.find(['e', 'E']) else {
        return n.to_string();
    };
    let Ok(exp) = n[epos + 1..].parse::<i64>() else {
        return n.to_string();
    };
    if exp.abs() > 400 {
        return n.to_string();
    }
    let mant = &n[..epos];
    let (neg, mant) = match mant.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mant.strip_prefix('+').unwrap_or(mant)),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let digits = format!("{int}{frac}");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return n.to_string();
    }
    let point = int.len() as i64 + exp;
    let (ip, fp) = if point <= 0 {
        (String::new(), "0".repeat((-point) as usize) + &digits)
    } else if point as usize >= digits.len() {
        (
            digits.clone() + &"0".repeat(point as usize - digits.len()),
            String::new(),
        )
    } else {
        (
            digits[..point as usize].to_string(),
            digits[point as usize..].to_string(),
        )
    };
    let ip = ip.trim_start_matches('0');
    let ip = if ip.is_empty() { "0" } else { ip };
    let fp = fp.trim_end_matches('0');
    let body = if fp.is_empty() {
        ip.to_string()
    } else {
        format!("{ip}.{fp}")
    };
    if neg && body != "0" {
        format!("-{body}")
    } else {
        body
    }
}

fn key_attrs(key: &Key) -> AttrMap {
    HashMap::from([
        (PK.to_string(), AttributeValue::S(key.pk.clone())),
        (SK.to_string(), AttributeValue::S(key.sk.clone())),
    ])
}

fn validate_key(key: &Key) -> Result<(), TableError> {
    if key.pk.is_empty() || key.sk.is_empty() {
        Err(TableError::Validation("pk and sk must be non-empty".into()))
    } else {
        Ok(())
    }
}

/// Expired the way DynamoDB conditions see it (`ttl` a number <= now). Reads
/// use the port's `is_expired`.
fn stored_expired(item: &Item, now: i64) -> bool {
    matches!(
        item.get(TTL),
        Some(ttl @ Value::Number(_)) if matches!(compare(ttl, &Value::from(now)), Some(Ordering::Less | Ordering::Equal))
    )
}

fn tx_cond(op: &TxOp) -> Option<&Cond> {
    match op {
        TxOp::Put { cond, .. } | TxOp::Update { cond, .. } | TxOp::Delete { cond, .. } => {
            cond.as_ref()
        }
        TxOp::Check { cond, .. } => Some(cond),
    }
}

// ---------------------------------------------------------------------------
// Expressions.

/// A condition expression, with its top-level operator so that parentheses
/// go only where precedence needs them (DynamoDB refuses redundant ones).
struct Cx {
    text: String,
    op: Op,
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Atom,
    And,
    Or,
}

impl Cx {
    fn atom(text: String) -> Cx {
        Cx { text, op: Op::Atom }
    }

    /// Parts joined with AND (precedence NOT > AND > OR: OR parts need
    /// parentheses).
    fn and(parts: Vec<Cx>) -> Cx {
        if parts.len() == 1 {
            return parts.into_iter().next().expect("one part");
        }
        let texts: Vec<String> = parts
            .into_iter()
            .map(|p| {
                if p.op == Op::Or {
                    format!("({})", p.text)
                } else {
                    p.text
                }
            })
            .collect();
        Cx {
            text: texts.join(" AND "),
            op: Op::And,
        }
    }

    fn or(parts: Vec<Cx>) -> Cx {
        if parts.len() == 1 {
            return parts.into_iter().next().expect("one part");
        }
        let texts: Vec<String> = parts.into_iter().map(|p| p.text).collect();
        Cx {
            text: texts.join(" OR "),
            op: Op::Or,
        }
    }

    fn not(inner: Cx) -> Cx {
        Cx::atom(format!("NOT ({})", inner.text))
    }
}

/// Names and values of one request's expressions.
struct Expr {
    now: i64,
    names: HashMap<String, String>,
    placeholders: HashMap<String, String>,
    values: AttrMap,
    now_placeholder: Option<String>,
}

impl Expr {
    fn new(now: i64) -> Self {
        Expr {
            now,
            names: HashMap::new(),
            placeholders: HashMap::new(),
            values: HashMap::new(),
            now_placeholder: None,
        }
    }

    fn name(&mut self, attr: &str) -> String {
        if let Some(p) = self.placeholders.get(attr) {
            return p.clone();
        }
        let p = format!("#n{}", self.placeholders.len());
        self.placeholders.insert(attr.to_string(), p.clone());
        self.names.insert(p.clone(), attr.to_string());
        p
    }

    fn value(&mut self, v: AttributeValue) -> String {
        let p = format!(":v{}", self.values.len());
        self.values.insert(p.clone(), v);
        p
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<AttrMap> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    fn always(&mut self) -> Cx {
        let n = self.name(PK);
        Cx::or(vec![
            Cx::atom(format!("attribute_exists({n})")),
            Cx::atom(format!("attribute_not_exists({n})")),
        ])
    }

    fn never(&mut self) -> Cx {
        let n = self.name(PK);
        Cx::and(vec![
            Cx::atom(format!("attribute_exists({n})")),
            Cx::atom(format!("attribute_not_exists({n})")),
        ])
    }

    /// `cond` in DynamoDB's condition language, evaluated on the stored item.
    fn cond(&mut self, c: &Cond) -> Cx {
        let cmp = |ex: &mut Expr, a: &str, op: &str, v: &Value| {
            // DynamoDB orders numbers and strings only (other operand types
            // are a ValidationException); the port says "never true".
            if matches!(v, Value::Number(_) | Value::String(_)) {
                let n = ex.name(a);
                let v = ex.value(to_attr(v));
                Cx::atom(format!("{n} {op} {v}"))
            } else {
                ex.never()
            }
        };
        match c {
            Cond::Exists => Cx::atom(format!("attribute_exists({})", self.name(PK))),
            Cond::NotExists => Cx::atom(format!("attribute_not_exists({})", self.name(PK))),
            Cond::AttrExists(a) => Cx::atom(format!("attribute_exists({})", self.name(a))),
            Cond::AttrNotExists(a) => Cx::atom(format!("attribute_not_exists({})", self.name(a))),
            Cond::Eq(a, v) => {
                let n = self.name(a);
                let v = self.value(to_attr(v));
                Cx::atom(format!("{n} = {v}"))
            }
            Cond::Ne(a, v) => {
                let n = self.name(a);
                let v = self.value(to_attr(v));
                Cx::or(vec![
                    Cx::atom(format!("attribute_not_exists({n})")),
                    Cx::atom(format!("{n} <> {v}")),
                ])
            }
            Cond::Lt(a, v) => cmp(self, a, "<", v),
            Cond::Le(a, v) => cmp(self, a, "<=", v),
            Cond::Gt(a, v) => cmp(self, a, ">", v),
            Cond::Ge(a, v) => cmp(self, a, ">=", v),
            Cond::And(cs) if cs.is_empty() => self.always(),
            Cond::Or(cs) if cs.is_empty() => self.never(),
            Cond::And(cs) => Cx::and(cs.iter().map(|c| self.cond(c)).collect()),
            Cond::Or(cs) => Cx::or(cs.iter().map(|c| self.cond(c)).collect()),
        }
    }

    fn now_value(&mut self) -> String {
        if let Some(p) = &self.now_placeholder {
            return p.clone();
        }
        let p = self.value(AttributeValue::N(self.now.to_string()));
        self.now_placeholder = Some(p.clone());
        p
    }

    /// The stored item has expired.
    fn expired(&mut self) -> Cx {
        let t = self.name(TTL);
        let now = self.now_value();
        Cx::atom(format!("{t} <= {now}"))
    }

    /// The item is absent or live (not expired).
    fn not_expired(&mut self) -> Cx {
        let t = self.name(TTL);
        let e = self.expired();
        Cx::or(vec![
            Cx::atom(format!("attribute_not_exists({t})")),
            Cx::not(e),
        ])
    }

    /// `cond` evaluated on the live item: an expired item counts as absent.
    /// When the item is absent DynamoDB evaluates `cond` as `cond.eval(None)`
    /// already; for an expired item force that same outcome.
    fn on_live(&mut self, c: &Cond) -> String {
        let expr = self.cond(c);
        if c.eval(None) {
            let e = self.expired();
            Cx::or(vec![expr, e]).text
        } else {
            let l = self.not_expired();
            Cx::and(vec![expr, l]).text
        }
    }

    /// For updates: `cond` holds and the stored item is not expired (an
    /// expired item is swept first, then the update retried, so it starts
    /// from an empty item like in the embedded engine).
    fn guarded(&mut self, c: Option<&Cond>) -> String {
        let l = self.not_expired();
        match c {
            Some(c) => {
                let expr = self.cond(c);
                Cx::and(vec![expr, l]).text
            }
            None => l.text,
        }
    }

    /// The key condition on the sort key (None for `SortKey::All`).
    fn sort_key(&mut self, attr: &str, sk: &SortKey) -> Option<String> {
        let (op, v) = match sk {
            SortKey::All => return None,
            SortKey::Eq(v) => ("=", v),
            SortKey::Lt(v) => ("<", v),
            SortKey::Le(v) => ("<=", v),
            SortKey::Gt(v) => (">", v),
            SortKey::Ge(v) => (">=", v),
            SortKey::BeginsWith(p) => {
                let n = self.name(attr);
                let v = self.value(AttributeValue::S(p.clone()));
                return Some(format!("begins_with({n}, {v})"));
            }
            SortKey::Between(a, b) => {
                let n = self.name(attr);
                let a = self.value(AttributeValue::S(a.clone()));
                let b = self.value(AttributeValue::S(b.clone()));
                return Some(format!("{n} BETWEEN {a} AND {b}"));
            }
        };
        let n = self.name(attr);
        let v = self.value(AttributeValue::S(v.clone()));
        Some(format!("{n} {op} {v}"))
    }

    /// An update expression that changes nothing (an empty `Update` still
    /// creates the item with its key): REMOVE of an attribute never stored.
    fn noop_update(&mut self) -> String {
        let n = self.name("__satsgate_noop");
        format!("REMOVE {n}")
    }

    /// The UpdateExpression for `u` (None if it changes nothing), with the
    /// embedded engine's order: all SETs, then REMOVEs, then ADDs.
    fn update(&mut self, u: &Update) -> Result<Option<String>, TableError> {
        enum Eff {
            Set(Value),
            Remove,
            Add(Decimal),
        }
        let mut order: Vec<String> = Vec::new();
        let mut eff: HashMap<String, Eff> = HashMap::new();
        let put = |order: &mut Vec<String>, eff: &mut HashMap<String, Eff>, a: &str, e: Eff| {
            if !eff.contains_key(a) {
                order.push(a.to_string());
            }
            eff.insert(a.to_string(), e);
        };
        for (a, v) in &u.set {
            check_not_key(a)?;
            put(&mut order, &mut eff, a, Eff::Set(v.clone()));
        }
        for a in &u.remove {
            check_not_key(a)?;
            put(&mut order, &mut eff, a, Eff::Remove);
        }
        for (a, by) in &u.add {
            check_not_key(a)?;
            let by = Decimal::from(*by);
            let next = match eff.get(a) {
                None => Eff::Add(by),
                Some(Eff::Add(x)) => Eff::Add(*x + by),
                Some(Eff::Remove) => Eff::Set(number(by)),
                Some(Eff::Set(Value::Number(n))) => {
                    let x = Decimal::from_str(&n.to_string())
                        .map_err(|_| TableError::Validation(format!("`{a}` is not a number")))?;
                    Eff::Set(number(x + by))
                }
                Some(Eff::Set(_)) => {
                    return Err(TableError::Validation(format!(
                        "ADD on `{a}`, which is not a number"
                    )))
                }
            };
            put(&mut order, &mut eff, a, next);
        }
        let (mut sets, mut removes, mut adds) = (Vec::new(), Vec::new(), Vec::new());
        for a in &order {
            let n = self.name(a);
            match &eff[a] {
                Eff::Set(v) => {
                    let v = self.value(to_attr(v));
                    sets.push(format!("{n} = {v}"));
                }
                Eff::Remove => removes.push(n),
                Eff::Add(by) => {
                    let v = self.value(AttributeValue::N(by.to_string()));
                    adds.push(format!("{n} {v}"));
                }
            }
        }
        let mut clauses = Vec::new();
        if !sets.is_empty() {
            clauses.push(format!("SET {}", sets.join(", ")));
        }
        if !removes.is_empty() {
            clauses.push(format!("REMOVE {}", removes.join(", ")));
        }
        if !adds.is_empty() {
            clauses.push(format!("ADD {}", adds.join(", ")));
        }
        Ok((!clauses.is_empty()).then(|| clauses.join(" ")))
    }
}

// ---------------------------------------------------------------------------
// Errors.

fn error_text<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e.code() {
        Some(code) => format!("{code}: {}", e.message().unwrap_or("")),
        None => DisplayErrorContext(e).to_string(),
    }
}

fn is_busy_code(code: &str) -> bool {
    matches!(
        code,
        "ThrottlingException"
            | "Throttling"
            | "ThrottlingError"
            | "ProvisionedThroughputExceededException"
            | "ProvisionedThroughputExceeded"
            | "RequestLimitExceeded"
            | "TransactionConflictException"
            | "TransactionConflict"
            | "TransactionInProgressException"
    )
}

fn sdk_error<E, R>(op: &str, e: SdkError<E, R>) -> TableError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e.code() {
        Some("ConditionalCheckFailedException") => TableError::ConditionFailed { op: None },
        Some(code) if is_busy_code(code) => TableError::Busy,
        Some("ValidationException")
            if e.message().is_some_and(|m| {
                m.contains("incorrect data type") || m.contains("operand type")
            }) =>
        {
            // e.g. ADD on a string attribute: the request is invalid, as in
            // the embedded engine.
            TableError::Validation(format!("DynamoDB {op}: {}", error_text(&e)))
        }
        _ => TableError::Backend(format!("DynamoDB {op} failed: {}", error_text(&e))),
    }
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> TableError {
    TableError::Backend(format!("building DynamoDB request: {e}"))
}

// ---------------------------------------------------------------------------

#[async_trait]
impl Table for DynamoTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        validate_key(key)?;
        let raw = self.get_raw(key).await?;
        let now = self.now();
        Ok(raw.filter(|i| !is_expired(i, now)))
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, TableError> {
        if keys.len() > 100 {
            return Err(TableError::Validation(
                "at most 100 keys per get_many".into(),
            ));
        }
        for k in keys {
            validate_key(k)?;
        }
        // BatchGetItem refuses duplicate keys: ask for each key once.
        let mut unique: Vec<&Key> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for k in keys {
            if seen.insert(k) {
                unique.push(k);
            }
        }
        let mut found: HashMap<Key, Item> = HashMap::new();
        if !unique.is_empty() {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(unique.iter().map(|k| key_attrs(k)).collect()))
                    .consistent_read(true)
                    .build()
                    .map_err(build_error)?,
            );
            let mut backoff = Duration::from_millis(20);
            let mut rounds = 0;
            while let Some(ka) = pending.take() {
                rounds += 1;
                if rounds > 12 {
                    return Err(TableError::Busy);
                }
                let g = self.shared().await;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, ka)
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchGetItem", e))?;
                drop(g);
                for raw in out
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    let item = from_attrs(raw)?;
                    if let Some(k) = Key::of(&item) {
                        found.insert(k, item);
                    }
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|ka| !ka.keys().is_empty());
                if pending.is_some() {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
        let now = self.now();
        Ok(keys
            .iter()
            .map(|k| found.get(k).filter(|i| !is_expired(i, now)).cloned())
            .collect())
    }

    async fn put(&self, item: Item, cond: Option<Cond>) -> Result<(), TableError> {
        let key = Key::of(&item)
            .ok_or_else(|| TableError::Validation("item needs string pk and sk".into()))?;
        validate_key(&key)?;
        let mut ex = Expr::new(self.now());
        let cond = cond.as_ref().map(|c| ex.on_live(c));
        let _g = self.exclusive().await;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_attrs(&item)))
            .set_condition_expression(cond)
            .set_expression_attribute_names(ex.names())
            .set_expression_attribute_values(ex.values())
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        cond: Option<Cond>,
    ) -> Result<Item, TableError> {
        validate_key(key)?;
        // Refuse invalid updates before touching the table.
        Expr::new(0).update(&update)?;
        for _ in 0..MAX_ATTEMPTS {
            let mut ex = Expr::new(self.now());
            let upd = ex.update(&update)?.unwrap_or_else(|| ex.noop_update());
            let guard = ex.guarded(cond.as_ref());
            let g = self.exclusive().await;
            let res = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key_attrs(key)))
                .update_expression(upd)
                .condition_expression(guard)
                .set_expression_attribute_names(ex.names())
                .set_expression_attribute_values(ex.values())
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            drop(g);
            match res.map_err(|e| sdk_error("UpdateItem", e)) {
                Ok(out) => {
                    let mut item = from_attrs(out.attributes.unwrap_or_default())?;
                    item.entry(PK)
                        .or_insert_with(|| Value::String(key.pk.clone()));
                    item.entry(SK)
                        .or_insert_with(|| Value::String(key.sk.clone()));
                    return Ok(item);
                }
                Err(TableError::ConditionFailed { .. }) => {
                    if !self.retry_after_guard(key, cond.as_ref()).await? {
                        return Err(TableError::ConditionFailed { op: None });
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(TableError::Busy)
    }

    async fn delete(&self, key: &Key, cond: Option<Cond>) -> Result<Option<Item>, TableError> {
        validate_key(key)?;
        let now = self.now();
        let mut ex = Expr::new(now);
        let cond = cond.as_ref().map(|c| ex.on_live(c));
        let _g = self.exclusive().await;
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .set_condition_expression(cond)
            .set_expression_attribute_names(ex.names())
            .set_expression_attribute_values(ex.values())
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_error("DeleteItem", e))?;
        let old = out.attributes.map(from_attrs).transpose()?;
        Ok(old.filter(|i| !is_expired(i, now)))
    }

    async fn query(&self, q: Query) -> Result<Page, TableError> {
        let limit = q.limit.max(1);
        let start = q
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c, q.index))
            .transpose()?;
        let (pk_attr, sk_attr) = match q.index {
            None => (PK, SK),
            Some(ix) => (ix.pk_attr(), ix.sk_attr()),
        };
        if let Some(c) = &start {
            if s(c, pk_attr) != Some(q.pk.as_str()) {
                return Err(TableError::Validation("malformed cursor".into()));
            }
        }
        // DynamoDB refuses an empty key value; nothing can be stored under it.
        if q.pk.is_empty() {
            return Ok(Page::default());
        }
        let mut ex = Expr::new(0);
        let pk_name = ex.name(pk_attr);
        let pk_value = ex.value(AttributeValue::S(q.pk.clone()));
        let mut key_cond = format!("{pk_name} = {pk_value}");
        if let SortKey::Between(a, b) = &q.sk {
            if a > b {
                // DynamoDB refuses an empty range; the port says "nothing".
                return Ok(Page::default());
            }
        }
        if let Some(sk_cond) = ex.sort_key(sk_attr, &q.sk) {
            key_cond.push_str(" AND ");
            key_cond.push_str(&sk_cond);
        }
        let now = self.now();
        let mut items: Vec<Item> = Vec::new();
        let mut exclusive_start = start.as_ref().map(to_attrs);
        loop {
            let want = (limit + 1 - items.len()).min(1000) as i32;
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(&key_cond)
                .set_expression_attribute_names(ex.names())
                .set_expression_attribute_values(ex.values())
                .scan_index_forward(q.forward)
                .limit(want)
                .set_exclusive_start_key(exclusive_start.take());
            match q.index {
                None => req = req.consistent_read(true),
                Some(ix) => req = req.index_name(ix.name()),
            }
            let g = self.shared().await;
            let res = req.send().await;
            drop(g);
            let out = res.map_err(|e| {
                let err = sdk_error("Query", e);
                match err {
                    TableError::Backend(m)
                        if start.is_some() && m.contains("ValidationException") =>
                    {
                        TableError::Validation(format!("cursor does not fit this query ({m})"))
                    }
                    other => other,
                }
            })?;
            for raw in out.items.unwrap_or_default() {
                let item = from_attrs(raw)?;
                if !is_expired(&item, now) {
                    items.push(item);
                }
            }
            if items.len() > limit {
                break;
            }
            match out.last_evaluated_key {
                Some(lek) if !lek.is_empty() => exclusive_start = Some(lek),
                _ => break,
            }
        }
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = if more {
            items.last().map(|i| encode_cursor(i, q.index))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn transact(&self, ops: Vec<TxOp>) -> Result<(), TableError> {
        validate_tx(&ops)?;
        for op in &ops {
            validate_key(&op.key().expect("validated"))?;
            if let TxOp::Update { update, .. } = op {
                Expr::new(0).update(update)?;
            }
        }
        for _ in 0..MAX_ATTEMPTS {
            let now = self.now();
            let items = ops
                .iter()
                .map(|op| self.tx_item(op, now))
                .collect::<Result<Vec<_>, _>>()?;
            let g = self.exclusive().await;
            let res = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                // SDK retries of this very request stay idempotent.
                .client_request_token(uuid::Uuid::new_v4().to_string())
                .send()
                .await;
            drop(g);
            let err = match res {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let reasons: Option<Vec<(Option<String>, Option<String>)>> =
                match err.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(c)) => Some(
                        c.cancellation_reasons()
                            .iter()
                            .map(|r| {
                                (
                                    r.code().map(str::to_string),
                                    r.message().map(str::to_string),
                                )
                            })
                            .collect(),
                    ),
                    _ => None,
                };
            let Some(reasons) = reasons else {
                return Err(sdk_error("TransactWriteItems", err));
            };
            let failed = reasons
                .iter()
                .position(|(code, _)| code.as_deref() == Some("ConditionalCheckFailed"));
            let failed = match failed {
                Some(i) => Some(i),
                None if reasons.is_empty() => {
                    // No CancellationReasons (an emulator): find out ourselves.
                    match self.first_failing_op(&ops).await? {
                        Some(i) => return Err(TableError::ConditionFailed { op: Some(i) }),
                        None => continue,
                    }
                }
                None => None,
            };
            let Some(i) = failed else {
                let codes: Vec<&str> = reasons
                    .iter()
                    .filter_map(|(c, _)| c.as_deref())
                    .filter(|c| *c != "None")
                    .collect();
                if codes.iter().any(|c| is_busy_code(c)) {
                    return Err(TableError::Busy);
                }
                let detail: Vec<String> = reasons
                    .iter()
                    .enumerate()
                    .filter(|(_, (c, _))| c.as_deref().is_some_and(|c| c != "None"))
                    .map(|(i, (c, m))| {
                        format!(
                            "op {i}: {} {}",
                            c.as_deref().unwrap_or(""),
                            m.as_deref().unwrap_or("")
                        )
                    })
                    .collect();
                return Err(TableError::Backend(format!(
                    "DynamoDB TransactWriteItems cancelled: {}",
                    detail.join("; ")
                )));
            };
            match &ops[i] {
                // Its guard (not expired) may be what failed.
                TxOp::Update { key, cond, .. } => {
                    if !self.retry_after_guard(key, cond.as_ref()).await? {
                        return Err(TableError::ConditionFailed { op: Some(i) });
                    }
                }
                _ => return Err(TableError::ConditionFailed { op: Some(i) }),
            }
        }
        Err(TableError::Busy)
    }

    fn engine(&self) -> &'static str {
        "dynamodb"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_exactly() {
        for n in [
            "12345678901234567890.123456789",
            "-0.00000001",
            "0",
            "-7",
            "1e3",
        ] {
            let v = Value::Number(serde_json::Number::from_str(n).unwrap());
            let back = from_attr(to_attr(&v)).unwrap();
            let expect = if n == "1e3" { "1000" } else { n };
            assert_eq!(back.to_string(), expect);
        }
        assert_eq!(plain_number("-1E-8"), "-0.00000001");
        assert_eq!(plain_number("1.5E+3"), "1500");
        assert_eq!(plain_number("1.2345E2"), "123.45");
        assert_eq!(plain_number("0E0"), "0");
    }

    #[test]
    fn update_expression_follows_embedded_order() {
        let mut ex = Expr::new(0);
        let u = Update::new()
            .set("a", 1)
            .remove("b")
            .add("c", 2)
            .add("a", 3)
            .remove("d")
            .add("d", 1);
        let e = ex.update(&u).unwrap().unwrap();
        assert!(e.starts_with("SET "), "{e}");
        assert!(e.contains("REMOVE") && e.contains("ADD"), "{e}");
        // a = 1 + 3 and d = 0 + 1 are SETs with known values
        assert!(ex
            .values
            .values()
            .any(|v| v == &AttributeValue::N("4".into())));
        assert!(matches!(
            Expr::new(0).update(&Update::new().set("sk", "x")),
            Err(TableError::Validation(_))
        ));
        assert_eq!(Expr::new(0).update(&Update::new()).unwrap(), None);
    }
}
