//! Invoices, payments, refunds, summary and the event log (API.md "Invoices").

use super::{cursor_error, list_body};
use crate::clock::{parse_flexible, rfc3339};
use crate::error::ApiError;
use crate::events::Event;
use crate::handlers::ctx::Ctx;
use crate::http::{Input, QueryInput, Response};
use crate::ids::{new_id, IdKind};
use crate::invoice::lifecycle::Input as Change;
use crate::invoice::repo::{self, apply_input, load_for_store};
use crate::invoice::{Invoice, Payment, Refund, RefundStatus, Status};
use crate::money::{btc_to_amount, check_amount, fiat_decimals, fiat_to_sats, sats_to_fiat};
use crate::prices::Fiat;
use crate::records::{from_item, to_item};
use crate::schema;
use crate::store::{SpeedPolicy, Store};
use crate::table::{encode_cursor, Cond, Index, Item, Query, SortKey, TxOp};
use bitcoin::Amount;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Outputs below this are non-standard and would never relay.
pub const DUST_SATS: u64 = 546;
const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// The buyer's browser is sent here: any absolute http(s) URL.
fn url_field(input: &mut Input, field: &str) -> Option<String> {
    let s = input.string(field, 2000)?;
    match reqwest::Url::parse(&s) {
        Ok(u)
            if matches!(u.scheme(), "https" | "http")
                && u.host_str().is_some_and(|h| !h.is_empty()) =>
        {
            Some(s)
        }
        _ => {
            input.error(field, "must be an absolute http(s) URL");
            None
        }
    }
}

/// An amount of money in `currency`, checked (`money::check_amount`); a
/// bad one is reported on `field`.
fn money_field(input: &mut Input, field: &str, amount: Decimal, currency: &str) -> Option<Decimal> {
    match check_amount(amount, currency) {
        Ok(a) => Some(a),
        Err(e) => {
            input.error(field, e);
            None
        }
    }
}

fn text_id(input: &mut Input, field: &str) -> Option<String> {
    let s = input.nonempty(field, 200)?;
    if s.chars().any(|c| c.is_control()) {
        input.error(field, "must not contain control characters");
        return None;
    }
    Some(s)
}

