//! Accounts and API keys as stored.

use crate::auth::{generate_key, hash_key, key_hint, KeyKind};
use crate::clock::Stamp;
use crate::error::ApiError;
use crate::ids::{new_id, IdKind};
use crate::records::to_item;
use crate::schema;
use crate::store::Store;
use crate::table::{Cond, Item, Table, TxOp};
use crate::view::ApiKeyObject;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub created_at: Stamp,
}

/// An API key as stored: never the key itself, only its hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: String,
    pub kind: KeyKind,
    pub account_id: String,
    pub store_id: Option<String>,
    pub label: Option<String>,
    pub allowed_ips: Vec<String>,
    /// First characters of the key, to recognise it in listings.
    pub hint: String,
    pub hash: String,
    pub created_at: Stamp,
    /// For a session key (`POST /v1/auth/login`): the user it was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// For a session key: when it stops working (the item's TTL too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Stamp>,
}

impl ApiKeyRecord {
    /// A new key record and the secret (shown once): a store key when
    /// `store` is given (marked test for a store on a test network), else
    /// an account key.
    pub fn new(
        account_id: &str,
        store: Option<&Store>,
        label: Option<String>,
        allowed_ips: Vec<String>,
        now: time::OffsetDateTime,
    ) -> (ApiKeyRecord, String) {
        let kind = if store.is_some() {
            KeyKind::Store
        } else {
            KeyKind::Account
        };
        let secret = generate_key(kind, store.is_some_and(|s| s.network.is_test()));
        let record = ApiKeyRecord {
            id: new_id(IdKind::Key),
            kind,
            account_id: account_id.to_string(),
            store_id: store.map(|s| s.id.clone()),
            label,
            allowed_ips,
            hint: key_hint(&secret),
            hash: hash_key(&secret),
            created_at: Stamp::new(now),
            user_id: None,
            expires_at: None,
        };
        (record, secret)
    }

    /// The owner whose key list this key is in.
    pub fn owner(&self) -> &str {
        self.store_id.as_deref().unwrap_or(&self.account_id)
    }

    pub fn to_item(&self) -> Item {
        to_item(
            self,
            &schema::api_key(&self.hash),
            &[
                (
                    schema::GSI1_PK,
                    Value::String(schema::keys_of(self.owner())),
                ),
                (schema::GSI1_SK, Value::String(self.id.clone())),
            ],
        )
    }

    /// Put this record (it must be new).
    pub fn put_op(&self) -> TxOp {
        TxOp::Put {
            item: self.to_item(),
            cond: Some(Cond::NotExists),
        }
    }

    /// The resource as listed (no secret).
    pub fn view(&self) -> ApiKeyView<'_> {
        ApiKeyView {
            id: &self.id,
            object: ApiKeyObject,
            kind: self.kind,
            store_id: self.store_id.as_deref(),
            label: self.label.as_deref(),
            allowed_ips: &self.allowed_ips,
            hint: &self.hint,
            created_at: self.created_at,
        }
    }

    /// The resource as JSON ([`ApiKeyView`]).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.view()).expect("an API key serializes")
    }

    /// The resource at creation, with the secret ([`ApiKeyWithSecretView`]).
    pub fn to_json_with_secret(&self, secret: &str) -> Value {
        serde_json::to_value(ApiKeyWithSecretView {
            key: self.view(),
            secret,
        })
        .expect("an API key serializes")
    }
}

/// An API key as the API shows it (never the key itself).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ApiKey)]
pub struct ApiKeyView<'a> {
    pub id: &'a str,
    #[schema(inline)]
    pub object: ApiKeyObject,
    /// `account` (manages the account's stores) or `store` (acts on one).
    pub kind: KeyKind,
    /// The store a store key acts on (`null` for an account key).
    #[schema(required = true)]
    pub store_id: Option<&'a str>,
    #[schema(required = true)]
    pub label: Option<&'a str>,
    /// Addresses or CIDR ranges the key may be used from (empty: any).
    pub allowed_ips: &'a [String],
    /// The key's first characters, to recognise it.
    pub hint: &'a str,
    pub created_at: Stamp,
}

/// An API key at creation: the key itself is shown this once, as `key`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ApiKeyWithSecret)]
pub struct ApiKeyWithSecretView<'a> {
    #[serde(flatten)]
    pub key: ApiKeyView<'a>,
    /// The key (shown only now).
    #[serde(rename = "key")]
    pub secret: &'a str,
}

/// Create an account and its first account key; returns both and the secret.
pub async fn create_account(
    table: &dyn Table,
    name: &str,
    now: time::OffsetDateTime,
) -> Result<(Account, ApiKeyRecord, String), ApiError> {
    let account = Account {
        id: new_id(IdKind::Account),
        name: name.to_string(),
        created_at: Stamp::new(now),
    };
    let (key, secret) = ApiKeyRecord::new(&account.id, None, Some("bootstrap".into()), vec![], now);
    table
        .transact(vec![
            TxOp::Put {
                item: to_item(&account, &schema::account(&account.id), &[]),
                cond: Some(Cond::NotExists),
            },
            key.put_op(),
        ])
        .await?;
    Ok((account, key, secret))
}
