//! The buyer's side, all public (API.md "Public endpoints"): QR images
//! (`GET /v1/qr`), seed 000's payment protocol on `/r/{id}` and the hosted
//! checkout page `/i/{id}`. The invoice id in the URL is the capability;
//! what these show of an invoice is the public subset (`public_json`):
//! never the buyer's email, metadata, webhook URL or store internals.

pub mod page;
pub mod qr;

use crate::app::App;
use crate::chain::ChainError;
use crate::error::{ApiError, ErrorCode, FieldErrors};
use crate::handlers::ctx::Ctx;
use crate::http::Response;
use crate::ids::{is_id, IdKind};
use crate::invoice::{Invoice, Status};
use crate::money::amount_to_btc_string;
use crate::records::from_item;
use crate::request::{self, Field, Unknown, Word};
use crate::schema;
use crate::wire::wire_words;
use bitcoin::{Amount, Transaction, Txid};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::str::FromStr;
use time::OffsetDateTime;

/// Longest `data` a QR image is made of.
pub const MAX_QR_DATA: usize = 2000;
/// Transactions one `POST /r/{id}/pay` may carry (a payment and its parents).
pub const MAX_TRANSACTIONS: usize = 10;
/// The only chain and currency offered.
const CHAIN: &str = "BTC";

/// The invoice fields a buyer may see.
const PUBLIC_FIELDS: [&str; 20] = [
    "id",
    "object",
    "status",
    "amount",
    "currency",
    "crypto_amount",
    "crypto_amount_sats",
    "amount_paid",
    "amount_paid_sats",
    "amount_due_sats",
    "network",
    "address",
    "payment_uri",
    "payment_url",
    "checkout_url",
    "order_name",
    "memo",
    "redirect_url",
    "created_at",
    "expires_at",
];

crate::request_schema::request_type! {
    /// The query of `GET /v1/qr`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct QrQuery {
        pub data: Field<String>,
        pub format: Field<Word<QrFormat>>,
        pub size: Field<String>,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

/// The image format of a QR code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QrFormat {
    #[default]
    Svg,
    Png,
}

wire_words!(QrFormat {
    Svg => "svg",
    Png => "png",
});

/// A checked QR request: the data, format and size in pixels (if chosen).
#[derive(Debug, Clone, PartialEq)]
pub struct QrRequest {
    pub data: String,
    pub format: QrFormat,
    pub size: Option<u32>,
}

impl TryFrom<QrQuery> for QrRequest {
    type Error = ApiError;

    fn try_from(q: QrQuery) -> Result<QrRequest, ApiError> {
        let mut e = FieldErrors::default();
        let data = q.data.require("data", &mut e).filter(|d| {
            let fits = d.chars().count() <= MAX_QR_DATA;
            if !fits {
                e.add("data", format!("must be at most {MAX_QR_DATA} characters"));
            }
            fits
        });
        let format = q.format.take("format", &mut e).map(|w| w.0);
        let size = q
            .size
            .take("size", &mut e)
            .and_then(|v| match v.parse::<u32>() {
                Ok(n) if (1..=qr::MAX_SIZE).contains(&n) => Some(n),
                _ => {
                    e.add(
                        "size",
                        format!("must be a whole number of pixels up to {}", qr::MAX_SIZE),
                    );
                    None
                }
            });
        let value = data.map(|data| QrRequest {
            data,
            format: format.unwrap_or_default(),
            size,
        });
        q.unknown.finish_query(e, value)
    }
}

/// `GET /v1/qr?data=...&format=svg|png[&size=]` -> the QR image of `data`.
pub async fn qr(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let req = QrRequest::try_from(request::query::<QrQuery>(&cx.req.query)?)?;
    let data = req.data.as_str();
    let size = req.size;
    let modules = qr::encode(data).map_err(|e| ApiError::field("data", e))?;
    let size = size.unwrap_or(qr::DEFAULT_SIZE.max(modules.min_size()));
    let layout = modules
        .layout(size)
        .map_err(|e| ApiError::field("size", e))?;
    let response = match req.format {
        QrFormat::Png => Response::raw(200, "image/png", qr::png(&modules, layout)),
        QrFormat::Svg => Response::raw(200, "image/svg+xml", qr::svg_document(&modules, layout)),
    };
    Ok(response
        .with_header("Cache-Control", "public, max-age=86400")
        .with_header("X-Content-Type-Options", "nosniff"))
}

