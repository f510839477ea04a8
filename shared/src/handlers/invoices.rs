//! Invoices, payments, refunds, summary and the event log (API.md "Invoices").

use super::{cursor_error, list_body};
use crate::clock::{parse_flexible, Stamp};
use crate::error::{ApiError, FieldErrors};
use crate::events::Event;
use crate::handlers::ctx::Ctx;
use crate::http::Response;
use crate::ids::{new_id, IdKind};
use crate::invoice::lifecycle::Input as Change;
use crate::invoice::repo::{self, apply_input, load_for_store};
use crate::invoice::{
    Invoice, InvoiceError, Payment, PaymentStatus, Price, Refund, RefundStatus, Status,
};
use crate::money::{btc_to_amount, check_amount, sats_to_fiat};
use crate::prices::rates::{allowed_currency, Currency};
use crate::records::{from_item, to_item};
use crate::request::{self, Dec, Field, Int, NonEmpty, Object, Text, Unknown, Word};
use crate::request::{PageQuery, Paging, Time};
use crate::schema;
use crate::store::{SpeedPolicy, Store};
use crate::table::{
    encode_cursor, Cond, Index, Item, NamedTx, Query, SortKey, TableError, TxFailed, TxOp,
};
use crate::wire::wire_words;
use bitcoin::Amount;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub use crate::invoice::creation::DUST_SATS;
pub use crate::invoice::NewInvoice;
const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// An absolute http(s) URL (where the buyer's browser is sent).
#[derive(Debug, Clone, PartialEq)]
pub struct WebUrl(pub String);

impl<'de> Deserialize<'de> for WebUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Text(s) = Text::<2000>::deserialize(d)?;
        match reqwest::Url::parse(&s) {
            Ok(u)
                if matches!(u.scheme(), "https" | "http")
                    && u.host_str().is_some_and(|h| !h.is_empty()) =>
            {
                Ok(WebUrl(s))
            }
            _ => Err(serde::de::Error::custom("must be an absolute http(s) URL")),
        }
    }
}

/// An identifier chosen by the merchant: non-empty, no control characters.
#[derive(Debug, Clone, PartialEq)]
pub struct TextId(pub String);

impl<'de> Deserialize<'de> for TextId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let NonEmpty(s) = NonEmpty::<200>::deserialize(d)?;
        if s.chars().any(|c| c.is_control()) {
            return Err(serde::de::Error::custom(
                "must not contain control characters",
            ));
        }
        Ok(TextId(s))
    }
}

/// An email address (loosely: an `@` and no spaces).
#[derive(Debug, Clone, PartialEq)]
pub struct Email(pub String);

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Text(s) = Text::<254>::deserialize(d)?;
        if !s.contains('@') || s.contains(char::is_whitespace) {
            return Err(serde::de::Error::custom("must be an email address"));
        }
        Ok(Email(s))
    }
}

