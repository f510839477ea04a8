//! The demo account and store created on first start.

use satsgate::account::{create_account, ApiKeyRecord};
use satsgate::app::App;
use satsgate::handlers::stores::store_item;
use satsgate::ids::{new_id, IdKind};
use satsgate::schema;
use satsgate::store::StoreSettings;
use satsgate::table::{Cond, Key, TxOp};
use serde_json::json;

/// The BIP84 test account (m/84'/1'/0' of the "abandon ... about" mnemonic):
/// public, well known, and derivable by any wallet for checking.
pub const DEMO_WALLET: &str = "vpub5Y6cjg78GGuNLsaPhmYsiw4gYX3HoQiRBiSwDaBXKUafCt9bNwWQiitDk5VZ5BVxYnQdwoTyXSs2JHRPAgjAvtbBrf8ZhDYe2jWAqvZVnsc";

/// Keys of a freshly created demo.
pub struct Demo {
    pub account_key: String,
    pub store_key: String,
    pub store_id: String,
}

fn marker() -> Key {
    schema::demo_marker()
}

/// Create the demo account and a regtest store, once per data dir.
/// Returns None when the demo already exists.
pub async fn ensure_demo(app: &App) -> Result<Option<Demo>, String> {
    if app
        .table
        .get(&marker())
        .await
        .map_err(|e| e.to_string())?
        .is_some()
    {
        return Ok(None);
    }
    let now = app.now();
    let (account, _key, account_key) = create_account(&*app.table, "Demo account", now)
        .await
        .map_err(|e| e.to_string())?;
    let body =
        json!({"name": "Demo store", "network": "regtest", "wallet": DEMO_WALLET}).to_string();
    let settings = StoreSettings::parse(app, body.as_bytes(), None).map_err(|e| e.to_string())?;
    let store = settings.into_store(new_id(IdKind::Store), account.id.clone(), now.into());
    let (key, store_key) =
        ApiKeyRecord::new(&account.id, Some(&store), Some("demo".into()), vec![], now);
    let mut marker_item = satsgate::table::Item::new();
    marker_item.insert(schema::PK.into(), json!(marker().pk));
    marker_item.insert(schema::SK.into(), json!(marker().sk));
    marker_item.insert("account_id".into(), json!(account.id));
    marker_item.insert("store_id".into(), json!(store.id));
    app.table
        .transact(vec![
            TxOp::Put {
                item: store_item(&store),
                cond: Some(Cond::NotExists),
            },
            key.put_op(),
            TxOp::Put {
                item: marker_item,
                cond: Some(Cond::NotExists),
            },
        ])
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some(Demo {
        account_key,
        store_key,
        store_id: store.id,
    }))
}