/// Load an invoice by id for a public page; anything unknown is 404.
pub async fn load_public(app: &App, id: &str) -> Result<Invoice, ApiError> {
    if !is_id(IdKind::Invoice, id) {
        return Err(ApiError::not_found("invoice"));
    }
    match app.table.get(&schema::invoice(id)).await? {
        Some(item) => from_item(item),
        None => Err(ApiError::not_found("invoice")),
    }
}

/// The invoice as a buyer sees it, plus seed 000's `uid` and `uri`.
pub fn public_json(inv: &Invoice, public_url: &str) -> Value {
    let full = inv.to_json(public_url);
    let mut out = Map::new();
    for f in PUBLIC_FIELDS {
        out.insert(f.to_string(), full.get(f).cloned().unwrap_or(Value::Null));
    }
    out.insert("store_name".into(), json!(inv.store_name));
    out.insert("uid".into(), json!(inv.id));
    out.insert(
        "uri".into(),
        json!(format!("pay:?r={public_url}/r/{}", inv.id)),
    );
    Value::Object(out)
}

/// Whether the invoice takes a payment now (`new`/`paid_partial`, before
/// expiry, something still due); otherwise the 409 saying why not.
pub fn payable(inv: &Invoice, now: OffsetDateTime) -> Result<(), ApiError> {
    let expired_at = (now >= inv.expires_at).then_some(inv.expires_at);
    let why = match inv.status {
        Status::New | Status::PaidPartial if expired_at.is_some() => {
            format!(
                "invoice {} expired at {}; ask the merchant for a new one",
                inv.id, inv.expires_at
            )
        }
        Status::New | Status::PaidPartial
            if inv.address.is_none() || inv.due_sats() == Amount::ZERO =>
        {
            format!("invoice {} has nothing left to pay", inv.id)
        }
        Status::New | Status::PaidPartial => return Ok(()),
        Status::Pending | Status::Completed => format!(
            "invoice {} is already paid ({})",
            inv.id,
            inv.status.as_str()
        ),
        Status::Expired => format!(
            "invoice {} expired at {}; ask the merchant for a new one",
            inv.id, inv.expires_at
        ),
        other => format!(
            "invoice {} is {} and accepts no payment",
            inv.id,
            other.as_str()
        ),
    };
    Err(ApiError::conflict(why))
}

/// `GET /r/{id}` -> `{invoice, payment_options: [{chain, currency, network,
/// amount, amount_sats}]}`; no options once the invoice takes no payment.
pub async fn get_request(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let inv = load_public(cx.app, cx.param("id")).await?;
    Ok(
        Response::ok(seed_request(&inv, cx.now(), &cx.app.config.public_url))
            .with_header("Cache-Control", "no-store"),
    )
}

/// An invoice as seed 000 shows a payment request (`GET /r/{id}`, `POST /r`):
/// `{invoice: {uid, uri, status (seed words), amount (number), payment_options:
/// {payment_options: [...]}, ...}, payment_options: [...]}`.
pub fn seed_request(inv: &Invoice, now: OffsetDateTime, public_url: &str) -> Value {
    let options: Vec<Value> = if payable(inv, now).is_ok() {
        let due = inv.due_sats();
        vec![json!({
            "chain": CHAIN,
            "currency": CHAIN,
            "network": inv.network,
            "amount": amount_to_btc_string(due),
            "amount_sats": due.to_sat(),
        })]
    } else {
        Vec::new()
    };
    let mut invoice = public_json(inv, public_url);
    // Seed 000's shape: status in its words (the REST status as `state`),
    // amount as a number, and the payment options nested as anypay nests them.
    invoice["state"] = invoice["status"].clone();
    invoice["status"] = crate::ws::seed::status_word(&invoice["state"]);
    invoice["amount"] = crate::ws::seed::num(&invoice["amount"]);
    let seed_options: Vec<Value> = options
        .iter()
        .map(|o| {
            json!({
                "chain": o["chain"],
                "currency": o["currency"],
                "instructions": [{"outputs": [{
                    "address": inv.address,
                    "amount": crate::ws::seed::num(&o["amount"]),
                }]}],
            })
        })
        .collect();
    invoice["payment_options"] = json!({ "payment_options": seed_options });
    json!({
        "invoice": invoice,
        "payment_options": options,
    })
}