crate::request_schema::request_type! {
    /// The body of `POST /v1/invoices`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct CreateInvoiceRequest {
        pub quote_id: Field<NonEmpty<64>>,
        pub amount: Field<Dec>,
        pub currency: Field<Currency>,
        pub order_id: Field<TextId>,
        pub order_name: Field<Text<200>>,
        pub memo: Field<Text<1000>>,
        pub buyer_email: Field<Email>,
        pub redirect_url: Field<WebUrl>,
        /// Resolved and checked exactly as a webhook endpoint's `url` is.
        pub webhook_url: Field<Text<2000>>,
        pub expire_min: Field<Int<1, { 7 * 24 * 60 }>>,
        pub allowed_error_percent: Field<Dec>,
        pub speed_policy: Field<Word<SpeedPolicy>>,
        pub metadata: Field<Object<4096>>,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

impl TryFrom<CreateInvoiceRequest> for NewInvoice {
    type Error = FieldErrors;

    /// Every bad field at once (the webhook URL's network check aside).
    fn try_from(r: CreateInvoiceRequest) -> Result<NewInvoice, FieldErrors> {
        let mut e = FieldErrors::default();
        let quote_id = r.quote_id.take("quote_id", &mut e).map(|t| t.0);
        let amount = match quote_id {
            Some(_) => r.amount.take("amount", &mut e),
            None => r.amount.require("amount", &mut e),
        };
        let amount = amount
            .and_then(|a| e.check("amount", a.within(Decimal::ZERO, Decimal::from(MAX_AMOUNT))));
        let tolerance = r
            .allowed_error_percent
            .take("allowed_error_percent", &mut e)
            .and_then(|t| {
                e.check(
                    "allowed_error_percent",
                    t.within(Decimal::ZERO, Decimal::from(50)),
                )
            });
        let new = NewInvoice {
            quote_id,
            amount,
            currency: r.currency.take("currency", &mut e),
            order_id: r.order_id.take("order_id", &mut e).map(|t| t.0),
            order_name: r.order_name.take("order_name", &mut e).map(|t| t.0),
            memo: r.memo.take("memo", &mut e).map(|t| t.0),
            buyer_email: r.buyer_email.take("buyer_email", &mut e).map(|t| t.0),
            redirect_url: r.redirect_url.take("redirect_url", &mut e).map(|u| u.0),
            webhook_url: r.webhook_url.take("webhook_url", &mut e).map(|u| u.0),
            expire_min: r.expire_min.take("expire_min", &mut e).map(|n| n.0),
            tolerance,
            speed: r.speed_policy.take("speed_policy", &mut e).map(|w| w.0),
            metadata: r.metadata.take("metadata", &mut e).map(|m| m.0),
            fixed_address: None,
        };
        r.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
        if e.is_empty() {
            Ok(new)
        } else {
            Err(e)
        }
    }
}

/// Parse a v1 invoice body (every bad field reported at once); a
/// `webhook_url` is resolved and checked like a webhook endpoint's.
pub async fn parse_new_invoice(body: &[u8], insecure_urls: bool) -> Result<NewInvoice, ApiError> {
    let req: CreateInvoiceRequest = request::body(body)?;
    let url_problem = match &req.webhook_url {
        Field::Given(Text(u)) => crate::webhooks::url::check_url(u, insecure_urls)
            .await
            .err(),
        _ => None,
    };
    match (NewInvoice::try_from(req), url_problem) {
        (Ok(new), None) => Ok(new),
        (Ok(_), Some(why)) => Err(ApiError::field("webhook_url", why)),
        (Err(mut errors), Some(why)) => {
            errors.add("webhook_url", why);
            Err(errors.into())
        }
        (Err(errors), None) => Err(errors.into()),
    }
}

/// `POST /v1/invoices` -> 201 invoice with a fresh address.
pub async fn create(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store: Store = cx.store()?.clone();
    let new = parse_new_invoice(&cx.req.body, cx.app.config.allow_insecure_urls).await?;
    let inv = crate::invoice::create(cx.app, &store, new, cx.idempotency.as_ref()).await?;
    Ok(Response::created(inv.to_json(&cx.app.config.public_url)))
}

/// The use case behind `POST /v1/invoices` with its errors in API terms
/// (`crate::invoice::create` is the transport-free one).
pub async fn create_invoice(
    app: &crate::app::App,
    store: &Store,
    new: NewInvoice,
    lease: Option<&crate::handlers::ctx::IdempotencyLease>,
) -> Result<Invoice, ApiError> {
    Ok(crate::invoice::create(app, store, new, lease).await?)
}

/// `GET /v1/invoices/{id}`.
pub async fn get(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?;
    let inv = load_for_store(cx.app, &store.id, cx.param("id")).await?;
    Ok(Response::ok(inv.to_json(&cx.app.config.public_url)))
}

/// One page of a filtered listing: reads index pages (at least 50 items at a
/// time) until `limit` items pass `pick`, and returns them with a cursor
/// just after the last one returned (None when nothing follows).
async fn filtered_page<T>(
    app: &crate::app::App,
    query: Query,
    index: Option<Index>,
    paging: Paging,
    pick: impl Fn(&Item) -> Result<Option<T>, ApiError>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let Paging { limit, mut cursor } = paging;
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

/// How `GET /v1/invoices` sorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    #[default]
    CreatedAt,
    UpdatedAt,
    Amount,
}

wire_words!(SortBy {
    CreatedAt => "created_at",
    UpdatedAt => "updated_at",
    Amount => "amount",
});

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    Asc,
    Desc,
}

wire_words!(SortOrder {
    Asc => "asc",
    Desc => "desc",
});

