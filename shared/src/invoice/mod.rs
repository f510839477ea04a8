//! Invoices: the record, its public shape, and (in `lifecycle`) the one pure
//! function that decides every status change.

pub mod creation;
pub mod fixed;
pub mod lifecycle;
pub mod poller;
pub mod repo;

pub use creation::{create, InvoiceError, NewInvoice};

use crate::clock::Stamp;
use crate::money::amount_to_btc_string;
use crate::network::Network;
use crate::prices::rates::Currency;
use crate::store::SpeedPolicy;
use crate::view::{DecimalText, InvoiceObject, PaymentObject, RefundObject};
use crate::wire::{wire_schema, wire_words};
use bitcoin::Amount;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    New,
    PaidPartial,
    Pending,
    Completed,
    Expired,
    Cancelled,
    Invalid,
    Archived,
    Refunded,
}

wire_words!(Status {
    New => "new",
    PaidPartial => "paid_partial",
    Pending => "pending",
    Completed => "completed",
    Expired => "expired",
    Cancelled => "cancelled",
    Invalid => "invalid",
    Archived => "archived",
    Refunded => "refunded",
});
wire_schema!(Status as "InvoiceStatus");

impl Status {
    /// Seed 000's words (WebSocket messages).
    pub fn seed_word(self) -> &'static str {
        match self {
            Status::New => "unpaid",
            Status::PaidPartial => "underpaid",
            Status::Pending | Status::Completed => "paid",
            other => other.as_str(),
        }
    }

    /// Open: the merchant may still mark it.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Status::New | Status::PaidPartial | Status::Pending | Status::Expired
        )
    }
}

/// A mark on an invoice (`flags` on the wire).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[schema(as = InvoiceFlag)]
pub enum Flag {
    Overpaid,
    PaidLate,
    UnderpaymentAccepted,
    ManuallyMarked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Mempool,
    Confirmed,
    /// Double-spent or replaced: it no longer counts.
    Replaced,
    /// Its block left the best chain; back in the mempool.
    Reorged,
}

wire_words!(PaymentStatus {
    Mempool => "mempool",
    Confirmed => "confirmed",
    Replaced => "replaced",
    Reorged => "reorged",
});
wire_schema!(PaymentStatus);

/// An on-chain payment to the invoice's address (one output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub id: String,
    pub txid: String,
    pub vout: u32,
    pub address: String,
    /// Stored in satoshis.
    #[serde(with = "bitcoin::amount::serde::as_sat")]
    pub amount_sats: Amount,
    pub confirmations: u32,
    pub block_height: Option<u32>,
    pub block_hash: Option<String>,
    pub status: PaymentStatus,
    pub rbf: bool,
    pub seen_at: Stamp,
    /// Seen after `expires_at`.
    #[serde(default)]
    pub late: bool,
}

impl Payment {
    /// Counts toward what was paid.
    pub fn counts(&self) -> bool {
        self.status != PaymentStatus::Replaced
    }

    /// Stable id: the same output always gets the same id.
    pub fn id_for(invoice_id: &str, txid: &str, vout: u32) -> String {
        use sha2::{Digest, Sha256};
        let h = Sha256::digest(format!("{invoice_id}|{txid}:{vout}").as_bytes());
        format!("pay_{}", &hex::encode(h)[..32])
    }

    /// The resource as the API shows it (a payment of `invoice_id`).
    pub fn view<'a>(&'a self, invoice_id: &'a str) -> PaymentView<'a> {
        PaymentView {
            id: &self.id,
            object: PaymentObject,
            invoice_id,
            txid: &self.txid,
            vout: self.vout,
            address: &self.address,
            amount: amount_to_btc_string(self.amount_sats).into(),
            amount_sats: self.amount_sats.to_sat(),
            confirmations: self.confirmations,
            block_height: self.block_height,
            status: self.status,
            rbf: self.rbf,
            late: self.late,
            seen_at: self.seen_at,
        }
    }

    /// The resource as JSON ([`PaymentView`]).
    pub fn to_json(&self, invoice_id: &str) -> Value {
        serde_json::to_value(self.view(invoice_id)).expect("a payment serializes")
    }
}