/// Whether a `POST /r/{id}` carries a payment (`application/payment`, or a
/// JSON body with `transactions`) rather than asking for the request.
fn is_payment(cx: &Ctx<'_>) -> bool {
    let payment_type = cx.req.header("content-type").is_some_and(|t| {
        t.trim()
            .to_ascii_lowercase()
            .starts_with("application/payment")
    });
    payment_type
        || serde_json::from_slice::<Value>(&cx.req.body)
            .ok()
            .is_some_and(|b| b.get("transactions").is_some())
}

/// The one chain and currency offered, as a request word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Btc {
    #[serde(rename = "BTC")]
    Btc,
}

impl request::Words for Btc {
    const WORDS: &'static [&'static str] = &[CHAIN];
}

/// The body of `POST /r/{id}` asking for the payment request.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PaymentRequestBody {
    pub chain: Field<Word<Btc>>,
    pub currency: Field<Word<Btc>>,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// The body of `POST /r/{id}/pay` (and of `POST /r/{id}` with a payment).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PayBody {
    pub chain: Field<Word<Btc>>,
    pub currency: Field<Word<Btc>>,
    /// `[{"tx": "<signed raw transaction hex>"}]`, decoded in the conversion.
    pub transactions: Field<Value>,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// `chain` and `currency` of a protocol request: both `BTC`, both required.
fn chain_and_currency(chain: Field<Word<Btc>>, currency: Field<Word<Btc>>, e: &mut FieldErrors) {
    chain.require("chain", e);
    currency.require("currency", e);
}

impl PaymentRequestBody {
    /// Check the body (there is nothing to keep).
    fn check(self) -> Result<(), ApiError> {
        let mut e = FieldErrors::default();
        chain_and_currency(self.chain, self.currency, &mut e);
        self.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
        e.finish()
    }
}

impl TryFrom<PayBody> for Vec<Transaction> {
    type Error = ApiError;

    /// The signed transactions, decoded; every bad entry is reported.
    fn try_from(b: PayBody) -> Result<Vec<Transaction>, ApiError> {
        let mut e = FieldErrors::default();
        chain_and_currency(b.chain, b.currency, &mut e);
        let txs = b
            .transactions
            .require("transactions", &mut e)
            .and_then(|raw| decode_transactions(raw, &mut e));
        b.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
        e.finish()?;
        Ok(txs.unwrap_or_default())
    }
}

/// `POST /r/{id} {chain, currency}` -> the payment request `{chain,
/// currency, network, outputs: [{address, amount, amount_sats}], expires_at, memo}`.
pub async fn payment_request(cx: Ctx<'_>) -> Result<Response, ApiError> {
    // anypay clients send the payment itself here, as
    // `Content-Type: application/payment` with `transactions`.
    if is_payment(&cx) {
        return pay(cx).await;
    }
    let inv = load_public(cx.app, cx.param("id")).await?;
    request::body::<PaymentRequestBody>(&cx.req.body)?.check()?;
    payable(&inv, cx.now())?;
    let due = inv.due_sats();
    let memo = inv
        .memo
        .clone()
        .or_else(|| inv.order_name.clone())
        .unwrap_or_else(|| {
            if inv.store_name.is_empty() {
                format!("Payment for invoice {}", inv.id)
            } else {
                format!("Payment to {} for invoice {}", inv.store_name, inv.id)
            }
        });
    Ok(Response::ok(json!({
        "chain": CHAIN,
        "currency": CHAIN,
        "network": inv.network,
        "outputs": [{ "address": inv.address, "amount": amount_to_btc_string(due), "amount_sats": due.to_sat() }],
        "expires_at": inv.expires_at,
        "memo": memo,
    }))
    .with_header("Cache-Control", "no-store"))
}

