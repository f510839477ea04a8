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

use crate::table::{Index, Key};

/// Partition key attribute of every item.
pub const PK: &str = crate::table::PK;
/// Sort key attribute of every item.
pub const SK: &str = crate::table::SK;
/// Partition key attribute of index gsi1 (lists: a store's invoices, keys...).
pub const GSI1_PK: &str = Index::Gsi1.pk_attr();
/// Sort key attribute of index gsi1.
pub const GSI1_SK: &str = Index::Gsi1.sk_attr();
/// Partition key attribute of index gsi2 (work queues: watch, outbox, queue).
pub const GSI2_PK: &str = Index::Gsi2.pk_attr();
/// Sort key attribute of index gsi2.
pub const GSI2_SK: &str = Index::Gsi2.sk_attr();
/// Expiry attribute (epoch seconds): the table deletes the item after it.
pub const TTL: &str = crate::table::TTL;

/// The item `GET /healthz` reads to check the table answers.
pub fn health() -> Key {
    Key::new("HEALTH", "HEALTH")
}

/// The marker satsgate-local writes once it has created the demo account.
pub fn demo_marker() -> Key {
    Key::new("META#demo", "META")
}

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

// Prices.
// | latest BTC price  | `PRICE#<FIAT>`              | `LATEST`          |                                     |
// | price history     | `PRICEHIST#<FIAT>`          | `<rfc3339 time>`  | (ttl 7 days)                        |
// | quote             | `QUOTE#<quo id>`            | `QUOTE`           | (ttl: expires_at + 1 day)           |

/// The latest aggregated BTC price in one fiat.
pub fn price_latest(fiat: &str) -> Key {
    Key::new(format!("PRICE#{fiat}"), "LATEST")
}

/// One past BTC price in one fiat, at `at` (RFC 3339): history sorts by time.
pub fn price_history(fiat: &str, at: &str) -> Key {
    Key::new(format!("PRICEHIST#{fiat}"), at)
}

/// The partition holding a fiat's price history.
pub fn price_history_of(fiat: &str) -> String {
    format!("PRICEHIST#{fiat}")
}

pub fn quote(id: &str) -> Key {
    Key::new(format!("QUOTE#{id}"), "QUOTE")
}

// Invoices.
// | invoice           | `INV#<inv>`                 | `INV`        | `STORE#<store>#INV` / `<created_at>#<inv>`; gsi2 `WATCH` / `<next check>#<inv>` (sparse: watched only) |
// | order id claim    | `ORDER#<store>#<order_id>`  | `ORDER`      |                                     |
// | address claim     | `ADDR#<network>#<address>`  | `ADDR`       |                                     |
// | address counter   | `STORE#<store>`             | `ADDRIDX#<wallet checksum>` |                      |
// | payment           | `PAY#<pay>`                 | `PAY`        | `STORE#<store>#PAY` / `<seen_at>#<pay>` |

pub fn invoice(id: &str) -> Key {
    Key::new(format!("INV#{id}"), "INV")
}

/// gsi1 partition listing a store's invoices by creation time.
pub fn invoices_of(store_id: &str) -> String {
    format!("STORE#{store_id}#INV")
}

/// gsi1 sort key of an invoice in its store's list: creation time, then id.
pub fn invoice_list_sk(created_at: crate::clock::Stamp, invoice_id: &str) -> String {
    format!("{created_at}#{invoice_id}")
}

/// gsi2 partition of invoices the chain poller watches.
pub const WATCH: &str = "WATCH";

/// gsi2 sort key of a watched invoice: next check time (RFC 3339), then id.
pub fn watch_sk(next_check: &str, invoice_id: &str) -> String {
    format!("{next_check}#{invoice_id}")
}

pub fn order(store_id: &str, order_id: &str) -> Key {
    Key::new(format!("ORDER#{store_id}#{order_id}"), "ORDER")
}

pub fn address(network: crate::network::Network, address: &str) -> Key {
    Key::new(format!("ADDR#{network}#{address}"), "ADDR")
}

pub fn address_counter(store_id: &str, wallet_id: &str) -> Key {
    Key::new(format!("STORE#{store_id}"), format!("ADDRIDX#{wallet_id}"))
}

pub fn payment(id: &str) -> Key {
    Key::new(format!("PAY#{id}"), "PAY")
}