/// A payment as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Payment)]
pub struct PaymentView<'a> {
    pub id: &'a str,
    #[schema(inline)]
    pub object: PaymentObject,
    pub invoice_id: &'a str,
    pub txid: &'a str,
    /// The output's index in the transaction.
    pub vout: u32,
    pub address: &'a str,
    /// In BTC.
    pub amount: DecimalText,
    pub amount_sats: u64,
    pub confirmations: u32,
    #[schema(required = true)]
    pub block_height: Option<u32>,
    pub status: PaymentStatus,
    /// Signals replace-by-fee.
    pub rbf: bool,
    /// Seen after the invoice expired.
    pub late: bool,
    pub seen_at: Stamp,
}

/// Where a refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Waiting for the merchant to pay it from their wallet.
    Requested,
    /// A matching transaction was seen.
    Sent,
}

/// A refund the merchant pays from their own wallet; the poller notices it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    pub id: String,
    pub address: String,
    /// Stored in satoshis.
    #[serde(with = "bitcoin::amount::serde::as_sat")]
    pub amount_sats: Amount,
    pub status: RefundStatus,
    pub txid: Option<String>,
    pub created_at: Stamp,
    pub sent_at: Option<Stamp>,
}

impl Refund {
    /// The resource as the API shows it (a refund of `invoice_id`).
    pub fn view<'a>(&'a self, invoice_id: &'a str) -> RefundView<'a> {
        RefundView {
            id: &self.id,
            object: RefundObject,
            invoice_id,
            address: &self.address,
            amount: amount_to_btc_string(self.amount_sats).into(),
            amount_sats: self.amount_sats.to_sat(),
            status: self.status,
            txid: self.txid.as_deref(),
            created_at: self.created_at,
            sent_at: self.sent_at,
        }
    }

    /// The resource as JSON ([`RefundView`]).
    pub fn to_json(&self, invoice_id: &str) -> Value {
        serde_json::to_value(self.view(invoice_id)).expect("a refund serializes")
    }
}

/// A refund as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Refund)]
pub struct RefundView<'a> {
    pub id: &'a str,
    #[schema(inline)]
    pub object: RefundObject,
    pub invoice_id: &'a str,
    pub address: &'a str,
    /// In BTC.
    pub amount: DecimalText,
    pub amount_sats: u64,
    pub status: RefundStatus,
    /// The transaction that paid it, once seen.
    #[schema(required = true)]
    pub txid: Option<&'a str>,
    pub created_at: Stamp,
    #[schema(required = true)]
    pub sent_at: Option<Stamp>,
}

/// An invoice as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    pub id: String,
    pub store_id: String,
    pub status: Status,
    /// Price in `currency` (fiat code or BTC).
    pub amount: Decimal,
    pub currency: Currency,
    /// What the buyer must pay (fiat rounded up); stored in satoshis.
    #[serde(with = "bitcoin::amount::serde::as_sat")]
    pub crypto_amount_sats: Amount,
    /// Fiat per BTC, locked at creation (None for BTC invoices).
    pub rate: Option<Decimal>,
    pub network: Network,
    pub address: Option<String>,
    pub address_index: Option<u64>,
    /// Checksum of the wallet descriptor the address came from.
    pub wallet_id: Option<String>,
    pub order_id: Option<String>,
    pub order_name: Option<String>,
    pub buyer_email: Option<String>,
    pub memo: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub redirect_url: Option<String>,
    pub webhook_url: Option<String>,
    pub speed_policy: SpeedPolicy,
    pub payment_tolerance_percent: Decimal,
    pub flags: Vec<Flag>,
    pub created_at: Stamp,
    pub updated_at: Stamp,
    pub expires_at: Stamp,
    pub monitoring_until: Stamp,
    #[serde(default)]
    pub payments: Vec<Payment>,
    #[serde(default)]
    pub refunds: Vec<Refund>,
    /// Set by accept-underpayment; stored in satoshis.
    #[serde(default, with = "bitcoin::amount::serde::as_sat::opt")]
    pub accepted_sats: Option<Amount>,
    pub quote_id: Option<String>,
    /// Merchant's comment / cancel reason.
    pub comment: Option<String>,
    /// Optimistic concurrency: every write bumps it, guarded by the old value.
    pub version: u64,
    /// Store name for BIP21 labels.
    #[serde(default)]
    pub store_name: String,
    /// Ids of the payments whose `payment.confirmed` was recorded (once each).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub confirmed_payments: Vec<String>,
    /// Set when the address is the merchant's own fixed address (seed
    /// 000's `POST /r`) rather than one derived from the store's wallet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<fixed::FixedAddress>,
}