/// The signed transactions of a `pay` body, decoded, with every bad entry
/// reported under `transactions[i].tx`.
fn decode_transactions(raw: Value, errors: &mut FieldErrors) -> Option<Vec<Transaction>> {
    let Value::Array(entries) = raw else {
        errors.add(
            "transactions",
            "must be an array of {\"tx\": \"<signed raw transaction hex>\"}",
        );
        return None;
    };
    if entries.is_empty() || entries.len() > MAX_TRANSACTIONS {
        errors.add(
            "transactions",
            format!("must hold 1 to {MAX_TRANSACTIONS} transactions"),
        );
        return None;
    }
    let mut txs = Vec::with_capacity(entries.len());
    let mut seen = HashSet::new();
    for (i, entry) in entries.iter().enumerate() {
        let field = format!("transactions[{i}].tx");
        let hex = match entry {
            Value::Object(m) => match (m.get("tx"), m.len()) {
                (Some(Value::String(s)), 1) => s.trim(),
                (Some(Value::String(_)), _) => {
                    errors.add(format!("transactions[{i}]"), "must hold only `tx`");
                    continue;
                }
                _ => {
                    errors.add(&field, "is required: the signed raw transaction as hex");
                    continue;
                }
            },
            _ => {
                errors.add(
                    format!("transactions[{i}]"),
                    "must be an object {\"tx\": \"<hex>\"}",
                );
                continue;
            }
        };
        let bytes = match hex::decode(hex) {
            Ok(b) if !b.is_empty() => b,
            _ => {
                errors.add(
                    &field,
                    "is not hex: send the signed raw transaction as a hex string",
                );
                continue;
            }
        };
        match bitcoin::consensus::deserialize::<Transaction>(&bytes) {
            Ok(tx) if tx.input.is_empty() || tx.output.is_empty() => {
                errors.add(&field, "is not a payment: it has no inputs or no outputs")
            }
            Ok(tx) => {
                if !seen.insert(tx.compute_txid()) {
                    errors.add(&field, format!("repeats transaction {}", tx.compute_txid()));
                } else {
                    txs.push(tx);
                }
            }
            Err(e) => errors.add(&field, format!("is not a valid Bitcoin transaction: {e}")),
        }
    }
    Some(txs)
}

/// Check that `txs` pay the invoice what is still due, counting only
/// outputs to its address that are not already recorded as payments, and
/// that each transaction either pays the invoice or is a parent of one that
/// does (the gateway is not a general relay).
fn verify_payment(inv: &Invoice, txs: &[Transaction]) -> Result<(), ApiError> {
    let address = inv.address.as_deref().unwrap_or_default();
    let script = bitcoin::Address::from_str(address)
        .ok()
        .and_then(|a| a.require_network(inv.network.to_bitcoin()).ok())
        .map(|a| a.script_pubkey())
        .ok_or_else(|| {
            tracing::error!(invoice = %inv.id, address, "stored invoice address does not parse");
            ApiError::internal("the invoice address could not be read")
        })?;
    let recorded: HashSet<(String, u32)> = inv
        .payments
        .iter()
        .filter(|p| p.counts())
        .map(|p| (p.txid.clone(), p.vout))
        .collect();
    let txids: Vec<Txid> = txs.iter().map(Transaction::compute_txid).collect();
    let mut errors = FieldErrors::default();
    let mut paid = Amount::ZERO;
    for (i, tx) in txs.iter().enumerate() {
        let mut pays = false;
        for (vout, out) in tx.output.iter().enumerate() {
            if out.script_pubkey == script {
                pays = true;
                if !recorded.contains(&(txids[i].to_string(), vout as u32)) {
                    paid = paid.checked_add(out.value).unwrap_or(Amount::MAX);
                }
            }
        }
        let parent = txs[i + 1..].iter().any(|later| {
            later
                .input
                .iter()
                .any(|inp| inp.previous_output.txid == txids[i])
        });
        if !pays && !parent {
            errors.add(
                format!("transactions[{i}].tx"),
                format!("pays nothing to the invoice address {address} and is not spent by a later transaction in the list"),
            );
        }
    }
    errors.finish()?;
    let due = inv.due_sats();
    if paid < due {
        return Err(ApiError::field(
            "transactions",
            format!(
                "pay {} sats ({} BTC) to the invoice address {address}, but {} sats ({} BTC) are due; \
                 nothing was broadcast",
                paid.to_sat(),
                amount_to_btc_string(paid),
                due.to_sat(),
                amount_to_btc_string(due)
            ),
        ));
    }
    Ok(())
}