/// gsi1 partition listing a store's payments.
pub fn payments_of(store_id: &str) -> String {
    format!("STORE#{store_id}#PAY")
}

/// gsi1 sort key of a payment in its store's list: first seen, then id.
pub fn payment_list_sk(seen_at: crate::clock::Stamp, payment_id: &str) -> String {
    format!("{seen_at}#{payment_id}")
}

// Events.
// | event | `EVT#<store>` | `<evt id>` | gsi1 `EVTINV#<inv>` / `<evt id>`; gsi2 `OUTBOX` / `<evt id>` (sparse: not yet fanned out) |

/// gsi1 partition listing an invoice's events.
pub fn events_of_invoice(invoice_id: &str) -> String {
    format!("EVTINV#{invoice_id}")
}

const EVENTS_PREFIX: &str = "EVT#";

/// Partition of a store's events (sk = event id).
pub fn events_of_store(store_id: &str) -> String {
    format!("{EVENTS_PREFIX}{store_id}")
}

/// An event of a store.
pub fn event(store_id: &str, event_id: &str) -> Key {
    Key::new(events_of_store(store_id), event_id)
}

/// Whether a partition key is an event's.
pub fn is_event_pk(pk: &str) -> bool {
    pk.starts_with(EVENTS_PREFIX)
}

/// gsi2 partition of events not yet handed to fan-out.
pub const OUTBOX: &str = "OUTBOX";

// Webhooks and the local queue.
//
// | entity                 | pk                | sk                          | gsi1pk / gsi1sk                       | gsi2pk / gsi2sk                      |
// |------------------------|-------------------|-----------------------------|---------------------------------------|--------------------------------------|
// | webhook endpoint       | `WHK#<store>`     | `<whk_id>` or `invoice_url` |                                       |                                      |
// | webhook delivery       | `WHD#<store>`     | `<dlv_id>`                  | `WHDEP#<store>#<endpoint>` / `<dlv_id>` |                                    |
// | queue message (local)  | `QMSG#<queue>`    | `<msg id>`                  |                                       | `QVIS#<queue>` / `<visible ms:015>#<msg id>` |
//
// `invoice_url` is the built-in endpoint standing for every invoice's own
// `webhook_url` (it holds the secret those deliveries are signed with).
// Dead letters of queue `q` are the queue `q-dlq`.

/// A webhook endpoint (or the built-in `invoice_url` one) of a store.
pub fn webhook_endpoint(store_id: &str, endpoint_id: &str) -> Key {
    Key::new(webhook_endpoints_of(store_id), endpoint_id)
}

/// The partition holding a store's webhook endpoints.
pub fn webhook_endpoints_of(store_id: &str) -> String {
    format!("WHK#{store_id}")
}

/// A webhook delivery (one event to one endpoint, with its attempts).
pub fn webhook_delivery(store_id: &str, delivery_id: &str) -> Key {
    Key::new(format!("WHD#{store_id}"), delivery_id)
}

/// gsi1 partition listing the deliveries of one endpoint.
pub fn deliveries_of(store_id: &str, endpoint_id: &str) -> String {
    format!("WHDEP#{store_id}#{endpoint_id}")
}

/// A message of the table-backed queue `queue`.
pub fn queue_message(queue: &str, message_id: &str) -> Key {
    Key::new(queue_messages(queue), message_id)
}

/// The partition holding the messages of a table-backed queue.
pub fn queue_messages(queue: &str) -> String {
    format!("QMSG#{queue}")
}

/// gsi2 partition ordering a table-backed queue's messages by visibility.
pub fn queue_visibility(queue: &str) -> String {
    format!("QVIS#{queue}")
}

/// gsi2 sort key: visible-from time (epoch ms, zero-padded) then message id.
pub fn queue_visible_sk(visible_ms: i64, message_id: &str) -> String {
    format!("{:015}#{message_id}", visible_ms.max(0))
}

// WebSocket (API Gateway WebSocket API; see shared/src/ws).
// | ws connection   | `WSCONN#<connection id>` | `WSCONN`          | (ttl 2 h: API Gateway's connection limit)   |
// | ws subscription | `WSSUB#<topic>`          | `<connection id>` | (ttl 2 h); topic = `invoice#<id>`, ...       |