/// What an invoice asks for: its price and the satoshis that pay it.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    /// In `currency`, with at most its decimals.
    pub amount: Decimal,
    pub currency: crate::prices::rates::Currency,
    /// What the buyer must pay.
    pub sats: u64,
    /// Fiat per BTC (None for BTC prices and unknown rates).
    pub rate: Option<Decimal>,
}

impl Invoice {
    /// A fresh invoice of `store` (version 1, no address, no payments) with
    /// the store's settings, created at `created` and written at `now`; it
    /// expires and stops being watched at `created` until the caller says
    /// otherwise.
    pub fn new(
        id: String,
        store: &crate::store::Store,
        status: Status,
        price: Price,
        created: time::OffsetDateTime,
        now: time::OffsetDateTime,
    ) -> Invoice {
        Invoice {
            id,
            store_id: store.id.clone(),
            status,
            amount: price.amount,
            currency: price.currency,
            crypto_amount_sats: Amount::from_sat(price.sats),
            rate: price.rate,
            network: store.network,
            address: None,
            address_index: None,
            wallet_id: None,
            order_id: None,
            order_name: None,
            buyer_email: None,
            memo: None,
            metadata: None,
            redirect_url: None,
            webhook_url: None,
            speed_policy: store.speed_policy,
            payment_tolerance_percent: store.payment_tolerance_percent,
            flags: vec![],
            created_at: Stamp::new(created),
            updated_at: Stamp::new(now),
            expires_at: Stamp::new(created),
            monitoring_until: Stamp::new(created),
            payments: vec![],
            refunds: vec![],
            accepted_sats: None,
            quote_id: None,
            comment: None,
            version: 1,
            store_name: store.name.clone(),
            confirmed_payments: vec![],
            fixed: None,
        }
    }

    pub fn has_flag(&self, f: Flag) -> bool {
        self.flags.contains(&f)
    }

    pub fn set_flag(&mut self, f: Flag) {
        if !self.flags.contains(&f) {
            self.flags.push(f);
            self.flags.sort();
        }
    }

    /// What was received (payments that still count).
    pub fn paid_sats(&self) -> Amount {
        self.payments
            .iter()
            .filter(|p| p.counts())
            .map(|p| p.amount_sats)
            .sum()
    }

    /// What is still to pay (nothing once paid in full or over).
    pub fn due_sats(&self) -> Amount {
        self.crypto_amount_sats
            .checked_sub(self.paid_sats())
            .unwrap_or(Amount::ZERO)
    }

    /// BIP21 URI for what is still due (the full amount before any payment).
    pub fn payment_uri(&self) -> Option<String> {
        let address = self.address.as_ref()?;
        let due = self.due_sats();
        let mut uri = format!("bitcoin:{address}");
        let mut params = Vec::new();
        if due > Amount::ZERO {
            params.push(format!("amount={}", trim_btc(&amount_to_btc_string(due))));
        }
        let enc = |s: &str| percent_encoding::utf8_percent_encode(s, BIP21_SET).to_string();
        if !self.store_name.is_empty() {
            params.push(format!("label={}", enc(&self.store_name)));
        }
        if let Some(m) = self.order_name.as_ref().or(self.memo.as_ref()) {
            params.push(format!("message={}", enc(m)));
        }
        if !params.is_empty() {
            uri.push('?');
            uri.push_str(&params.join("&"));
        }
        Some(uri)
    }