crate::request_schema::request_type! {
    /// The query of `GET /v1/invoices`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct ListInvoicesQuery {
        /// Comma-separated statuses.
        pub status: Field<String>,
        pub currency: Field<String>,
        pub order_id: Field<String>,
        pub created_after: Field<Time>,
        pub created_before: Field<Time>,
        pub sort_by: Field<Word<SortBy>>,
        pub sort_order: Field<Word<SortOrder>>,
        #[serde(flatten)]
        pub page: PageQuery,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

/// A checked invoice listing.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceFilter {
    pub statuses: Option<Vec<Status>>,
    pub currency: Option<String>,
    pub order_id: Option<String>,
    pub after: Option<String>,
    pub before: Option<String>,
    pub sort_by: SortBy,
    pub asc: bool,
    pub paging: Paging,
}

impl TryFrom<ListInvoicesQuery> for InvoiceFilter {
    type Error = ApiError;

    fn try_from(q: ListInvoicesQuery) -> Result<InvoiceFilter, ApiError> {
        let mut e = FieldErrors::default();
        let statuses = q.status.take("status", &mut e).map(|s| {
            let words: Vec<&str> = s.split(',').collect();
            if words.iter().any(|x| Status::parse(x).is_none()) {
                e.add(
                    "status",
                    format!(
                        "must be one or more (comma-separated) of: {}",
                        Status::NAMES.join(", ")
                    ),
                );
            }
            words.into_iter().filter_map(Status::parse).collect()
        });
        let filter = InvoiceFilter {
            statuses,
            currency: q
                .currency
                .take("currency", &mut e)
                .map(|c| c.to_ascii_uppercase()),
            order_id: q.order_id.take("order_id", &mut e),
            after: q.created_after.take("created_after", &mut e).map(|t| t.0),
            before: q.created_before.take("created_before", &mut e).map(|t| t.0),
            sort_by: q
                .sort_by
                .take("sort_by", &mut e)
                .map_or(SortBy::CreatedAt, |w| w.0),
            asc: q
                .sort_order
                .take("sort_order", &mut e)
                .is_some_and(|w| w.0 == SortOrder::Asc),
            paging: q.page.take(&mut e),
        };
        q.unknown.finish_query(e, Some(filter))
    }
}

/// `GET /v1/invoices?status=&currency=&order_id=&created_after=&created_before=&sort_by=&sort_order=&limit=&cursor=`
pub async fn list(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let filter = InvoiceFilter::try_from(request::query::<ListInvoicesQuery>(&cx.req.query)?)?;
    let (invoices, next) = find_invoices(cx.app, &store.id, filter).await?;
    let public = &cx.app.config.public_url;
    let items = invoices.iter().map(|i| i.to_json(public)).collect();
    Ok(Response::ok(list_body(items, next)))
}

/// The invoices of `store_id` that `filter` selects: one page and the
/// cursor of the next. By creation time it reads the list index in order;
/// by `updated_at` or amount it sorts a bounded window in memory (the
/// cursor is then an offset); an order id is looked up by its claim.
pub async fn find_invoices(
    app: &crate::app::App,
    store_id: &str,
    filter: InvoiceFilter,
) -> Result<(Vec<Invoice>, Option<String>), ApiError> {
    let InvoiceFilter {
        statuses,
        currency,
        order_id,
        after,
        before,
        sort_by,
        asc,
        paging,
    } = filter;
    let keep = |inv: &Invoice| {
        statuses.as_ref().is_none_or(|s| s.contains(&inv.status))
            && currency.as_ref().is_none_or(|c| inv.currency.code() == c)
            && order_id
                .as_ref()
                .is_none_or(|o| inv.order_id.as_ref() == Some(o))
    };

    if let Some(oid) = &order_id {
        let found = match app.table.get(&schema::order(store_id, oid)).await? {
            Some(claim) => match claim.get("invoice_id").and_then(Value::as_str) {
                // A claim whose invoice is gone lists nothing; a failed
                // read is an error, not an empty list.
                Some(id) => match load_for_store(app, store_id, id).await {
                    Ok(inv) => Some(inv),
                    Err(crate::invoice::repo::ChangeError::NotFound) => None,
                    Err(e) => return Err(e.into()),
                },
                None => None,
            },
            None => None,
        };
        return Ok((found.into_iter().filter(|i| keep(i)).collect(), None));
    }

    let range = match (&after, &before) {
        (Some(a), Some(b)) => SortKey::Between(a.clone(), format!("{b}~")),
        (Some(a), None) => SortKey::Ge(a.clone()),
        (None, Some(b)) => SortKey::Le(format!("{b}~")),
        (None, None) => SortKey::All,
    };
    let base = Query::index(Index::Gsi1, schema::invoices_of(store_id)).sk(range);

    if sort_by == SortBy::CreatedAt {
        return filtered_page(app, base.forward(asc), Some(Index::Gsi1), paging, |item| {
            let inv: Invoice = from_item(item.clone())?;
            Ok(keep(&inv).then_some(inv))
        })
        .await;
    }

    // updated_at / amount: sort a bounded window in memory; cursor = offset.
    let Paging { limit, cursor } = paging;
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
        let page = app
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
    if sort_by == SortBy::UpdatedAt {
        all.sort_by(|a, b| (&a.updated_at, &a.id).cmp(&(&b.updated_at, &b.id)));
    } else {
        all.sort_by(|a, b| (a.amount, &a.id).cmp(&(b.amount, &b.id)));
    }
    if !asc {
        all.reverse();
    }
    let end = (offset + limit).min(all.len());
    let next = (end < all.len()).then(|| format!("o{end}"));
    all.truncate(end);
    Ok((all.split_off(offset.min(end)), next))
}

