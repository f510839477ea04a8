//! Stores: the merchant's shop, its wallet and its payment settings.

use crate::app::App;
use crate::clock::Stamp;
use crate::error::{ApiError, FieldErrors};
use crate::network::Network;
use crate::prices::rates::{allowed_currency, parse_currency, Currency};
use crate::request::{self, Dec, Field, Int, NonEmpty, Patch, Strings, Text, Unknown, Word};
use crate::view::{DecimalText, StoreObject};
use crate::wallet::{ScriptType, Wallet};
use crate::wire::{wire_schema, wire_words};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// How many confirmations settle an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpeedPolicy {
    /// Accept unconfirmed payments that do not signal RBF.
    ZeroConf,
    OneConf,
    TwoConf,
    SixConf,
}

wire_words!(SpeedPolicy {
    ZeroConf => "zero_conf",
    OneConf => "one_conf",
    TwoConf => "two_conf",
    SixConf => "six_conf",
});
wire_schema!(SpeedPolicy);

impl SpeedPolicy {
    pub fn confirmations(self) -> u32 {
        match self {
            SpeedPolicy::ZeroConf => 0,
            SpeedPolicy::OneConf => 1,
            SpeedPolicy::TwoConf => 2,
            SpeedPolicy::SixConf => 6,
        }
    }
}

pub const DEFAULT_EXPIRATION_MINUTES: i64 = 15;
pub const DEFAULT_MONITORING_MINUTES: i64 = 60;
/// Wallets commonly stop scanning after 20 unused addresses in a row.
pub const GAP_LIMIT: u64 = 20;

/// A store as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Store {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub network: Network,
    /// Canonical public descriptor with checksum.
    pub wallet: String,
    pub wallet_type: ScriptType,
    /// Stored as its code; an invoice without a currency is priced in it.
    pub default_currency: Currency,
    pub speed_policy: SpeedPolicy,
    pub expiration_minutes: i64,
    pub monitoring_minutes: i64,
    pub payment_tolerance_percent: Decimal,
    pub api_allowed_ips: Vec<String>,
    pub created_at: Stamp,
    pub updated_at: Stamp,
}

impl Store {
    /// The resource as the API shows it. `addresses` is the derivation
    /// state of the current wallet (next index, unpaid gap), when known.
    pub fn view(&self, addresses: Option<(u64, u64)>) -> StoreView<'_> {
        let mut warnings = Vec::new();
        let (next_index, gap) = addresses.unwrap_or((0, 0));
        if gap > GAP_LIMIT {
            warnings.push(StoreWarning {
                code: StoreWarningCode::AddressGap,
                message: format!(
                    "{gap} addresses in a row were handed out without a payment; wallets with a gap limit of {GAP_LIMIT} will not see payments to later addresses until you raise the wallet's gap limit"
                ),
            });
        }
        StoreView {
            id: &self.id,
            object: StoreObject,
            account_id: &self.account_id,
            name: &self.name,
            network: self.network,
            // Stripe's word: false for a test store (a test network, the
            // sandbox's regtest among them), whose keys are `sgs_test_...`.
            livemode: !self.network.is_test(),
            wallet: &self.wallet,
            wallet_type: self.wallet_type,
            default_currency: &self.default_currency,
            speed_policy: self.speed_policy,
            expiration_minutes: self.expiration_minutes,
            monitoring_minutes: self.monitoring_minutes,
            payment_tolerance_percent: self
                .payment_tolerance_percent
                .normalize()
                .to_string()
                .into(),
            api_allowed_ips: &self.api_allowed_ips,
            next_address_index: next_index,
            address_gap: gap,
            warnings,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// The resource as JSON ([`StoreView`]).
    pub fn to_json(&self, addresses: Option<(u64, u64)>) -> Value {
        serde_json::to_value(self.view(addresses)).expect("a store serializes")
    }
}

/// A store as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Store)]
pub struct StoreView<'a> {
    pub id: &'a str,
    #[schema(inline)]
    pub object: StoreObject,
    pub account_id: &'a str,
    pub name: &'a str,
    pub network: Network,
    /// False for a store on a test network.
    pub livemode: bool,
    /// The wallet's public descriptor, with its checksum.
    pub wallet: &'a str,
    pub wallet_type: ScriptType,
    #[schema(schema_with = crate::view::currency_code)]
    pub default_currency: &'a Currency,
    pub speed_policy: SpeedPolicy,
    pub expiration_minutes: i64,
    pub monitoring_minutes: i64,
    pub payment_tolerance_percent: DecimalText,
    pub api_allowed_ips: &'a [String],
    /// The derivation index of the next address.
    pub next_address_index: u64,
    /// Addresses handed out in a row without a payment.
    pub address_gap: u64,
    pub warnings: Vec<StoreWarning>,
    pub created_at: Stamp,
    pub updated_at: Stamp,
}

