//! Creating an invoice, knowing nothing about HTTP: `create` prices a
//! [`NewInvoice`] now or at a held quote, takes the next address of the
//! store's wallet and stores it; what can go wrong is an [`InvoiceError`]
//! (mapped to the API's error codes once, in `crate::error`).

use super::{Invoice, Price, Status};
use crate::app::App;
use crate::handlers::ctx::IdempotencyLease;
use crate::ids::{new_id, IdKind};
use crate::money::{btc_to_amount, check_amount, fiat_to_sats};
use crate::prices::rates::{allowed_currency, Currency};
use crate::store::{SpeedPolicy, Store};
use crate::table::TableError;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// Outputs below this are non-standard and would never relay.
pub const DUST_SATS: u64 = 546;

/// What a new invoice asks for (`POST /v1/invoices`, the faces and the
/// WebSocket `create_invoice`), in domain types. Left-out settings are the
/// store's (or the quote's).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct NewInvoice {
    pub quote_id: Option<String>,
    /// Checked against the currency's decimals when priced.
    pub amount: Option<Decimal>,
    pub currency: Option<Currency>,
    pub order_id: Option<String>,
    pub order_name: Option<String>,
    pub memo: Option<String>,
    pub buyer_email: Option<String>,
    pub redirect_url: Option<String>,
    pub webhook_url: Option<String>,
    pub expire_min: Option<i64>,
    pub tolerance: Option<Decimal>,
    pub speed: Option<SpeedPolicy>,
    pub metadata: Option<Map<String, Value>>,
    /// The merchant's own address to be paid (seed 000's `POST /r`)
    /// instead of the next address of the store's wallet.
    pub fixed_address: Option<String>,
}