crate::request_schema::request_type! {
    /// The body of `POST /v1/invoices/archived`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct ImportInvoiceRequest {
        pub order_id: Field<TextId>,
        pub amount: Field<Dec>,
        pub currency: Field<Currency>,
        pub crypto_amount: Field<Dec>,
        pub order_name: Field<Text<200>>,
        pub created_at: Field<NonEmpty<64>>,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

/// A historical invoice to record: checked, not yet placed in time.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchivedInvoice {
    pub order_id: String,
    pub order_name: Option<String>,
    pub price: Price,
    pub created: time::OffsetDateTime,
}

impl ImportInvoiceRequest {
    /// Every bad field at once; the currency must be one the gateway
    /// accepts and `created_at` must not be after `now`.
    pub fn check(
        self,
        app: &crate::app::App,
        now: time::OffsetDateTime,
    ) -> Result<ArchivedInvoice, ApiError> {
        let mut e = FieldErrors::default();
        let order_id = self.order_id.require("order_id", &mut e).map(|t| t.0);
        let amount = self
            .amount
            .require("amount", &mut e)
            .and_then(|a| e.check("amount", a.within(Decimal::ZERO, Decimal::from(MAX_AMOUNT))));
        let currency = self
            .currency
            .require("currency", &mut e)
            .and_then(|c| e.check("currency", allowed_currency(app, &c).map(|()| c)));
        let crypto = self
            .crypto_amount
            .take("crypto_amount", &mut e)
            .and_then(|c| {
                e.check(
                    "crypto_amount",
                    c.within(Decimal::ZERO, Decimal::from(21_000_000)),
                )
            });
        let order_name = self.order_name.take("order_name", &mut e).map(|t| t.0);
        let created = self.created_at.require("created_at", &mut e).and_then(|t| {
            match parse_flexible(&t.0) {
                Ok(t) if t > now => {
                    e.add("created_at", "must not be in the future");
                    None
                }
                Ok(t) => Some(t),
                Err(why) => {
                    e.add("created_at", why);
                    None
                }
            }
        });
        let amount = match (amount, &currency) {
            (Some(a), Some(c)) => e.check("amount", check_amount(a, c.code())),
            (a, _) => a,
        };
        let crypto = crypto.and_then(|c| e.check("crypto_amount", check_amount(c, "BTC")));
        let sats = match (crypto, &currency, amount) {
            (Some(btc), _, _) | (None, Some(Currency::Btc), Some(btc)) => {
                btc_to_amount(btc).ok().map_or(0, |a| a.to_sat())
            }
            _ => 0,
        };
        self.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
        let value = match (order_id, amount, currency, created) {
            (Some(order_id), Some(amount), Some(currency), Some(created)) => {
                let rate = (currency != Currency::Btc && sats > 0).then(|| {
                    (amount * Decimal::from(crate::money::SATS_PER_BTC) / Decimal::from(sats))
                        .round_dp(8)
                });
                Some(ArchivedInvoice {
                    order_id,
                    order_name,
                    price: Price {
                        amount,
                        currency,
                        sats,
                        rate,
                    },
                    created,
                })
            }
            _ => None,
        };
        request::finish(e, value)
    }
}

