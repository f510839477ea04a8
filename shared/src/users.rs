//! Users of an account (a user name and an argon2id password hash) and their
//! login sessions. Transport-free: the handlers in `handlers/users.rs` and
//! the `satsgate-local create-user` command call these.
//!
//! A session is an account key with a 12-hour TTL, issued to one user and
//! filed under that user (not in the account's key list), so the one auth
//! pipeline checks it like any key and the table forgets it when it expires.

use crate::account::ApiKeyRecord;
use crate::auth::{hash_key, key_hint, KeyKind};
use crate::clock::Stamp;
use crate::error::{ApiError, ErrorCode};
use crate::ids::{new_id, IdKind};
use crate::records::{from_item, to_item};
use crate::schema;
use crate::table::{Cond, Index, Query, Table, TableError, Update};
use crate::view::UserObject;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine as _;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::net::IpAddr;
use time::OffsetDateTime;

/// Shortest password accepted (API.md: at least 12 characters).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted (bounds the hashing work per request).
pub const MAX_PASSWORD_CHARS: usize = 256;
/// How long a session key works.
pub const SESSION_HOURS: i64 = 12;
/// Failed logins are counted in windows of this many seconds.
pub const LOGIN_WINDOW_SECS: i64 = 900;
/// Failed logins per user name in one window before logins are refused.
pub const MAX_FAILURES_PER_USER: u64 = 5;
/// Failed logins per client IP in one window before logins are refused.
pub const MAX_FAILURES_PER_IP: u64 = 20;

/// A user as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub account_id: String,
    pub username: String,
    /// PHC string of the argon2id hash; never shown.
    pub password_hash: String,
    pub created_at: Stamp,
}

impl User {
    /// The resource as the API shows it (no hash).
    pub fn view(&self) -> UserView<'_> {
        UserView {
            id: &self.id,
            object: UserObject,
            username: &self.username,
            created_at: self.created_at,
        }
    }

    /// The resource as JSON ([`UserView`]).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.view()).expect("a user serializes")
    }
}

/// A user as the API shows it (never the password hash).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = User)]
pub struct UserView<'a> {
    pub id: &'a str,
    #[schema(inline)]
    pub object: UserObject,
    pub username: &'a str,
    pub created_at: Stamp,
}

/// Why a user operation failed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    InvalidUsername(String),
    #[error("{0}")]
    InvalidPassword(String),
    #[error("the user name `{0}` is taken")]
    Taken(String),
    #[error("no such user")]
    NotFound,
    #[error("invalid user name or password")]
    BadCredentials,
    #[error("too many failed logins; retry in {retry_after} seconds")]
    Throttled { retry_after: i64 },
    #[error("this is not a session token: API keys are revoked with DELETE on the key")]
    NotASession,
    #[error(transparent)]
    Storage(#[from] TableError),
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> ApiError {
        match &e {
            UserError::InvalidUsername(m) => ApiError::field("username", m.clone()),
            UserError::InvalidPassword(m) => ApiError::field("password", m.clone()),
            UserError::Taken(_) => ApiError::conflict(e.to_string()),
            UserError::NotFound => ApiError::not_found("user"),
            UserError::BadCredentials => ApiError::unauthenticated(e.to_string()),
            UserError::Throttled { retry_after } => {
                ApiError::new(429, ErrorCode::RateLimited, e.to_string())
                    .with_header("Retry-After", retry_after.to_string())
            }
            UserError::NotASession => ApiError::bad_request(e.to_string()),
            UserError::Storage(_) => ApiError::internal(format!("storage: {e}")),
        }
    }
}