/// A WebSocket connection: its key hash, source IP and topics.
pub fn ws_connection(connection_id: &str) -> Key {
    Key::new(format!("WSCONN#{connection_id}"), "WSCONN")
}

/// The partition listing a topic's subscribed connections.
pub fn ws_subscribers(topic: &str) -> String {
    format!("WSSUB#{topic}")
}

/// One connection's subscription to a topic.
pub fn ws_subscription(topic: &str, connection_id: &str) -> Key {
    Key::new(ws_subscribers(topic), connection_id)
}

/// The partition holding the sandbox chain of `network`.
pub fn sim_partition(network: crate::network::Network) -> String {
    format!("SIM#{}", network.as_str())
}

/// The sandbox chain's commit record: generation, tip, mempool, faucet key.
pub fn sim_meta(network: crate::network::Network) -> Key {
    Key::new(sim_partition(network), "META")
}

/// A sandbox chain transaction (immutable: hex and owner).
pub fn sim_tx(network: crate::network::Network, txid: &str) -> Key {
    Key::new(sim_partition(network), format!("TX#{txid}"))
}

/// A sandbox chain block (height, previous hash, txids).
pub fn sim_block(network: crate::network::Network, hash: &str) -> Key {
    Key::new(sim_partition(network), format!("BLOCK#{hash}"))
}

/// A user of an account; user names are unique across the deployment
/// (login takes only a user name), compared without case.
pub fn user(username: &str) -> Key {
    Key::new(format!("USER#{}", username.to_lowercase()), "USER")
}

/// gsi1 partition listing the users of an account.
pub fn users_of(account_id: &str) -> String {
    format!("ACCT#{account_id}#USERS")
}

/// gsi1 partition listing the session keys of a user.
pub fn sessions_of(user_id: &str) -> String {
    format!("USER#{user_id}#SESSIONS")
}

/// Failed-login counter of `subject` (a user name or an IP) in a window.
pub fn login_failures(subject: &str, window: i64) -> Key {
    Key::new(format!("LOGINFAIL#{subject}"), format!("W#{window}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Network;

    /// The stored format is a contract with existing data: these spellings
    /// must never change, whatever the code that builds them looks like.
    #[test]
    fn attribute_names_and_keys_keep_their_stored_spelling() {
        let names = [PK, SK, GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK, TTL];
        assert_eq!(
            names,
            ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "ttl"]
        );
        let k = |k: Key| format!("{}|{}", k.pk, k.sk);
        assert_eq!(k(invoice("inv_1")), "INV#inv_1|INV");
        assert_eq!(k(payment("pay_1")), "PAY#pay_1|PAY");
        assert_eq!(k(event("sto_1", "evt_1")), "EVT#sto_1|evt_1");
        assert_eq!(k(order("sto_1", "o-7")), "ORDER#sto_1#o-7|ORDER");
        assert_eq!(
            k(address(Network::Regtest, "bcrt1q")),
            "ADDR#regtest#bcrt1q|ADDR"
        );
        assert_eq!(k(health()), "HEALTH|HEALTH");
        assert_eq!(k(demo_marker()), "META#demo|META");
        assert_eq!(invoices_of("sto_1"), "STORE#sto_1#INV");
        assert_eq!(
            invoice_list_sk(
                crate::clock::Stamp::parse("2026-01-01T00:00:00Z").unwrap(),
                "inv_1"
            ),
            "2026-01-01T00:00:00.000Z#inv_1"
        );
        assert_eq!(
            watch_sk("2026-01-01T00:00:05Z", "inv_1"),
            "2026-01-01T00:00:05Z#inv_1"
        );
        assert_eq!(
            payment_list_sk(
                crate::clock::Stamp::parse("2026-01-01T00:00:05Z").unwrap(),
                "pay_1"
            ),
            "2026-01-01T00:00:05.000Z#pay_1"
        );
        assert_eq!(events_of_invoice("inv_1"), "EVTINV#inv_1");
        assert_eq!((WATCH, OUTBOX), ("WATCH", "OUTBOX"));
        assert!(is_event_pk(&events_of_store("sto_1")));
        assert!(!is_event_pk(&invoice("inv_1").pk));
        assert!(!is_event_pk(&events_of_invoice("inv_1")));
    }
}
