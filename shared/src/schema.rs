//! The single-table key design, in one place. Every item's pk/sk (and GSI
//! keys) is built here; nothing else formats keys.
//!
//! | entity            | pk                          | sk           | gsi1pk / gsi1sk                     |
//! |-------------------|-----------------------------|--------------|-------------------------------------|
//! | account           | `ACCT#<acct>`               | `ACCT`       |                                     |
//! | API key           | `APIKEY#<sha256>`           | `APIKEY`     | `KEYS#<owner>` / `<key_id>`          |
//! | store             | `STORE#<store>`             | `STORE`      | `ACCT#<acct>#STORES` / `<store_id>` |
//! | idempotency       | `IDEM#<key hash>#<idem key>`| `IDEM`       |                                     |
//! | rate-limit window | `RL#<key_id>`               | `W#<minute>` |                                     |

use crate::table::Key;

pub fn account(id: &str) -> Key {
    Key::new(format!("ACCT#{id}"), "ACCT")
}

pub fn api_key(hash: &str) -> Key {
    Key::new(format!("APIKEY#{hash}"), "APIKEY")
}

/// gsi1 partition listing the keys of a store or of an account.
pub fn keys_of(owner_id: &str) -> String {
    format!("KEYS#{owner_id}")
}

pub fn store(id: &str) -> Key {
    Key::new(format!("STORE#{id}"), "STORE")
}

/// gsi1 partition listing the stores of an account.
pub fn stores_of(account_id: &str) -> String {
    format!("ACCT#{account_id}#STORES")
}

pub fn idempotency(key_hash: &str, idem_key: &str) -> Key {
    Key::new(format!("IDEM#{key_hash}#{idem_key}"), "IDEM")
}

pub fn rate_window(key_id: &str, minute: i64) -> Key {
    Key::new(format!("RL#{key_id}"), format!("W#{minute}"))
}