/// Something about a store its merchant should act on.
#[derive(Serialize, utoipa::ToSchema)]
pub struct StoreWarning {
    pub code: StoreWarningCode,
    pub message: String,
}

/// What a [`StoreWarning`] is about.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StoreWarningCode {
    /// More unpaid addresses in a row than wallets' usual gap limit.
    AddressGap,
}

/// Store settings from a create or update body.
#[derive(Debug, Default)]
pub struct StoreSettings {
    pub name: Option<String>,
    pub network: Option<Network>,
    pub wallet: Option<Wallet>,
    pub default_currency: Option<Currency>,
    pub speed_policy: Option<SpeedPolicy>,
    pub expiration_minutes: Option<i64>,
    pub monitoring_minutes: Option<i64>,
    pub payment_tolerance_percent: Option<Decimal>,
    pub api_allowed_ips: Option<Vec<String>>,
}

/// The default currency of a store created without one: USD when the
/// gateway accepts it, else the first configured fiat, else BTC.
pub fn fallback_currency(app: &App) -> Currency {
    let usd = Currency::Fiat(crate::prices::Fiat::USD);
    if allowed_currency(app, &usd).is_ok() {
        return usd;
    }
    app.config
        .fiats
        .first()
        .map_or(Currency::Btc, |f| Currency::Fiat(f.clone()))
}

crate::request_schema::request_type! {
    /// The body of `POST /v1/stores` and of `PATCH /v1/stores/{id}`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub struct StoreRequest {
        pub name: Field<NonEmpty<100>>,
        /// A word on create; sent at all (even `null`) on update, refused.
        pub network: Patch<Value>,
        pub wallet: Field<NonEmpty<1000>>,
        pub default_currency: Field<Text<8>>,
        pub speed_policy: Field<Word<SpeedPolicy>>,
        pub expiration_minutes: Field<Int<1, { 7 * 24 * 60 }>>,
        pub monitoring_minutes: Field<Int<0, { 30 * 24 * 60 }>>,
        pub payment_tolerance_percent: Field<Dec>,
        pub api_allowed_ips: Field<Strings<100, 64>>,
        #[serde(flatten)]
        pub unknown: Unknown,
    }
}