    /// The resource as the API shows it (its URLs under `public_url`).
    pub fn view<'a>(&'a self, public_url: &str) -> InvoiceView<'a> {
        let paid = self.paid_sats();
        let fiat_dp = self.currency.decimals();
        let amount_paid = match self.rate {
            Some(rate) => crate::money::sats_to_fiat(paid, rate, fiat_dp).to_string(),
            None => amount_to_btc_string(paid),
        };
        let rate = self.rate.map(|mut r| {
            if r.scale() < fiat_dp {
                r.rescale(fiat_dp);
            }
            DecimalText(r.to_string())
        });
        InvoiceView {
            id: &self.id,
            object: InvoiceObject,
            store_id: &self.store_id,
            status: self.status,
            amount: self.amount.to_string().into(),
            currency: &self.currency,
            crypto_amount: amount_to_btc_string(self.crypto_amount_sats).into(),
            crypto_amount_sats: self.crypto_amount_sats.to_sat(),
            amount_paid: amount_paid.into(),
            amount_paid_sats: paid.to_sat(),
            amount_due_sats: self.due_sats().to_sat(),
            rate,
            network: self.network,
            address: self.address.as_deref(),
            address_index: self.address_index,
            payment_uri: self.payment_uri(),
            payment_url: format!("{public_url}/r/{}", self.id),
            checkout_url: format!("{public_url}/i/{}", self.id),
            order_id: self.order_id.as_deref(),
            order_name: self.order_name.as_deref(),
            buyer_email: self.buyer_email.as_deref(),
            memo: self.memo.as_deref(),
            metadata: self.metadata.as_ref(),
            redirect_url: self.redirect_url.as_deref(),
            webhook_url: self.webhook_url.as_deref(),
            speed_policy: self.speed_policy,
            payment_tolerance_percent: self
                .payment_tolerance_percent
                .normalize()
                .to_string()
                .into(),
            flags: &self.flags,
            quote_id: self.quote_id.as_deref(),
            comment: self.comment.as_deref(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            expires_at: self.expires_at,
            monitoring_until: self.monitoring_until,
            payments: self.payments.iter().map(|p| p.view(&self.id)).collect(),
            refunds: self.refunds.iter().map(|r| r.view(&self.id)).collect(),
        }
    }

    /// The resource as JSON ([`InvoiceView`]).
    pub fn to_json(&self, public_url: &str) -> Value {
        serde_json::to_value(self.view(public_url)).expect("an invoice serializes")
    }
}

/// An invoice as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Invoice)]
pub struct InvoiceView<'a> {
    pub id: &'a str,
    #[schema(inline)]
    pub object: InvoiceObject,
    pub store_id: &'a str,
    pub status: Status,
    /// The price, in `currency`.
    pub amount: DecimalText,
    #[schema(schema_with = crate::view::currency_code)]
    pub currency: &'a Currency,
    /// What the buyer must pay, in BTC.
    pub crypto_amount: DecimalText,
    pub crypto_amount_sats: u64,
    /// What was received, in `currency`.
    pub amount_paid: DecimalText,
    pub amount_paid_sats: u64,
    pub amount_due_sats: u64,
    /// `currency` per BTC, locked at creation (`null` for BTC invoices).
    #[schema(required = true)]
    pub rate: Option<DecimalText>,
    pub network: Network,
    #[schema(required = true)]
    pub address: Option<&'a str>,
    #[schema(required = true)]
    pub address_index: Option<u64>,
    /// BIP21 URI for what is still due.
    #[schema(required = true)]
    pub payment_uri: Option<String>,
    pub payment_url: String,
    /// The hosted checkout page.
    pub checkout_url: String,
    #[schema(required = true)]
    pub order_id: Option<&'a str>,
    #[schema(required = true)]
    pub order_name: Option<&'a str>,
    #[schema(required = true)]
    pub buyer_email: Option<&'a str>,
    #[schema(required = true)]
    pub memo: Option<&'a str>,
    #[schema(required = true)]
    pub metadata: Option<&'a Map<String, Value>>,
    #[schema(required = true)]
    pub redirect_url: Option<&'a str>,
    #[schema(required = true)]
    pub webhook_url: Option<&'a str>,
    pub speed_policy: SpeedPolicy,
    pub payment_tolerance_percent: DecimalText,
    pub flags: &'a [Flag],
    #[schema(required = true)]
    pub quote_id: Option<&'a str>,
    /// The merchant's comment or cancel reason.
    #[schema(required = true)]
    pub comment: Option<&'a str>,
    pub created_at: Stamp,
    pub updated_at: Stamp,
    pub expires_at: Stamp,
    pub monitoring_until: Stamp,
    pub payments: Vec<PaymentView<'a>>,
    pub refunds: Vec<RefundView<'a>>,
}

/// Characters BIP21 values must percent-encode (RFC 3986 query, minus `&=`).
const BIP21_SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// "0.00100000" -> "0.001" (BIP21 amounts need no trailing zeros).
fn trim_btc(s: &str) -> String {
    let t = s.trim_end_matches('0').trim_end_matches('.');
    if t.is_empty() {
        "0".into()
    } else {
        t.to_string()
    }
}