/// A price: BTC with up to 8 decimals, or a fiat amount with its currency's
/// minor units (see `money::check_amount`); returns (amount, sats, rate).
async fn price(
    app: &crate::app::App,
    amount: Decimal,
    currency: &str,
) -> Result<(Decimal, u64, Option<Decimal>), ApiError> {
    if currency == "BTC" {
        let amount = check_amount(amount, currency).map_err(|e| ApiError::field("amount", e))?;
        let sats = btc_to_amount(amount)
            .map_err(|e| ApiError::field("amount", e))?
            .to_sat();
        return Ok((amount, sats, None));
    }
    let fiat: Fiat = currency
        .parse()
        .map_err(|_| ApiError::field("currency", "must be BTC or a 3-letter fiat code"))?;
    if !app.config.fiats.contains(&fiat) {
        return Err(ApiError::field(
            "currency",
            format!(
                "unsupported currency `{currency}`: use BTC or one of {}",
                app.config
                    .fiats
                    .iter()
                    .map(|f| f.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let amount = check_amount(amount, currency).map_err(|e| ApiError::field("amount", e))?;
    let rate = crate::prices::rates::current_rate(app, &fiat).await?;
    let sats = fiat_to_sats(amount, rate.price)
        .map_err(|e| ApiError::field("amount", e))?
        .to_sat();
    Ok((amount, sats, Some(rate.price)))
}

/// What a new invoice asks for (the body of `POST /v1/invoices`, parsed);
/// the faces build one from their own requests.
#[derive(Debug, Default, Clone)]
pub struct NewInvoice {
    pub quote_id: Option<String>,
    pub amount: Option<Decimal>,
    pub currency: Option<String>,
    pub order_id: Option<String>,
    pub order_name: Option<String>,
    pub memo: Option<String>,
    pub buyer_email: Option<String>,
    pub redirect_url: Option<String>,
    pub webhook_url: Option<String>,
    pub expire_min: Option<i64>,
    pub tolerance: Option<Decimal>,
    pub speed: Option<SpeedPolicy>,
    pub metadata: Option<serde_json::Map<String, Value>>,
}

impl NewInvoice {
    /// Parse a v1 invoice body (every bad field reported at once).
    pub async fn parse(body: &[u8], insecure_urls: bool) -> Result<NewInvoice, ApiError> {
        let mut input = Input::from_body(body)?;
        let quote_id = input.nonempty("quote_id", 64);
        let amount = input.decimal("amount", Decimal::ZERO, Decimal::from(MAX_AMOUNT));
        let currency = input.string("currency", 8).map(|c| c.to_ascii_uppercase());
        let order_id = text_id(&mut input, "order_id");
        let order_name = input.string("order_name", 200);
        let memo = input.string("memo", 1000);
        let buyer_email = input.string("buyer_email", 254);
        if buyer_email
            .as_ref()
            .is_some_and(|e| !e.contains('@') || e.contains(char::is_whitespace))
        {
            input.error("buyer_email", "must be an email address");
        }
        let redirect_url = url_field(&mut input, "redirect_url");
        // Resolved and checked exactly as a webhook endpoint's `url` is.
        let webhook_url = match input.string("webhook_url", 2000) {
            Some(u) => match crate::webhooks::url::check_url(&u, insecure_urls).await {
                Ok(_) => Some(u),
                Err(e) => {
                    input.error("webhook_url", e);
                    None
                }
            },
            None => None,
        };
        let expire_min = input.int("expire_min", 1, 7 * 24 * 60);
        let tolerance = input.decimal("allowed_error_percent", Decimal::ZERO, Decimal::from(50));
        let speed = input
            .one_of("speed_policy", &SpeedPolicy::NAMES)
            .and_then(|s| SpeedPolicy::parse(&s));
        let metadata = input.object("metadata", 4096);
        if quote_id.is_none() {
            input.required("amount", amount);
        }
        input.finish()?;
        Ok(NewInvoice {
            quote_id,
            amount,
            currency,
            order_id,
            order_name,
            memo,
            buyer_email,
            redirect_url,
            webhook_url,
            expire_min,
            tolerance,
            speed,
            metadata,
        })
    }
}

/// `POST /v1/invoices` -> 201 invoice with a fresh address.
pub async fn create(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store: Store = cx.store()?.clone();
    let new = NewInvoice::parse(&cx.req.body, cx.app.config.allow_insecure_urls).await?;
    let inv = create_invoice(cx.app, &store, new, cx.idempotency.as_ref()).await?;
    Ok(Response::created(inv.to_json(&cx.app.config.public_url)))
}

/// Create an invoice of `store` (the use case behind `POST /v1/invoices`
/// and every face's invoice creation): priced now or at a held quote, with
/// the next address of the store's wallet.
pub async fn create_invoice(
    app: &crate::app::App,
    store: &Store,
    new: NewInvoice,
    lease: Option<&crate::handlers::ctx::IdempotencyLease>,
) -> Result<Invoice, ApiError> {
    let id = new_id(IdKind::Invoice);
    let mut extra_ops = Vec::new();
    let mut speed = new.speed;
    let (amount, currency, sats, rate) = match &new.quote_id {
        Some(qid) => {
            let (quote, _) = crate::prices::quotes::quote_for_invoice(app, &store.id, qid).await?;
            if new.amount.is_some_and(|a| a != quote.amount)
                || new
                    .currency
                    .as_ref()
                    .is_some_and(|c| c != quote.currency.as_str())
            {
                return Err(ApiError::field(
                    "amount",
                    "must match the quote's amount and currency (or be left out)",
                ));
            }
            extra_ops.push(quote.claim_op(Some(&id), app.now()));
            // The quote's terms (seed 002 GetRate): the buyer pays the total
            // (amount + network fee), and a quote that accepted zero-conf
            // settles on a non-RBF unconfirmed payment, unless this request
            // names its own speed policy.
            if quote.accept_zero_conf {
                speed = speed.or(Some(SpeedPolicy::ZeroConf));
            }
            (
                quote.amount,
                quote.currency.to_string(),
                quote.total_sats,
                Some(quote.rate),
            )
        }
        None => {
            let amount = new
                .amount
                .ok_or_else(|| ApiError::field("amount", "is required"))?;
            let currency = new
                .currency
                .clone()
                .unwrap_or_else(|| store.default_currency.clone());
            let (amount, sats, rate) = price(app, amount, &currency).await?;
            (amount, currency, sats, rate)
        }
    };
    if sats < DUST_SATS {
        return Err(ApiError::field(
            "amount",
            format!(
                "is {sats} sats; the smallest payable amount is {DUST_SATS} sats (the dust limit)"
            ),
        ));
    }
    let now = app.now();
    let expires = now + time::Duration::minutes(new.expire_min.unwrap_or(store.expiration_minutes));
    let inv = Invoice {
        id,
        store_id: store.id.clone(),
        status: Status::New,
        amount,
        currency,
        crypto_amount_sats: sats,
        rate,
        network: store.network,
        address: None,
        address_index: None,
        wallet_id: None,
        order_id: new.order_id,
        order_name: new.order_name,
        buyer_email: new.buyer_email,
        memo: new.memo,
        metadata: new.metadata,
        redirect_url: new.redirect_url,
        webhook_url: new.webhook_url,
        speed_policy: speed.unwrap_or(store.speed_policy),
        payment_tolerance_percent: new.tolerance.unwrap_or(store.payment_tolerance_percent),
        flags: vec![],
        created_at: rfc3339(now),
        updated_at: rfc3339(now),
        expires_at: rfc3339(expires),
        monitoring_until: rfc3339(expires + time::Duration::minutes(store.monitoring_minutes)),
        payments: vec![],
        refunds: vec![],
        accepted_sats: None,
        quote_id: new.quote_id,
        comment: None,
        version: 1,
        store_name: store.name.clone(),
        confirmed_payments: vec![],
    };
    repo::create(app, store, inv, extra_ops, lease).await
}

/// `GET /v1/invoices/{id}`.
pub async fn get(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?;
    let inv = load_for_store(cx.app, &store.id, cx.param("id")).await?;
    Ok(Response::ok(inv.to_json(&cx.app.config.public_url)))
}

fn time_param(q: &mut QueryInput<'_>, name: &'static str) -> Option<String> {
    let v = q.get(name)?;
    match parse_flexible(v) {
        Ok(t) => Some(rfc3339(t)),
        Err(e) => {
            q.errors.add(name, e);
            None
        }
    }
}

/// One page of a filtered listing: reads index pages (at least 50 items at a
/// time) until `limit` items pass `pick`, and returns them with a cursor
/// just after the last one returned (None when nothing follows).
async fn filtered_page(
    app: &crate::app::App,
    query: Query,
    index: Option<Index>,
    limit: usize,
    mut cursor: Option<String>,
    pick: impl Fn(&Item) -> Result<Option<Value>, ApiError>,
) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let mut out = Vec::new();
    loop {
        let page = app
            .table
            .query(
                query
                    .clone()
                    .limit((limit - out.len()).max(50))
                    .cursor(cursor),
            )
            .await
            .map_err(cursor_error)?;
        let n = page.items.len();
        for (i, item) in page.items.iter().enumerate() {
            if let Some(v) = pick(item)? {
                out.push(v);
                if out.len() == limit {
                    let more = i + 1 < n || page.next_cursor.is_some();
                    return Ok((out, more.then(|| encode_cursor(item, index))));
                }
            }
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            return Ok((out, None));
        }
    }
}

/// Sorting by anything but creation time sorts at most this many invoices.
pub const MAX_SORT_WINDOW: usize = 5000;

/// `GET /v1/invoices?status=&currency=&order_id=&created_after=&created_before=&sort_by=&sort_order=&limit=&cursor=`
pub async fn list(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let mut q = QueryInput::new(&cx.req.query);
    let statuses: Option<Vec<Status>> = q
        .get("status")
        .map(|s| s.split(',').filter_map(Status::parse).collect());
    if q.get("status")
        .is_some_and(|s| s.split(',').any(|x| Status::parse(x).is_none()))
    {
        q.errors.add(
            "status",
            format!(
                "must be one or more (comma-separated) of: {}",
                Status::NAMES.join(", ")
            ),
        );
    }
    let currency = q.get("currency").map(str::to_ascii_uppercase);
    let order_id = q.get("order_id").map(str::to_string);
    let after = time_param(&mut q, "created_after");
    let before = time_param(&mut q, "created_before");
    let sort_by = q
        .one_of("sort_by", &["created_at", "updated_at", "amount"])
        .unwrap_or_else(|| "created_at".into());
    let asc = q
        .one_of("sort_order", &["asc", "desc"])
        .is_some_and(|o| o == "asc");
    let limit = q.limit();
    let cursor = q.get("cursor").map(str::to_string);
    q.finish()?;
    let public = cx.app.config.public_url.clone();
    let keep = |inv: &Invoice| {
        statuses.as_ref().is_none_or(|s| s.contains(&inv.status))
            && currency.as_ref().is_none_or(|c| &inv.currency == c)
            && order_id
                .as_ref()
                .is_none_or(|o| inv.order_id.as_ref() == Some(o))
    };

    if let Some(oid) = &order_id {
        let found = match cx.app.table.get(&schema::order(&store.id, oid)).await? {
            Some(claim) => match claim.get("invoice_id").and_then(Value::as_str) {
                Some(id) => load_for_store(cx.app, &store.id, id).await.ok(),
                None => None,
            },
            None => None,
        };
        let items: Vec<Value> = found
            .into_iter()
            .filter(|i| keep(i))
            .map(|i| i.to_json(&public))
            .collect();
        return Ok(Response::ok(list_body(items, None)));
    }

    let range = match (&after, &before) {
        (Some(a), Some(b)) => SortKey::Between(a.clone(), format!("{b}~")),
        (Some(a), None) => SortKey::Ge(a.clone()),
        (None, Some(b)) => SortKey::Le(format!("{b}~")),
        (None, None) => SortKey::All,
    };
    let base = Query::index(Index::Gsi1, schema::invoices_of(&store.id)).sk(range);

    if sort_by == "created_at" {
        let (items, next) = filtered_page(
            cx.app,
            base.forward(asc),
            Some(Index::Gsi1),
            limit,
            cursor,
            |item| {
                let inv: Invoice = from_item(item.clone())?;
                Ok(keep(&inv).then(|| inv.to_json(&public)))
            },
        )
        .await?;
        return Ok(Response::ok(list_body(items, next)));
    }

    // updated_at / amount: sort a bounded window in memory; cursor = offset.
    let offset = match &cursor {
        None => 0,
        Some(c) => c
            .strip_prefix("o")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| ApiError::field("cursor", "is not a cursor this endpoint returned"))?,
    };
    let mut all = Vec::new();
    let mut page_cursor = None;
    loop {
        let page = cx
            .app
            .table
            .query(base.clone().backward().limit(1000).cursor(page_cursor))
            .await?;
        for item in page.items {
            let inv: Invoice = from_item(item)?;
            if keep(&inv) {
                all.push(inv);
            }
        }
        page_cursor = page.next_cursor;
        if page_cursor.is_none() || all.len() >= MAX_SORT_WINDOW {
            break;
        }
    }
    if sort_by == "updated_at" {
        all.sort_by(|a, b| (&a.updated_at, &a.id).cmp(&(&b.updated_at, &b.id)));
    } else {
        all.sort_by(|a, b| (a.amount, &a.id).cmp(&(b.amount, &b.id)));
    }
    if !asc {
        all.reverse();
    }
    let end = (offset + limit).min(all.len());
    let items = all
        .get(offset..end)
        .unwrap_or_default()
        .iter()
        .map(|i| i.to_json(&public))
        .collect();
    let next = (end < all.len()).then(|| format!("o{end}"));
    Ok(Response::ok(list_body(items, next)))
}

/// `POST /v1/invoices/archived`: a historical record, no address.
pub async fn import(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store: Store = cx.store()?.clone();
    let mut input = Input::from_body(&cx.req.body)?;
    let order_id = text_id(&mut input, "order_id");
    let order_id = input.required("order_id", order_id);
    let amount = input.decimal("amount", Decimal::ZERO, Decimal::from(MAX_AMOUNT));
    let amount = input.required("amount", amount);
    let currency = input
        .nonempty("currency", 8)
        .map(|c| c.to_ascii_uppercase());
    let currency = input.required("currency", currency);
    let crypto = input.decimal("crypto_amount", Decimal::ZERO, Decimal::from(21_000_000));
    let order_name = input.string("order_name", 200);
    let created_raw = input.nonempty("created_at", 64);
    let created_raw = input.required("created_at", created_raw);
    let now = cx.now();
    let created = created_raw.and_then(|s| match parse_flexible(&s) {
        Ok(t) if t > now => {
            input.error("created_at", "must not be in the future");
            None
        }
        Ok(t) => Some(t),
        Err(e) => {
            input.error("created_at", e);
            None
        }
    });
    if let Some(c) = &currency {
        if c != "BTC" && c.parse::<Fiat>().is_err() {
            input.error("currency", "must be BTC or a 3-letter fiat code");
        }
    }
    let amount = match (amount, &currency) {
        (Some(a), Some(cur)) => money_field(&mut input, "amount", a, cur),
        (a, _) => a,
    };
    let crypto = crypto.and_then(|c| money_field(&mut input, "crypto_amount", c, "BTC"));
    let sats = match (crypto, currency.as_deref(), amount) {
        (Some(btc), _, _) | (None, Some("BTC"), Some(btc)) => {
            btc_to_amount(btc).ok().map(|a| a.to_sat())
        }
        _ => Some(0),
    };
    input.finish()?;
    let (order_id, amount, currency, created, sats) = (
        order_id.expect("checked"),
        amount.expect("checked"),
        currency.expect("checked"),
        created.expect("checked"),
        sats.unwrap_or(0),
    );
    let rate = (currency != "BTC" && sats > 0)
        .then(|| amount * Decimal::from(crate::money::SATS_PER_BTC) / Decimal::from(sats));
    let inv = Invoice {
        id: new_id(IdKind::Invoice),
        store_id: store.id.clone(),
        status: Status::Archived,
        amount,
        currency,
        crypto_amount_sats: sats,
        rate: rate.map(|r| r.round_dp(8)),
        network: store.network,
        address: None,
        address_index: None,
        wallet_id: None,
        order_id: Some(order_id.clone()),
        order_name,
        buyer_email: None,
        memo: None,
        metadata: None,
        redirect_url: None,
        webhook_url: None,
        speed_policy: store.speed_policy,
        payment_tolerance_percent: Decimal::ZERO,
        flags: vec![],
        created_at: rfc3339(created),
        updated_at: rfc3339(now),
        expires_at: rfc3339(created),
        monitoring_until: rfc3339(created),
        payments: vec![],
        refunds: vec![],
        accepted_sats: None,
        quote_id: None,
        comment: None,
        version: 1,
        store_name: store.name.clone(),
        confirmed_payments: vec![],
    };
    let result = cx
        .app
        .table
        .transact(vec![
            TxOp::Put {
                item: to_item(
                    &json!({"invoice_id": inv.id}),
                    &schema::order(&store.id, &order_id),
                    &[],
                ),
                cond: Some(Cond::NotExists),
            },
            TxOp::Put {
                item: repo::invoice_item(&inv, now),
                cond: Some(Cond::NotExists),
            },
        ])
        .await;
    match result {
        Ok(()) => Ok(Response::created(inv.to_json(&cx.app.config.public_url))),
        Err(e) if e.is_condition_failed() => Err(ApiError::conflict(format!(
            "order_id `{order_id}` is already used by another invoice of this store"
        ))),
        Err(e) => Err(e.into()),
    }
}

async fn command(cx: &Ctx<'_>, input: Change) -> Result<Response, ApiError> {
    let store = cx.store()?;
    let inv = apply_input(cx.app, &store.id, cx.param("id"), input).await?;
    Ok(Response::ok(inv.to_json(&cx.app.config.public_url)))
}

/// `POST /v1/invoices/{id}/status {status: completed|invalid, comment?}`.
pub async fn mark(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let mut input = Input::from_body(&cx.req.body)?;
    let status = input.one_of("status", &["completed", "invalid"]);
    let status = input.required("status", status);
    let comment = input.string("comment", 1000);
    input.finish()?;
    let status = Status::parse(&status.expect("checked")).expect("one_of");
    command(&cx, Change::Mark { status, comment }).await
}

/// `POST /v1/invoices/{id}/cancel {reason?, comment?}`.
pub async fn cancel(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let mut input = Input::from_body(&cx.req.body)?;
    let reason = input.string("reason", 200);
    let comment = input.string("comment", 1000);
    input.finish()?;
    let comment = match (reason, comment) {
        (Some(r), Some(c)) => Some(format!("{r}: {c}")),
        (r, c) => r.or(c),
    };
    command(&cx, Change::Cancel { comment }).await
}

/// `POST /v1/invoices/{id}/accept-underpayment {accepted_amount_sats}`.
pub async fn accept_underpayment(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let mut input = Input::from_body(&cx.req.body)?;
    let sats = input.int("accepted_amount_sats", 1, 21_000_000 * 100_000_000);
    let sats = input.required("accepted_amount_sats", sats);
    input.finish()?;
    command(
        &cx,
        Change::AcceptUnderpayment {
            sats: sats.expect("checked") as u64,
        },
    )
    .await
}

/// `POST /v1/invoices/{id}/refunds {address, amount_sats}` -> 201 refund.
pub async fn create_refund(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let mut input = Input::from_body(&cx.req.body)?;
    let address = input.nonempty("address", 100);
    let address = input.required("address", address);
    let sats = input.int("amount_sats", 1, 21_000_000 * 100_000_000);
    let sats = input.required("amount_sats", sats);
    if let Some(Err(e)) = address.as_ref().map(|a| check_refund_address(&store, a)) {
        input.error("address", e);
    }
    input.finish()?;
    let (inv, id) = request_refund(
        cx.app,
        &store,
        cx.param("id"),
        address.expect("checked"),
        sats.expect("checked") as u64,
    )
    .await?;
    let r = inv.refunds.iter().find(|r| r.id == id).expect("just added");
    Ok(Response::created(r.to_json(&inv.id)))
}

/// A refund goes to an address of the store's network.
pub fn check_refund_address(store: &Store, address: &str) -> Result<(), String> {
    let ok = address
        .parse::<bitcoin::Address<bitcoin::address::NetworkUnchecked>>()
        .map(|u| u.is_valid_for_network(store.network.to_bitcoin()));
    match ok {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("is not a {} address", store.network)),
        Err(_) => Err("is not a Bitcoin address".into()),
    }
}

/// Record a non-custodial refund request on an invoice of `store` (the use
/// case behind v1 refunds and seed 002's RefundPayment): (invoice, refund id).
pub async fn request_refund(
    app: &crate::app::App,
    store: &Store,
    invoice_id: &str,
    address: String,
    amount_sats: u64,
) -> Result<(Invoice, String), ApiError> {
    let refund = Refund {
        id: new_id(IdKind::Refund),
        address,
        amount_sats,
        status: RefundStatus::Requested,
        txid: None,
        created_at: rfc3339(app.now()),
        sent_at: None,
    };
    let id = refund.id.clone();
    let inv = apply_input(app, &store.id, invoice_id, Change::RequestRefund(refund)).await?;
    Ok((inv, id))
}

/// `GET /v1/invoices/{id}/refunds`.
pub async fn list_refunds(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?;
    let inv = load_for_store(cx.app, &store.id, cx.param("id")).await?;
    Ok(Response::ok(list_body(
        inv.refunds.iter().map(|r| r.to_json(&inv.id)).collect(),
        None,
    )))
}

/// `GET /v1/payments?invoice_id=&status=&limit=&cursor=`.
pub async fn list_payments(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let mut q = QueryInput::new(&cx.req.query);
    let invoice_id = q.get("invoice_id").map(str::to_string);
    let status = q.one_of("status", &["mempool", "confirmed", "replaced", "reorged"]);
    let limit = q.limit();
    let cursor = q.get("cursor").map(str::to_string);
    q.finish()?;
    let keep = |p: &Value| {
        status
            .as_ref()
            .is_none_or(|s| p["status"].as_str() == Some(s.as_str()))
    };
    if let Some(id) = invoice_id {
        let inv = load_for_store(cx.app, &store.id, &id).await?;
        let items: Vec<Value> = inv
            .payments
            .iter()
            .map(|p| p.to_json(&inv.id))
            .filter(keep)
            .collect();
        return Ok(Response::ok(list_body(items, None)));
    }
    let query = Query::index(Index::Gsi1, schema::payments_of(&store.id)).backward();
    let (out, next) = filtered_page(cx.app, query, Some(Index::Gsi1), limit, cursor, |item| {
        let v = payment_json(item);
        Ok(keep(&v).then_some(v))
    })
    .await?;
    Ok(Response::ok(list_body(out, next)))
}

pub fn payment_json(item: &Item) -> Value {
    let p: Option<Payment> = item
        .get("record")
        .and_then(|r| serde_json::from_value(r.clone()).ok());
    let inv = item
        .get("invoice_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    p.map(|p| p.to_json(inv)).unwrap_or(Value::Null)
}

/// `GET /v1/payments/{id}`.
pub async fn get_payment(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?;
    match cx.app.table.get(&schema::payment(cx.param("id"))).await? {
        Some(item) if item.get("store_id").and_then(Value::as_str) == Some(store.id.as_str()) => {
            Ok(Response::ok(payment_json(&item)))
        }
        _ => Err(ApiError::not_found("payment")),
    }
}

/// The most invoices one summary reads.
pub const MAX_SUMMARY: usize = 50_000;

/// Counts by status and totals received over a store's invoices created in
/// a time range (the use case behind `GET /v1/summary` and the panel face's
/// summary across stores).
#[derive(Debug, Clone)]
pub struct Summary {
    pub invoice_count: usize,
    pub counts: BTreeMap<&'static str, u64>,
    pub received_sats: u64,
    pub received_fiat: BTreeMap<String, Decimal>,
    pub truncated: bool,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            invoice_count: 0,
            counts: Status::NAMES.iter().map(|s| (*s, 0)).collect(),
            received_sats: 0,
            received_fiat: BTreeMap::new(),
            truncated: false,
        }
    }
}

impl Summary {
    /// Add another store's summary to this one.
    pub fn add(&mut self, other: &Summary) {
        self.invoice_count += other.invoice_count;
        for (k, v) in &other.counts {
            *self.counts.entry(k).or_default() += v;
        }
        self.received_sats += other.received_sats;
        for (k, v) in &other.received_fiat {
            *self.received_fiat.entry(k.clone()).or_default() += v;
        }
        self.truncated |= other.truncated;
    }
}

/// Summarize the invoices of `store_id` created between `from` and `to`
/// (RFC 3339, both optional).
pub async fn summarize(
    app: &crate::app::App,
    store_id: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Summary, ApiError> {
    let range = match (from, to) {
        (Some(a), Some(b)) => SortKey::Between(a.to_string(), format!("{b}~")),
        (Some(a), None) => SortKey::Ge(a.to_string()),
        (None, Some(b)) => SortKey::Le(format!("{b}~")),
        (None, None) => SortKey::All,
    };
    let mut s = Summary::default();
    let mut cursor = None;
    loop {
        let page = app
            .table
            .query(
                Query::index(Index::Gsi1, schema::invoices_of(store_id))
                    .sk(range.clone())
                    .limit(1000)
                    .cursor(cursor),
            )
            .await?;
        for item in page.items {
            let inv: Invoice = from_item(item)?;
            s.invoice_count += 1;
            *s.counts.entry(inv.status.as_str()).or_default() += 1;
            let paid = inv.paid_sats();
            s.received_sats += paid;
            if let Some(rate) = inv.rate {
                *s.received_fiat.entry(inv.currency.clone()).or_default() +=
                    sats_to_fiat(Amount::from_sat(paid), rate, fiat_decimals(&inv.currency));
            }
        }
        cursor = page.next_cursor;
        if cursor.is_none() || s.invoice_count >= MAX_SUMMARY {
            break;
        }
    }
    s.truncated = s.invoice_count >= MAX_SUMMARY;
    Ok(s)
}

/// `GET /v1/summary?from=&to=`: counts by status and totals received.
pub async fn summary(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let mut q = QueryInput::new(&cx.req.query);
    let from = time_param(&mut q, "from");
    let to = time_param(&mut q, "to");
    q.finish()?;
    let s = summarize(cx.app, &store.id, from.as_deref(), to.as_deref()).await?;
    Ok(Response::ok(json!({
        "object": "summary",
        "store_id": store.id,
        "from": from,
        "to": to,
        "invoice_count": s.invoice_count,
        "counts": s.counts,
        "received_sats": s.received_sats,
        "received": crate::money::amount_to_btc_string(Amount::from_sat(s.received_sats)),
        "received_fiat": s.received_fiat.into_iter().map(|(k, v)| (k, Value::String(v.to_string()))).collect::<serde_json::Map<_, _>>(),
        "truncated": s.truncated,
    })))
}

/// `GET /v1/events?type=&invoice_id=&limit=&cursor=` (newest first, 30 days).
pub async fn list_events(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let mut q = QueryInput::new(&cx.req.query);
    let kind = q.get("type").map(str::to_string);
    if kind
        .as_ref()
        .is_some_and(|k| !crate::events::EVENT_TYPES.contains(&k.as_str()))
    {
        q.errors.add(
            "type",
            format!("must be one of: {}", crate::events::EVENT_TYPES.join(", ")),
        );
    }
    let invoice_id = q.get("invoice_id").map(str::to_string);
    let limit = q.limit();
    let cursor = q.get("cursor").map(str::to_string);
    q.finish()?;
    let (query, index) = match &invoice_id {
        Some(id) => {
            load_for_store(cx.app, &store.id, id).await?;
            (
                Query::index(Index::Gsi1, schema::events_of_invoice(id)),
                Some(Index::Gsi1),
            )
        }
        None => (Query::table(schema::events_of_store(&store.id)), None),
    };
    let (out, next) = filtered_page(cx.app, query.backward(), index, limit, cursor, |item| {
        let ev: Event = from_item(item.clone())?;
        Ok(kind
            .as_ref()
            .is_none_or(|k| &ev.kind == k)
            .then(|| ev.to_json()))
    })
    .await?;
    Ok(Response::ok(list_body(out, next)))
}