/// The writes of an import, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImportWrite {
    OrderId,
    Invoice,
}

/// `POST /v1/invoices/archived`: a historical record, no address.
pub async fn import(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store: Store = cx.store()?.clone();
    let now = cx.now();
    let req: ImportInvoiceRequest = request::body(&cx.req.body)?;
    let archived = req.check(cx.app, now)?;
    let order_id = archived.order_id;
    let inv = Invoice {
        order_id: Some(order_id.clone()),
        order_name: archived.order_name,
        payment_tolerance_percent: Decimal::ZERO,
        ..Invoice::new(
            new_id(IdKind::Invoice),
            &store,
            Status::Archived,
            archived.price,
            archived.created,
            now,
        )
    };
    let mut tx = NamedTx::new();
    tx.push(
        ImportWrite::OrderId,
        TxOp::Put {
            item: to_item(
                &json!({"invoice_id": inv.id}),
                &schema::order(&store.id, &order_id),
                &[],
            ),
            cond: Some(Cond::NotExists),
        },
    );
    tx.push(
        ImportWrite::Invoice,
        TxOp::Put {
            item: repo::invoice_item(&inv, now),
            cond: Some(Cond::NotExists),
        },
    );
    match tx.run(&*cx.app.table).await {
        Ok(()) => Ok(Response::created(inv.to_json(&cx.app.config.public_url))),
        Err(TxFailed::Condition(ImportWrite::OrderId)) => {
            Err(InvoiceError::OrderIdTaken(order_id).into())
        }
        Err(TxFailed::Condition(ImportWrite::Invoice)) => {
            Err(TableError::Backend("a new invoice id was already taken".into()).into())
        }
        Err(TxFailed::Table(e)) => Err(e.into()),
    }
}

async fn command(cx: &Ctx<'_>, input: Change) -> Result<Response, ApiError> {
    let store = cx.store()?;
    let inv = apply_input(cx.app, &store.id, cx.param("id"), input).await?;
    Ok(Response::ok(inv.to_json(&cx.app.config.public_url)))
}

crate::request_schema::request_type! {
    /// The body of `POST /v1/invoices/{id}/status`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct MarkRequest {
        pub status: Field<Word<MarkStatus>>,
        pub comment: Field<Text<1000>>,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

/// The statuses a merchant may mark an invoice with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkStatus {
    Completed,
    Invalid,
}

wire_words!(MarkStatus {
    Completed => "completed",
    Invalid => "invalid",
});

impl TryFrom<MarkRequest> for Change {
    type Error = ApiError;
    fn try_from(r: MarkRequest) -> Result<Change, ApiError> {
        let mut e = FieldErrors::default();
        let status = r.status.require("status", &mut e).map(|w| match w.0 {
            MarkStatus::Completed => Status::Completed,
            MarkStatus::Invalid => Status::Invalid,
        });
        let comment = r.comment.take("comment", &mut e).map(|t| t.0);
        r.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
        request::finish(e, status.map(|status| Change::Mark { status, comment }))
    }
}

/// `POST /v1/invoices/{id}/status {status: completed|invalid, comment?}`.
pub async fn mark(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let req: MarkRequest = request::body(&cx.req.body)?;
    command(&cx, req.try_into()?).await
}