/// `POST /r/{id}/pay {chain, currency, transactions: [{tx}]}`: verify the
/// signed transactions pay the invoice in full, broadcast them through the
/// chain adapter of the invoice's network, record the payment ->
/// `{"status": "success", "message": "Payment submitted successfully"}`.
pub async fn pay(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let app = cx.app;
    let inv = load_public(app, cx.param("id")).await?;
    let txs = Vec::<Transaction>::try_from(request::body::<PayBody>(&cx.req.body)?)?;
    payable(&inv, cx.now())?;
    verify_payment(&inv, &txs)?;
    let chain = app.chain(inv.network).ok_or_else(|| {
        ApiError::new(
            503,
            ErrorCode::Internal,
            format!(
                "no chain backend serves {} here; nothing was broadcast",
                inv.network
            ),
        )
    })?;
    let mut broadcast = 0;
    let mut failure = None;
    if let Some(sim) = app.sandbox(inv.network) {
        sim.refresh()
            .await
            .map_err(|e| ApiError::internal(format!("reading the sandbox chain: {e}")))?;
        // The sandbox takes the list all or nothing, as the invoice's store's.
        match sim.broadcast_for(Some(&inv.store_id), &txs) {
            Ok(txids) => broadcast = txids.len(),
            Err((i, e)) => failure = Some(broadcast_failure(&inv.id, i, e)),
        }
        if broadcast > 0 {
            sim.save()
                .await
                .map_err(|e| ApiError::internal(format!("saving the sandbox chain: {e}")))?;
        }
    } else {
        for (i, tx) in txs.iter().enumerate() {
            match chain.broadcast(tx).await {
                Ok(txid) => {
                    broadcast += 1;
                    tracing::info!(invoice = %inv.id, %txid, "payment broadcast");
                }
                Err(e) => {
                    failure = Some(broadcast_failure(&inv.id, i, e));
                    break;
                }
            }
        }
    }
    if broadcast > 0 {
        if let Err(e) = crate::invoice::poller::check_now(app, &inv.id).await {
            // The poller records it on its next run.
            tracing::warn!(invoice = %inv.id, error = %e, "check after broadcast failed");
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(Response::ok(
        json!({ "status": "success", "message": "Payment submitted successfully" }),
    ))
}

/// The API error for transaction `i` the chain did not take.
fn broadcast_failure(invoice_id: &str, i: usize, e: ChainError) -> ApiError {
    match e {
        ChainError::Rejected(reason) => ApiError::field(
            format!("transactions[{i}].tx"),
            format!("rejected by the network: {reason}; nothing was recorded"),
        ),
        e => {
            tracing::warn!(invoice = %invoice_id, error = %e, "broadcast failed");
            ApiError::new(
                502,
                ErrorCode::Internal,
                format!("the chain backend could not take transaction {i} ({e}); retry"),
            )
        }
    }
}

/// `GET /i/{id}`: the hosted checkout page (HTML); unknown ids get a 404 page.
pub async fn checkout_page(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let ws = cx.app.config.websocket_url.as_deref();
    let (status, html) = match load_public(cx.app, cx.param("id")).await {
        Ok(inv) => (200, page::checkout(&inv, cx.now(), ws)),
        Err(e) if e.status == 404 => (404, page::not_found()),
        Err(e) => (e.status, page::error(&e.message)),
    };
    Ok(page::html_response(status, html, ws))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::{Payment, PaymentStatus};
    use bitcoin::absolute::LockTime;
    use bitcoin::transaction::Version;
    use bitcoin::{OutPoint, ScriptBuf, Sequence, TxIn, TxOut, Witness};
    use rust_decimal::Decimal;

    const ADDRESS: &str = "bcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk";

    fn invoice(status: Status, sats: u64) -> Invoice {
        let mut inv: Invoice = serde_json::from_value(json!({
            "id": "inv_0123456789abcdef0123456789abcdef", "store_id": "store_1", "status": "new",
            "amount": "0.001", "currency": "BTC", "crypto_amount_sats": sats, "rate": null,
            "network": "regtest", "address": ADDRESS, "address_index": 0, "wallet_id": "w",
            "order_id": null, "order_name": null, "buyer_email": "b@example.com", "memo": null,
            "metadata": {"k": "v"}, "redirect_url": null, "webhook_url": "https://h.example/x",
            "speed_policy": "one_conf", "payment_tolerance_percent": "0", "flags": [],
            "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z",
            "expires_at": "2026-01-01T00:15:00.000Z", "monitoring_until": "2026-01-01T01:15:00.000Z",
            "accepted_sats": null, "quote_id": null, "comment": null, "version": 1, "store_name": "Shop",
        }))
        .unwrap();
        inv.status = status;
        inv.payment_tolerance_percent = Decimal::ZERO;
        inv
    }

    fn script() -> ScriptBuf {
        bitcoin::Address::from_str(ADDRESS)
            .unwrap()
            .assume_checked()
            .script_pubkey()
    }

    fn tx(spends: OutPoint, outputs: &[(ScriptBuf, u64)]) -> Transaction {
        Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: spends,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: outputs
                .iter()
                .map(|(s, v)| TxOut {
                    script_pubkey: s.clone(),
                    value: Amount::from_sat(*v),
                })
                .collect(),
        }
    }

    fn other() -> ScriptBuf {
        ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([9; 20]))
    }

    use crate::clock::{parse_rfc3339, Stamp};
    use bitcoin::hashes::Hash;

    #[test]
    fn payable_only_while_open_and_before_expiry() {
        let before = parse_rfc3339("2026-01-01T00:05:00Z").unwrap();
        let after = parse_rfc3339("2026-01-01T00:15:00Z").unwrap();
        assert!(payable(&invoice(Status::New, 1000), before).is_ok());
        assert!(payable(&invoice(Status::PaidPartial, 1000), before).is_ok());
        let e = payable(&invoice(Status::New, 1000), after).unwrap_err();
        assert_eq!(e.status, 409);
        assert!(e.message.contains("expired"), "{}", e.message);
        for (s, words) in [
            (Status::Pending, "already paid"),
            (Status::Completed, "already paid"),
            (Status::Expired, "expired"),
            (Status::Cancelled, "cancelled"),
            (Status::Invalid, "invalid"),
            (Status::Archived, "archived"),
            (Status::Refunded, "refunded"),
        ] {
            let e = payable(&invoice(s, 1000), before).unwrap_err();
            assert!(
                e.status == 409 && e.message.contains(words),
                "{s:?}: {}",
                e.message
            );
        }
    }

    #[test]
    fn verify_counts_outputs_to_the_invoice_once() {
        let inv = invoice(Status::New, 10_000);
        let funding = OutPoint::new(Txid::from_byte_array([1; 32]), 0);
        let full = tx(
            funding,
            &[(script(), 6_000), (other(), 1), (script(), 4_000)],
        );
        assert!(
            verify_payment(&inv, std::slice::from_ref(&full)).is_ok(),
            "two outputs add up"
        );
        let short = tx(funding, &[(script(), 9_999)]);
        let e = verify_payment(&inv, &[short]).unwrap_err();
        assert_eq!(
            (e.status, e.details.keys().next().unwrap().as_str()),
            (400, "transactions")
        );

        // A parent that pays nothing is fine; an unrelated transaction is not.
        let parent = tx(funding, &[(other(), 50_000)]);
        let child = tx(
            OutPoint::new(parent.compute_txid(), 0),
            &[(script(), 10_000)],
        );
        assert!(verify_payment(&inv, &[parent.clone(), child.clone()]).is_ok());
        let e = verify_payment(&inv, &[child.clone(), parent.clone()]).unwrap_err();
        assert!(e.details.contains_key("transactions[1].tx"), "{e:?}");

        // Outputs already recorded as payments do not count again.
        let first = tx(funding, &[(script(), 6_000)]);
        let mut partly = invoice(Status::PaidPartial, 10_000);
        partly.payments.push(Payment {
            id: "pay_1".into(),
            txid: first.compute_txid().to_string(),
            vout: 0,
            address: ADDRESS.into(),
            amount_sats: Amount::from_sat(6_000),
            confirmations: 0,
            block_height: None,
            block_hash: None,
            status: PaymentStatus::Mempool,
            rbf: false,
            seen_at: Stamp::parse("2026-01-01T00:01:00.000Z").unwrap(),
            late: false,
        });
        assert_eq!(partly.due_sats(), Amount::from_sat(4_000));
        let e = verify_payment(&partly, std::slice::from_ref(&first)).unwrap_err();
        assert!(
            e.details["transactions"][0].starts_with("pay 0 sats"),
            "{e:?}"
        );
        assert!(
            verify_payment(&partly, &[tx(funding, &[(script(), 4_000)])]).is_ok(),
            "the rest"
        );
        assert!(verify_payment(&partly, &[tx(funding, &[(script(), 3_999)])]).is_err());
    }

    #[test]
    fn public_json_hides_private_fields() {
        let v = public_json(&invoice(Status::New, 1000), "https://pay.example");
        for hidden in [
            "buyer_email",
            "metadata",
            "webhook_url",
            "store_id",
            "address_index",
            "payments",
            "order_id",
        ] {
            assert!(v.get(hidden).is_none(), "{hidden}");
        }
        assert_eq!(v["store_name"], "Shop");
        assert_eq!(
            v["payment_url"],
            "https://pay.example/r/inv_0123456789abcdef0123456789abcdef"
        );
        assert_eq!(
            v["uri"],
            "pay:?r=https://pay.example/r/inv_0123456789abcdef0123456789abcdef"
        );
        assert_eq!(v["status"], "new");
    }
}