impl StoreRequest {
    /// The settings, every bad field reported at once. `existing_network`
    /// is `None` on create (the body names the network) or the store's
    /// fixed network on update (needed to check a new wallet). The default
    /// currency must be one the gateway accepts (`allowed_currency`); on
    /// create it is [`fallback_currency`] when left out.
    pub fn into_settings(
        self,
        app: &App,
        existing_network: Option<Network>,
    ) -> Result<StoreSettings, ApiError> {
        let mut e = FieldErrors::default();
        let creating = existing_network.is_none();
        let name = if creating {
            self.name.require("name", &mut e)
        } else {
            self.name.take("name", &mut e)
        };
        let network = match (existing_network, self.network) {
            (Some(n), Patch::Keep) => Some(n),
            (Some(n), _) => {
                e.add(
                    "network",
                    "cannot be changed; create a new store for another network",
                );
                Some(n)
            }
            (None, Patch::Set(v)) => e
                .check(
                    "network",
                    Word::<Network>::deserialize(v).map_err(|x| x.to_string()),
                )
                .map(|w| w.0),
            (None, Patch::Bad(why)) => {
                e.add("network", why);
                None
            }
            (None, Patch::Keep | Patch::Clear) => {
                e.add("network", "is required");
                None
            }
        };
        let wallet_text = if creating {
            self.wallet.require("wallet", &mut e)
        } else {
            self.wallet.take("wallet", &mut e)
        };
        let wallet = match (wallet_text, network) {
            (Some(NonEmpty(text)), Some(network)) => e.check(
                "wallet",
                Wallet::parse(&text, network).map_err(|x| x.to_string()),
            ),
            _ => None,
        };
        let default_currency = match self.default_currency.take("default_currency", &mut e) {
            Some(Text(c)) => e.check("default_currency", parse_currency(app, &c)),
            None if creating => Some(fallback_currency(app)),
            None => None,
        };
        let payment_tolerance_percent = self
            .payment_tolerance_percent
            .take("payment_tolerance_percent", &mut e)
            .and_then(|d| {
                e.check(
                    "payment_tolerance_percent",
                    d.within(Decimal::ZERO, Decimal::from(50)),
                )
            });
        let settings = StoreSettings {
            name: name.map(|n| n.0),
            network,
            wallet,
            default_currency,
            speed_policy: self.speed_policy.take("speed_policy", &mut e).map(|w| w.0),
            expiration_minutes: self
                .expiration_minutes
                .take("expiration_minutes", &mut e)
                .map(|n| n.0),
            monitoring_minutes: self
                .monitoring_minutes
                .take("monitoring_minutes", &mut e)
                .map(|n| n.0),
            payment_tolerance_percent,
            api_allowed_ips: request::allowlist(self.api_allowed_ips, "api_allowed_ips", &mut e),
        };
        self.unknown.refuse(&mut e, crate::request::UNKNOWN_FIELD);
        e.finish()?;
        Ok(settings)
    }
}

impl StoreSettings {
    /// Parse a create (`existing_network` `None`) or update body
    /// ([`StoreRequest::into_settings`]).
    pub fn parse(
        app: &App,
        body: &[u8],
        existing_network: Option<Network>,
    ) -> Result<StoreSettings, ApiError> {
        request::body::<StoreRequest>(body)?.into_settings(app, existing_network)
    }

    /// A new store from create settings (all required fields present).
    pub fn into_store(self, id: String, account_id: String, now: Stamp) -> Store {
        let wallet = self.wallet.expect("parsed on create");
        Store {
            id,
            account_id,
            name: self.name.expect("parsed on create"),
            network: self.network.expect("parsed on create"),
            wallet: wallet.descriptor(),
            wallet_type: wallet.script_type(),
            default_currency: self
                .default_currency
                .unwrap_or(Currency::Fiat(crate::prices::Fiat::USD)),
            speed_policy: self.speed_policy.unwrap_or(SpeedPolicy::OneConf),
            expiration_minutes: self
                .expiration_minutes
                .unwrap_or(DEFAULT_EXPIRATION_MINUTES),
            monitoring_minutes: self
                .monitoring_minutes
                .unwrap_or(DEFAULT_MONITORING_MINUTES),
            payment_tolerance_percent: self.payment_tolerance_percent.unwrap_or(Decimal::ZERO),
            api_allowed_ips: self.api_allowed_ips.unwrap_or_default(),
            created_at: now,
            updated_at: now,
        }
    }

    /// The attribute changes an update makes (only what was sent), so a
    /// concurrent writer of other attributes is never overwritten.
    pub fn to_update(self, now: Stamp) -> crate::table::Update {
        let mut u = crate::table::Update::new().set("updated_at", now);
        if let Some(v) = self.name {
            u = u.set("name", v);
        }
        if let Some(w) = self.wallet {
            u = u
                .set("wallet", w.descriptor())
                .set("wallet_type", json!(w.script_type()));
        }
        if let Some(v) = self.default_currency {
            u = u.set("default_currency", v.code());
        }
        if let Some(v) = self.speed_policy {
            u = u.set("speed_policy", json!(v));
        }
        if let Some(v) = self.expiration_minutes {
            u = u.set("expiration_minutes", v);
        }
        if let Some(v) = self.monitoring_minutes {
            u = u.set("monitoring_minutes", v);
        }
        if let Some(v) = self.payment_tolerance_percent {
            u = u.set("payment_tolerance_percent", v.normalize().to_string());
        }
        if let Some(v) = self.api_allowed_ips {
            u = u.set("api_allowed_ips", json!(v));
        }
        u
    }
}