/// A user name: 3 to 64 characters of letters, digits and `. _ @ + -`
/// (so an email address works).
pub fn check_username(name: &str) -> Result<String, UserError> {
    let n = name.chars().count();
    if !(3..=64).contains(&n) {
        return Err(UserError::InvalidUsername(format!(
            "must be 3 to 64 characters, not {n}"
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "._@+-".contains(*c)))
    {
        return Err(UserError::InvalidUsername(format!(
            "may hold letters, digits and . _ @ + - only, not {c:?}"
        )));
    }
    Ok(name.to_string())
}

/// A password: 12 to 256 characters.
pub fn check_password(password: &str) -> Result<(), UserError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(UserError::InvalidPassword(format!(
            "must be at least {MIN_PASSWORD_CHARS} characters, not {n}"
        )));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(UserError::InvalidPassword(format!(
            "must be at most {MAX_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

/// The argon2id hash (PHC string, random salt) of `password`.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id with default parameters hashes any password")
        .to_string()
}

/// Whether `password` matches the PHC `hash`.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Create a user of `account_id`.
pub async fn create_user(
    table: &dyn Table,
    account_id: &str,
    username: &str,
    password: &str,
    now: OffsetDateTime,
) -> Result<User, UserError> {
    let username = check_username(username)?;
    check_password(password)?;
    let user = User {
        id: new_id(IdKind::User),
        account_id: account_id.to_string(),
        username: username.clone(),
        password_hash: hash_password(password),
        created_at: Stamp::new(now),
    };
    let item = to_item(
        &user,
        &schema::user(&username),
        &[
            (schema::GSI1_PK, json!(schema::users_of(account_id))),
            (schema::GSI1_SK, json!(user.id)),
        ],
    );
    match table.put(item, Some(Cond::NotExists)).await {
        Ok(()) => Ok(user),
        Err(e) if e.is_condition_failed() => Err(UserError::Taken(username)),
        Err(e) => Err(e.into()),
    }
}

/// Every user of `account_id`, oldest id first.
pub async fn list_users(table: &dyn Table, account_id: &str) -> Result<Vec<User>, UserError> {
    let mut users = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(Query::index(Index::Gsi1, schema::users_of(account_id)).cursor(cursor))
            .await?;
        for item in page.items {
            users.push(from_item::<User>(item).map_err(|e| {
                UserError::Storage(TableError::Backend(format!("a stored user: {}", e.message)))
            })?);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(users),
        }
    }
}

/// Delete a user of `account_id` and end every session it has.
pub async fn delete_user(
    table: &dyn Table,
    account_id: &str,
    user_id: &str,
) -> Result<User, UserError> {
    let user = list_users(table, account_id)
        .await?
        .into_iter()
        .find(|u| u.id == user_id)
        .ok_or(UserError::NotFound)?;
    table.delete(&schema::user(&user.username), None).await?;
    let sessions = table
        .query(Query::index(Index::Gsi1, schema::sessions_of(&user.id)))
        .await?;
    for item in sessions.items {
        if let Some(hash) = item.get("hash").and_then(Value::as_str) {
            table.delete(&schema::api_key(hash), None).await?;
        }
    }
    Ok(user)
}

/// The failure counters a login attempt is judged by: the user name's and,
/// when known, the client IP's, in the current window.
fn failure_keys(username: &str, ip: Option<IpAddr>, window: i64) -> Vec<(crate::table::Key, u64)> {
    let mut keys = vec![(
        schema::login_failures(&format!("user:{}", username.to_lowercase()), window),
        MAX_FAILURES_PER_USER,
    )];
    if let Some(ip) = ip {
        keys.push((
            schema::login_failures(&format!("ip:{ip}"), window),
            MAX_FAILURES_PER_IP,
        ));
    }
    keys
}

/// Check `username`/`password` and issue a session key with the user's
/// account rights: (record, secret token). A wrong user name and a wrong
/// password fail alike (same error, same hashing work); failures are
/// counted per user name and per IP, and over the limit logins are refused
/// until the window ends.
pub async fn login(
    table: &dyn Table,
    username: &str,
    password: &str,
    ip: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<(ApiKeyRecord, String), UserError> {
    let epoch = now.unix_timestamp();
    let window = epoch / LOGIN_WINDOW_SECS;
    let retry_after = (window + 1) * LOGIN_WINDOW_SECS - epoch;
    let counters = failure_keys(username, ip, window);
    let keys: Vec<_> = counters.iter().map(|(k, _)| k.clone()).collect();
    let counts = table.get_many(&keys).await?;
    for ((_, max), item) in counters.iter().zip(&counts) {
        let count = item
            .as_ref()
            .and_then(|i| i.get("count"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if count >= *max {
            return Err(UserError::Throttled { retry_after });
        }
    }
    let user = match table.get(&schema::user(username)).await? {
        Some(item) => Some(from_item::<User>(item).map_err(|e| {
            UserError::Storage(TableError::Backend(format!("a stored user: {}", e.message)))
        })?),
        None => None,
    };
    let ok = match &user {
        Some(u) => verify_password(&u.password_hash, password),
        None => {
            // The same work as for a real user, so timing tells nothing.
            verify_password(dummy_hash(), password);
            false
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        for key in keys {
            table
                .update(
                    &key,
                    Update::new()
                        .add("count", 1)
                        .set(schema::TTL, (window + 1) * LOGIN_WINDOW_SECS + 60),
                    None,
                )
                .await?;
        }
        return Err(UserError::BadCredentials);
    };
    let expires = now + time::Duration::hours(SESSION_HOURS);
    let secret = session_token();
    let record = ApiKeyRecord {
        id: new_id(IdKind::Session),
        kind: KeyKind::Account,
        account_id: user.account_id.clone(),
        store_id: None,
        label: Some(format!("session of {}", user.username)),
        allowed_ips: vec![],
        hint: key_hint(&secret),
        hash: hash_key(&secret),
        created_at: Stamp::new(now),
        user_id: Some(user.id.clone()),
        expires_at: Some(Stamp::new(expires)),
    };
    let item = to_item(
        &record,
        &schema::api_key(&record.hash),
        &[
            (schema::GSI1_PK, json!(schema::sessions_of(&user.id))),
            (schema::GSI1_SK, json!(record.id)),
            (schema::TTL, json!(expires.unix_timestamp())),
        ],
    );
    table.put(item, Some(Cond::NotExists)).await?;
    Ok((record, secret))
}

/// End the session `key` (the one the caller authenticated with).
pub async fn logout(table: &dyn Table, key: &ApiKeyRecord) -> Result<(), UserError> {
    if key.user_id.is_none() {
        return Err(UserError::NotASession);
    }
    table.delete(&schema::api_key(&key.hash), None).await?;
    Ok(())
}

/// A session token: `sgt_` + 32 random bytes, base64url.
fn session_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "sgt_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// A fixed hash to verify against when the user name is unknown.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("a password nobody has, for timing"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::sqlite::SqliteTable;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password(&h, "correct horse battery"));
        assert!(!verify_password(&h, "correct horse batterY"));
        assert_ne!(h, hash_password("correct horse battery"), "salted");
    }

    #[test]
    fn names_and_passwords_are_checked() {
        assert!(check_username("ann@example.com").is_ok());
        assert!(check_username("an").is_err());
        assert!(check_username("ann smith").is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("twelve chars").is_ok());
    }

    #[tokio::test]
    async fn login_issues_a_session_and_failures_are_throttled() {
        let table = SqliteTable::in_memory();
        let now = OffsetDateTime::now_utc();
        create_user(&table, "acct_1", "Ann", "a long password", now)
            .await
            .unwrap();
        assert!(matches!(
            create_user(&table, "acct_2", "ann", "another password", now).await,
            Err(UserError::Taken(_))
        ));
        let (record, secret) = login(&table, "ann", "a long password", None, now)
            .await
            .unwrap();
        assert!(secret.starts_with("sgt_"));
        assert_eq!(record.account_id, "acct_1");
        assert!(table
            .get(&schema::api_key(&hash_key(&secret)))
            .await
            .unwrap()
            .is_some());
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        for _ in 0..MAX_FAILURES_PER_USER {
            assert!(matches!(
                login(&table, "ann", "wrong password!", Some(ip), now).await,
                Err(UserError::BadCredentials)
            ));
        }
        // the right password is refused too until the window ends
        assert!(matches!(
            login(&table, "ann", "a long password", Some(ip), now).await,
            Err(UserError::Throttled { .. })
        ));
        let later = now + time::Duration::seconds(LOGIN_WINDOW_SECS);
        assert!(login(&table, "ann", "a long password", Some(ip), later)
            .await
            .is_ok());
        logout(&table, &record).await.unwrap();
        assert!(table
            .get(&schema::api_key(&hash_key(&secret)))
            .await
            .unwrap()
            .is_none());
    }
}