/// Why an invoice was not created.
#[derive(Debug, thiserror::Error)]
pub enum InvoiceError {
    /// The amount is missing, or not payable in its currency.
    #[error("{0}")]
    Amount(String),
    /// The currency is not one the gateway accepts (`allowed_currency`).
    #[error("{0}")]
    Currency(String),
    /// An amount or currency was sent that differs from the quote's.
    #[error("must match the quote's amount and currency (or be left out)")]
    QuoteMismatch,
    /// The price is less than an output can carry.
    #[error("is {sats} sats; the smallest payable amount is {DUST_SATS} sats (the dust limit)")]
    BelowDust { sats: u64 },
    /// Another invoice of the store has this order id.
    #[error("order_id `{0}` is already used by another invoice of this store")]
    OrderIdTaken(String),
    /// The quote was claimed or expired while the invoice was written.
    #[error("the quote was used or expired while creating the invoice")]
    QuoteTaken,
    /// A retry with the same idempotency key answered first.
    #[error("a retry with this Idempotency-Key took over the request; its answer is the one kept")]
    AnswerTaken,
    /// Too many concurrent creations for one store; retrying is safe.
    #[error("too many invoices being created at once for this store; retry")]
    Busy,
    /// Every non-hardened index of the receive branch was handed out.
    #[error("the wallet's receive branch is exhausted")]
    WalletExhausted,
    /// The store's stored wallet does not derive addresses.
    #[error("the store's wallet could not be read: {0}")]
    Wallet(String),
    /// The merchant's fixed address backs another open request, or was
    /// handed out by a store wallet (the message says which).
    #[error("{0}")]
    AddressHeld(String),
    /// Other requests keep claiming the fixed address; retrying is safe.
    #[error("address {0} is being claimed by other requests right now; retry")]
    AddressContended(String),
    /// A quote claim or an idempotent answer of a fixed-address request
    /// lost its condition while the request was written.
    #[error("the quote was used or expired, or a retry with this Idempotency-Key took over, while creating the request")]
    ClaimTaken,
    /// No chain backend serves the store's network (a fixed address's
    /// earlier payments could not be told apart).
    #[error("no chain backend serves {0} here, so payments to a fixed address could not be told from the ones it had before (satsgate-local serves mainnet, testnet and signet with --live, regtest from its sandbox chain)")]
    NoChain(crate::network::Network),
    /// The chain backend could not list a fixed address's history.
    #[error("the chain backend could not list the transactions of {address} ({reason}); retry")]
    ChainUnreadable { address: String, reason: String },
    /// No price or quote to price with.
    #[error(transparent)]
    Pricing(#[from] crate::prices::PricingError),
    /// The table failed; nothing was written.
    #[error(transparent)]
    Storage(#[from] TableError),
}

/// The price of an invoice without a quote: BTC with up to 8 decimals, or an
/// allowed fiat with its minor units at the current rate.
async fn price_now(app: &App, amount: Decimal, currency: Currency) -> Result<Price, InvoiceError> {
    allowed_currency(app, &currency).map_err(InvoiceError::Currency)?;
    let amount = check_amount(amount, currency.code()).map_err(InvoiceError::Amount)?;
    let (sats, rate) = match &currency {
        Currency::Btc => (btc_to_amount(amount).map_err(InvoiceError::Amount)?, None),
        Currency::Fiat(fiat) => {
            let rate = crate::prices::rates::current_rate(app, fiat).await?;
            let sats = fiat_to_sats(amount, rate.price).map_err(InvoiceError::Amount)?;
            (sats, Some(rate.price))
        }
    };
    Ok(Price {
        amount,
        currency,
        sats: sats.to_sat(),
        rate,
    })
}

/// The store's default currency, which must be allowed like any other
/// (the gateway's fiats may have changed since the store chose it).
fn store_currency(app: &App, store: &Store) -> Result<Currency, InvoiceError> {
    allowed_currency(app, &store.default_currency).map_err(|e| {
        InvoiceError::Currency(format!(
            "is required: the store's default currency is not accepted ({e}); send a currency or change the store's default_currency"
        ))
    })?;
    Ok(store.default_currency.clone())
}

/// Create an invoice of `store`: priced now or at a held quote, with the
/// next address of the store's wallet. With an idempotency lease its answer
/// is stored in the same transaction.
pub async fn create(
    app: &App,
    store: &Store,
    new: NewInvoice,
    lease: Option<&IdempotencyLease>,
) -> Result<Invoice, InvoiceError> {
    let id = new_id(IdKind::Invoice);
    let mut extra_ops = Vec::new();
    let mut speed = new.speed;
    let price = match &new.quote_id {
        Some(qid) => {
            let (quote, _) = crate::prices::quotes::quote_for_invoice(app, &store.id, qid).await?;
            if new.amount.is_some_and(|a| a != quote.amount)
                || new
                    .currency
                    .as_ref()
                    .is_some_and(|c| *c != Currency::Fiat(quote.currency.clone()))
            {
                return Err(InvoiceError::QuoteMismatch);
            }
            extra_ops.push(quote.claim_op(Some(&id), app.now()));
            // The quote's terms (seed 002 GetRate): the buyer pays the total
            // (amount + network fee), and a quote that accepted zero-conf
            // settles on a non-RBF unconfirmed payment, unless this request
            // names its own speed policy.
            if quote.accept_zero_conf {
                speed = speed.or(Some(SpeedPolicy::ZeroConf));
            }
            Price {
                amount: quote.amount,
                currency: Currency::Fiat(quote.currency.clone()),
                sats: quote.total_sats.to_sat(),
                rate: Some(quote.rate),
            }
        }
        None => {
            let amount = new
                .amount
                .ok_or_else(|| InvoiceError::Amount("is required".into()))?;
            let currency = match new.currency.clone() {
                Some(c) => c,
                None => store_currency(app, store)?,
            };
            price_now(app, amount, currency).await?
        }
    };
    if price.sats < DUST_SATS {
        return Err(InvoiceError::BelowDust { sats: price.sats });
    }
    let now = app.now();
    let expires = now + time::Duration::minutes(new.expire_min.unwrap_or(store.expiration_minutes));
    let base = Invoice::new(id, store, Status::New, price, now, now);
    let inv = Invoice {
        order_id: new.order_id,
        order_name: new.order_name,
        buyer_email: new.buyer_email,
        memo: new.memo,
        metadata: new.metadata,
        redirect_url: new.redirect_url,
        webhook_url: new.webhook_url,
        speed_policy: speed.unwrap_or(store.speed_policy),
        payment_tolerance_percent: new.tolerance.unwrap_or(store.payment_tolerance_percent),
        expires_at: expires.into(),
        monitoring_until: (expires + time::Duration::minutes(store.monitoring_minutes)).into(),
        quote_id: new.quote_id,
        ..base
    };
    match new.fixed_address {
        Some(address) => super::fixed::create(app, store, inv, address, extra_ops, lease).await,
        None => super::repo::create(app, store, inv, extra_ops, lease).await,
    }
}