crate::request_schema::request_type! {
    /// The body of `POST /v1/invoices/{id}/cancel`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct CancelRequest {
        pub reason: Field<Text<200>>,
        pub comment: Field<Text<1000>>,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

impl TryFrom<CancelRequest> for Change {
    type Error = ApiError;
    fn try_from(r: CancelRequest) -> Result<Change, ApiError> {
        let mut e = FieldErrors::default();
        let reason = r.reason.take("reason", &mut e).map(|t| t.0);
        let comment = r.comment.take("comment", &mut e).map(|t| t.0);
        r.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
        let comment = match (reason, comment) {
            (Some(r), Some(c)) => Some(format!("{r}: {c}")),
            (r, c) => r.or(c),
        };
        request::finish(e, Some(Change::Cancel { comment }))
    }
}

/// `POST /v1/invoices/{id}/cancel {reason?, comment?}`.
pub async fn cancel(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let req: CancelRequest = request::body(&cx.req.body)?;
    command(&cx, req.try_into()?).await
}

/// Satoshis of one payment or refund: 1 sat up to all the bitcoin there is.
pub type Sats = Int<1, { 21_000_000 * 100_000_000 }>;

crate::request_schema::request_type! {
    /// The body of `POST /v1/invoices/{id}/accept-underpayment`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct AcceptUnderpaymentRequest {
        pub accepted_amount_sats: Field<Sats>,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

impl TryFrom<AcceptUnderpaymentRequest> for Change {
    type Error = ApiError;
    fn try_from(r: AcceptUnderpaymentRequest) -> Result<Change, ApiError> {
        let mut e = FieldErrors::default();
        let sats = r
            .accepted_amount_sats
            .require("accepted_amount_sats", &mut e);
        r.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
        request::finish(
            e,
            sats.map(|s| Change::AcceptUnderpayment {
                sats: Amount::from_sat(s.unsigned()),
            }),
        )
    }
}

/// `POST /v1/invoices/{id}/accept-underpayment {accepted_amount_sats}`.
pub async fn accept_underpayment(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let req: AcceptUnderpaymentRequest = request::body(&cx.req.body)?;
    command(&cx, req.try_into()?).await
}

crate::request_schema::request_type! {
    /// The body of `POST /v1/invoices/{id}/refunds`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct RefundRequest {
        pub address: Field<NonEmpty<100>>,
        pub amount_sats: Field<Sats>,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

/// A refund to request: an address of the store's network and an amount.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRefund {
    pub address: String,
    pub amount: Amount,
}

impl RefundRequest {
    /// Every bad field at once; the address must be of `store`'s network.
    pub fn check(self, store: &Store) -> Result<NewRefund, ApiError> {
        let mut e = FieldErrors::default();
        let address = self
            .address
            .require("address", &mut e)
            .and_then(|a| e.check("address", check_refund_address(store, &a.0).map(|()| a.0)));
        let sats = self.amount_sats.require("amount_sats", &mut e);
        self.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
        let value = match (address, sats) {
            (Some(address), Some(sats)) => Some(NewRefund {
                address,
                amount: Amount::from_sat(sats.unsigned()),
            }),
            _ => None,
        };
        request::finish(e, value)
    }
}

/// `POST /v1/invoices/{id}/refunds {address, amount_sats}` -> 201 refund.
pub async fn create_refund(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let req: RefundRequest = request::body(&cx.req.body)?;
    let refund = req.check(&store)?;
    let (inv, id) = request_refund(
        cx.app,
        &store,
        cx.param("id"),
        refund.address,
        refund.amount,
    )
    .await?;
    let r = inv
        .refunds
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(|| ApiError::internal("the refund was not recorded"))?;
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
    amount_sats: Amount,
) -> Result<(Invoice, String), ApiError> {
    let refund = Refund {
        id: new_id(IdKind::Refund),
        address,
        amount_sats,
        status: RefundStatus::Requested,
        txid: None,
        created_at: Stamp::new(app.now()),
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

crate::request_schema::request_type! {
    /// The query of `GET /v1/payments`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct ListPaymentsQuery {
        pub invoice_id: Field<String>,
        pub status: Field<Word<PaymentStatus>>,
        #[serde(flatten)]
        pub page: PageQuery,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

/// A checked payment listing.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentFilter {
    pub invoice_id: Option<String>,
    pub status: Option<PaymentStatus>,
    pub paging: Paging,
}

impl TryFrom<ListPaymentsQuery> for PaymentFilter {
    type Error = ApiError;

    fn try_from(q: ListPaymentsQuery) -> Result<PaymentFilter, ApiError> {
        let mut e = FieldErrors::default();
        let filter = PaymentFilter {
            invoice_id: q.invoice_id.take("invoice_id", &mut e),
            status: q.status.take("status", &mut e).map(|w| w.0),
            paging: q.page.take(&mut e),
        };
        q.unknown.finish_query(e, Some(filter))
    }
}

/// `GET /v1/payments?invoice_id=&status=&limit=&cursor=`.
pub async fn list_payments(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let PaymentFilter {
        invoice_id,
        status,
        paging,
    } = PaymentFilter::try_from(request::query::<ListPaymentsQuery>(&cx.req.query)?)?;
    let status = status.map(|s| json!(s));
    let keep = |p: &Value| status.as_ref().is_none_or(|s| &p["status"] == s);
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
    let (out, next) = filtered_page(cx.app, query, Some(Index::Gsi1), paging, |item| {
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
    pub received_sats: Amount,
    pub received_fiat: BTreeMap<String, Decimal>,
    pub truncated: bool,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            invoice_count: 0,
            counts: Status::NAMES.iter().map(|s| (*s, 0)).collect(),
            received_sats: Amount::ZERO,
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
                *s.received_fiat
                    .entry(inv.currency.code().to_string())
                    .or_default() += sats_to_fiat(paid, rate, inv.currency.decimals());
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

crate::request_schema::request_type! {
    /// The query of `GET /v1/summary`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct SummaryQuery {
        pub from: Field<Time>,
        pub to: Field<Time>,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

/// A checked summary period: (from, to) as RFC 3339, each optional.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    pub from: Option<String>,
    pub to: Option<String>,
}

impl TryFrom<SummaryQuery> for Period {
    type Error = ApiError;

    fn try_from(q: SummaryQuery) -> Result<Period, ApiError> {
        let mut e = FieldErrors::default();
        let period = Period {
            from: q.from.take("from", &mut e).map(|t| t.0),
            to: q.to.take("to", &mut e).map(|t| t.0),
        };
        q.unknown.finish_query(e, Some(period))
    }
}

/// `GET /v1/summary?from=&to=`: counts by status and totals received.
pub async fn summary(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let Period { from, to } = Period::try_from(request::query::<SummaryQuery>(&cx.req.query)?)?;
    let s = summarize(cx.app, &store.id, from.as_deref(), to.as_deref()).await?;
    Ok(Response::ok(json!({
        "object": "summary",
        "store_id": store.id,
        "from": from,
        "to": to,
        "invoice_count": s.invoice_count,
        "counts": s.counts,
        "received_sats": s.received_sats.to_sat(),
        "received": crate::money::amount_to_btc_string(s.received_sats),
        "received_fiat": s.received_fiat.into_iter().map(|(k, v)| (k, Value::String(v.to_string()))).collect::<serde_json::Map<_, _>>(),
        "truncated": s.truncated,
    })))
}

crate::request_schema::request_type! {
    /// The query of `GET /v1/events`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct ListEventsQuery {
        #[serde(rename = "type")]
        pub kind: Field<String>,
        pub invoice_id: Field<String>,
        #[serde(flatten)]
        pub page: PageQuery,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

/// A checked event listing.
#[derive(Debug, Clone, PartialEq)]
pub struct EventFilter {
    pub kind: Option<crate::events::EventKind>,
    pub invoice_id: Option<String>,
    pub paging: Paging,
}

impl TryFrom<ListEventsQuery> for EventFilter {
    type Error = ApiError;

    fn try_from(q: ListEventsQuery) -> Result<EventFilter, ApiError> {
        let mut e = FieldErrors::default();
        let kind = q.kind.take("type", &mut e).and_then(|k| {
            let known = crate::events::EVENT_TYPES
                .contains(&k.as_str())
                .then(|| crate::events::EventKind::parse(&k))
                .flatten();
            if known.is_none() {
                e.add(
                    "type",
                    format!("must be one of: {}", crate::events::EVENT_TYPES.join(", ")),
                );
            }
            known
        });
        let filter = EventFilter {
            kind,
            invoice_id: q.invoice_id.take("invoice_id", &mut e),
            paging: q.page.take(&mut e),
        };
        q.unknown.finish_query(e, Some(filter))
    }
}

/// `GET /v1/events?type=&invoice_id=&limit=&cursor=` (newest first, 30 days).
pub async fn list_events(cx: Ctx<'_>) -> Result<Response, ApiError> {
    let store = cx.store()?.clone();
    let EventFilter {
        kind,
        invoice_id,
        paging,
    } = EventFilter::try_from(request::query::<ListEventsQuery>(&cx.req.query)?)?;
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
    let (out, next) = filtered_page(cx.app, query.backward(), index, paging, |item| {
        let ev: Event = from_item(item.clone())?;
        Ok(kind
            .as_ref()
            .is_none_or(|k| ev.kind == *k)
            .then(|| ev.to_json()))
    })
    .await?;
    Ok(Response::ok(list_body(out, next)))
}
