//! Invoices end to end over HTTP on the sandbox chain, on both engines:
//! fresh addresses, the whole lifecycle, double-spends, reorgs, expiry and
//! late payments, concurrency, imports, payments, events and summary.

use satsgate_e2e::{per_engine, Engine, Shop, BIP84_REGTEST_ADDRESSES, BIP84_VPUB};
use serde_json::{json, Value};
use std::sync::Arc;

fn regtest_store() -> Value {
    json!({"name": "Sandbox shop", "network": "regtest", "wallet": BIP84_VPUB})
}

async fn usd_invoice_lifecycle_on_the_sandbox_chain(engine: Engine) {
    let Some(shop) = Shop::open(engine, regtest_store()).await else {
        return;
    };
    let inv = shop.invoice(json!({"amount": "10.00", "currency": "USD", "order_id": "A-1", "order_name": "Tea & cake"})).await;
    assert_eq!(inv["status"], "new");
    assert_eq!(
        inv["address"], BIP84_REGTEST_ADDRESSES[0],
        "first invoice gets m/84'/1'/0'/0/0"
    );
    assert_eq!(inv["rate"], "65000.00");
    assert_eq!(
        inv["crypto_amount_sats"], 15385,
        "10 USD at 65000 rounds up to 15385 sats"
    );
    assert_eq!(inv["crypto_amount"], "0.00015385");
    let uri = inv["payment_uri"].as_str().unwrap();
    assert!(
        uri.starts_with(&format!(
            "bitcoin:{}?amount=0.00015385",
            BIP84_REGTEST_ADDRESSES[0]
        )),
        "{uri}"
    );
    assert!(uri.contains("message=Tea%20%26%20cake"), "{uri}");
    let second = shop
        .invoice(json!({"amount": "0.001", "currency": "BTC"}))
        .await;
    assert_eq!(
        second["address"], BIP84_REGTEST_ADDRESSES[1],
        "then index 1"
    );
    let id = inv["id"].as_str().unwrap();

    shop.pay(id, 7000, false).await;
    let now = shop.get(id).await;
    assert_eq!(now["status"], "paid_partial");
    assert_eq!(now["amount_paid_sats"], 7000);
    assert_eq!(now["amount_due_sats"], 15385 - 7000);
    shop.pay(id, 15385 - 7000, false).await;
    let now = shop.get(id).await;
    assert_eq!(
        now["status"], "pending",
        "paid in full, waiting for a confirmation"
    );
    assert_eq!(now["payments"].as_array().unwrap().len(), 2);
    shop.mine(1).await;
    let now = shop.get(id).await;
    assert_eq!(now["status"], "completed");
    assert!(now["payments"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["status"] == "confirmed" && p["confirmations"] == 1));

    // Payments API
    let r = shop
        .call("GET", &format!("/v1/payments?invoice_id={id}"), None)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    let pid = r.body["items"][0]["id"].as_str().unwrap().to_string();
    let r = shop.call("GET", &format!("/v1/payments/{pid}"), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["invoice_id"], id);
    let r = shop
        .call("GET", "/v1/payments?status=confirmed", None)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);

    // Events, newest first, with the lifecycle in order.
    let types = shop.event_types(id).await;
    assert_eq!(
        types,
        [
            "invoice.created",
            "payment.received",
            "invoice.updated",
            "invoice.underpaid",
            "payment.received",
            "invoice.updated",
            "invoice.paid",
            "payment.confirmed",
            "payment.confirmed",
            "invoice.updated",
            "invoice.completed"
        ]
    );
    let r = shop
        .call("GET", "/v1/events?type=invoice.completed", None)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);

    // Summary
    let r = shop.call("GET", "/v1/summary", None).await;
    assert_eq!(r.body["counts"]["completed"], 1);
    assert_eq!(r.body["counts"]["new"], 1);
    assert_eq!(r.body["received_sats"], 15385);
    assert_eq!(r.body["received_fiat"]["USD"], "10.00");
    shop.gw.stop().await;
}
per_engine!(
    usd_invoice_lifecycle_on_the_sandbox_chain,
    flavor = "multi_thread",
    worker_threads = 4
);

async fn double_spend_and_reorg(engine: Engine) {
    let Some(shop) = Shop::open(engine, regtest_store()).await else {
        return;
    };
    // A double-spent unconfirmed payment: payment replaced, invoice invalid.
    let inv = shop
        .invoice(json!({"amount": "0.001", "currency": "BTC"}))
        .await;
    let id = inv["id"].as_str().unwrap();
    let paid = shop.pay(id, 100_000, true).await;
    assert_eq!(shop.get(id).await["status"], "pending");
    let r = shop
        .call(
            "POST",
            "/v1/sandbox/double-spend",
            Some(json!({"txid": paid["txid"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let now = shop.get(id).await;
    assert_eq!(now["status"], "invalid");
    assert_eq!(now["payments"][0]["status"], "replaced");
    assert_eq!(now["amount_paid_sats"], 0);

    // A reorg takes away the confirmation, re-mining gives it back.
    let inv = shop
        .invoice(json!({"amount": "0.002", "currency": "BTC"}))
        .await;
    let id = inv["id"].as_str().unwrap();
    shop.pay(id, 200_000, false).await;
    shop.mine(1).await;
    assert_eq!(shop.get(id).await["status"], "completed");
    let r = shop
        .call("POST", "/v1/sandbox/reorg", Some(json!({"depth": 1})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let now = shop.get(id).await;
    assert_eq!(now["status"], "pending");
    assert_eq!(now["payments"][0]["status"], "reorged");
    assert_eq!(now["payments"][0]["confirmations"], 0);
    shop.mine(1).await;
    let now = shop.get(id).await;
    assert_eq!(now["status"], "completed");
    assert_eq!(now["payments"][0]["status"], "confirmed");
    shop.gw.stop().await;
}
per_engine!(
    double_spend_and_reorg,
    flavor = "multi_thread",
    worker_threads = 4
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn speed_policies_and_tolerance() {
    let shop = Shop::open(Engine::Embedded, json!({"name": "S", "network": "regtest", "wallet": BIP84_VPUB, "speed_policy": "zero_conf"})).await.unwrap();
    let inv = shop
        .invoice(json!({"amount": "0.001", "currency": "BTC"}))
        .await;
    let id = inv["id"].as_str().unwrap();
    shop.pay(id, 100_000, false).await;
    assert_eq!(
        shop.get(id).await["status"],
        "completed",
        "zero_conf: no RBF signal -> accepted unconfirmed"
    );
    let inv = shop
        .invoice(json!({"amount": "0.001", "currency": "BTC"}))
        .await;
    let id = inv["id"].as_str().unwrap();
    shop.pay(id, 100_000, true).await;
    assert_eq!(
        shop.get(id).await["status"],
        "pending",
        "zero_conf: RBF signalled -> waits"
    );
    let inv = shop.invoice(json!({"amount": "0.001", "currency": "BTC", "speed_policy": "two_conf", "allowed_error_percent": 1})).await;
    let id = inv["id"].as_str().unwrap();
    shop.pay(id, 99_000, false).await;
    assert_eq!(
        shop.get(id).await["status"],
        "pending",
        "within 1% tolerance counts as paid"
    );
    shop.mine(1).await;
    assert_eq!(
        shop.get(id).await["status"],
        "pending",
        "one of two confirmations"
    );
    shop.mine(1).await;
    assert_eq!(shop.get(id).await["status"], "completed");
    let inv = shop
        .invoice(json!({"amount": "0.001", "currency": "BTC"}))
        .await;
    let id = inv["id"].as_str().unwrap();
    shop.pay(id, 150_000, false).await;
    let now = shop.get(id).await;
    assert!(now["flags"]
        .as_array()
        .unwrap()
        .contains(&json!("overpaid")));
    shop.gw.stop().await;
}

async fn expiry_late_payment_and_merchant_actions(engine: Engine) {
    let Some(shop) = Shop::open(engine, regtest_store()).await else {
        return;
    };
    let inv = shop
        .invoice(json!({"amount": "0.001", "currency": "BTC", "expire_min": 15}))
        .await;
    let id = inv["id"].as_str().unwrap();
    shop.clock().advance(time::Duration::minutes(16));
    shop.poll().await;
    assert_eq!(shop.get(id).await["status"], "expired");
    // Paid after expiry but within the monitoring window: recorded, flagged.
    shop.pay(id, 100_000, false).await;
    let now = shop.get(id).await;
    assert_eq!(now["status"], "expired");
    assert!(
        now["flags"]
            .as_array()
            .unwrap()
            .contains(&json!("paid_late")),
        "{now}"
    );
    assert_eq!(now["payments"][0]["late"], true);
    // The merchant takes it anyway.
    let r = shop
        .call(
            "POST",
            &format!("/v1/invoices/{id}/status"),
            Some(json!({"status": "completed", "comment": "accepted late"})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "completed");
    assert!(r.body["flags"]
        .as_array()
        .unwrap()
        .contains(&json!("manually_marked")));
    let r = shop
        .call(
            "POST",
            &format!("/v1/invoices/{id}/status"),
            Some(json!({"status": "invalid"})),
        )
        .await;
    assert_eq!(r.status, 409, "completed is not open");

    // Cancel only while unpaid.
    let inv = shop
        .invoice(json!({"amount": "0.001", "currency": "BTC"}))
        .await;
    let id2 = inv["id"].as_str().unwrap();
    let r = shop
        .call(
            "POST",
            &format!("/v1/invoices/{id2}/cancel"),
            Some(json!({"reason": "customer left"})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("cancelled"))
    );
    let inv = shop
        .invoice(json!({"amount": "0.001", "currency": "BTC"}))
        .await;
    let id3 = inv["id"].as_str().unwrap();
    shop.pay(id3, 60_000, false).await;
    let r = shop
        .call(
            "POST",
            &format!("/v1/invoices/{id3}/cancel"),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 409);
    // Underpayment accepted: must equal what was paid; completes once confirmed.
    let r = shop
        .call(
            "POST",
            &format!("/v1/invoices/{id3}/accept-underpayment"),
            Some(json!({"accepted_amount_sats": 50_000})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body["error"]["details"]["accepted_amount_sats"].is_array());
    let r = shop
        .call(
            "POST",
            &format!("/v1/invoices/{id3}/accept-underpayment"),
            Some(json!({"accepted_amount_sats": 60_000})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("pending")),
        "{:?}",
        r.body
    );
    shop.mine(1).await;
    let now = shop.get(id3).await;
    assert_eq!(now["status"], "completed");
    assert!(now["flags"]
        .as_array()
        .unwrap()
        .contains(&json!("underpayment_accepted")));

    // Refund: requested, then the merchant's wallet pays it on chain.
    let refund_to = BIP84_REGTEST_ADDRESSES[1];
    let r = shop
        .call(
            "POST",
            &format!("/v1/invoices/{id3}/refunds"),
            Some(json!({"address": refund_to, "amount_sats": 70_000})),
        )
        .await;
    assert_eq!(r.status, 400, "more than was received");
    let r = shop.call("POST", &format!("/v1/invoices/{id3}/refunds"), Some(json!({"address": "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", "amount_sats": 1000}))).await;
    assert_eq!(r.status, 400, "a mainnet address on a regtest store");
    let r = shop
        .call(
            "POST",
            &format!("/v1/invoices/{id3}/refunds"),
            Some(json!({"address": refund_to, "amount_sats": 60_000})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["status"], "requested");
    let r = shop
        .call(
            "POST",
            "/v1/sandbox/payments",
            Some(json!({"address": refund_to, "amount_sats": 60_000})),
        )
        .await;
    assert_eq!(r.status, 201);
    let now = shop.get(id3).await;
    assert_eq!(now["status"], "refunded", "{now}");
    assert_eq!(now["refunds"][0]["status"], "sent");
    let r = shop
        .call("GET", &format!("/v1/invoices/{id3}/refunds"), None)
        .await;
    assert_eq!(r.body["items"][0]["txid"].as_str().map(str::len), Some(64));
    shop.gw.stop().await;
}
per_engine!(
    expiry_late_payment_and_merchant_actions,
    flavor = "multi_thread",
    worker_threads = 4
);

async fn concurrent_creations_get_distinct_gap_free_addresses(engine: Engine) {
    let n = match engine {
        Engine::Embedded => 200usize,
        Engine::Dynamo => 30,
    };
    let Some(shop) = Shop::open(engine, regtest_store()).await else {
        return;
    };
    let shop = Arc::new(shop);
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let shop = shop.clone();
            tokio::spawn(async move {
                shop.invoice(
                    json!({"amount": "0.0001", "currency": "BTC", "order_id": format!("c-{i}")}),
                )
                .await
            })
        })
        .collect();
    let mut indexes = Vec::new();
    let mut addresses = std::collections::HashSet::new();
    for t in futures::future::join_all(tasks).await {
        let inv = t.unwrap();
        indexes.push(inv["address_index"].as_u64().unwrap());
        assert!(
            addresses.insert(inv["address"].as_str().unwrap().to_string()),
            "an address was handed out twice"
        );
    }
    indexes.sort();
    assert_eq!(
        indexes,
        (0..n as u64).collect::<Vec<_>>(),
        "indexes are gap-free ({engine:?})"
    );
    let r = shop.call("GET", "/v1/stores", None).await;
    let store = &r.body["items"][0];
    assert_eq!(store["next_address_index"], n as u64);
    if n > 20 {
        assert_eq!(store["warnings"][0]["code"], "address_gap", "{store}");
    }
}
per_engine!(
    concurrent_creations_get_distinct_gap_free_addresses,
    flavor = "multi_thread",
    worker_threads = 4
);

async fn a_counter_moved_by_another_process_is_read_again(engine: Engine) {
    use satsgate::network::Network;
    use satsgate::table::{Cond, Query, SortKey, Update};
    let Some(shop) = Shop::open(engine, regtest_store()).await else {
        return;
    };
    let first = shop
        .invoice(json!({"amount": "0.0001", "currency": "BTC"}))
        .await;
    assert_eq!(first["address_index"], 0);
    // Another process (a CLI, a Lambda) hands out index 1 behind this
    // process's back: it moves the counter and claims the address.
    let table = &shop.gw.app().table;
    let store_id = first["store_id"].as_str().unwrap();
    let page = table
        .query(Query::table(format!("STORE#{store_id}")).sk(SortKey::BeginsWith("ADDRIDX#".into())))
        .await
        .unwrap();
    let counter = satsgate::table::Key::of(&page.items[0]).unwrap();
    table
        .update(
            &counter,
            Update::new().set("next", 2),
            Some(Cond::eq("next", 1)),
        )
        .await
        .unwrap();
    let taken = satsgate::schema::address(Network::Regtest, BIP84_REGTEST_ADDRESSES[1]);
    let mut item = serde_json::Map::new();
    item.insert("pk".into(), json!(taken.pk));
    item.insert("sk".into(), json!(taken.sk));
    table.put(item, Some(Cond::NotExists)).await.unwrap();
    let next = shop
        .invoice(json!({"amount": "0.0001", "currency": "BTC"}))
        .await;
    assert_eq!(next["address_index"], 2, "{engine:?}: {next}");
    assert_ne!(next["address"], BIP84_REGTEST_ADDRESSES[0]);
    assert_ne!(next["address"], BIP84_REGTEST_ADDRESSES[1]);
}
per_engine!(
    a_counter_moved_by_another_process_is_read_again,
    flavor = "multi_thread",
    worker_threads = 2
);

#[tokio::test]
async fn invoice_input_rules() {
    let shop = Shop::open(Engine::Embedded, regtest_store()).await.unwrap();
    for (body, field) in [
        (json!({"currency": "USD"}), "amount"),
        (json!({"amount": "-1", "currency": "USD"}), "amount"),
        (json!({"amount": "0", "currency": "USD"}), "amount"),
        (json!({"amount": "10.001", "currency": "USD"}), "amount"),
        (
            json!({"amount": "0.000000001", "currency": "BTC"}),
            "amount",
        ),
        (json!({"amount": "0.000001", "currency": "BTC"}), "amount"),
        (json!({"amount": "10", "currency": "XYZ"}), "currency"),
        (
            json!({"amount": "10", "currency": "USD", "speed_policy": "fast"}),
            "speed_policy",
        ),
        (
            json!({"amount": "10", "currency": "USD", "webhook_url": "ftp://x"}),
            "webhook_url",
        ),
        (
            json!({"amount": "10", "currency": "USD", "buyer_email": "nope"}),
            "buyer_email",
        ),
        (
            json!({"amount": "10", "currency": "USD", "metadata": [1]}),
            "metadata",
        ),
        (
            json!({"amount": "10", "currency": "USD", "expire_min": 0}),
            "expire_min",
        ),
        (
            json!({"amount": "10", "currency": "USD", "colour": "red"}),
            "colour",
        ),
    ] {
        let r = shop.call("POST", "/v1/invoices", Some(body.clone())).await;
        assert_eq!(r.status, 400, "{body} -> {:?}", r.body);
        assert_eq!(r.code(), "validation_error");
        assert!(
            r.body["error"]["details"][field].is_array(),
            "{body} names {field}: {:?}",
            r.body
        );
    }
    // Numbers are accepted exactly as strings are.
    let inv = shop
        .invoice(json!({"amount": 19.99, "currency": "EUR", "metadata": {"sku": "X1"}}))
        .await;
    assert_eq!(inv["amount"], "19.99");
    assert_eq!(inv["metadata"]["sku"], "X1");
    // order_id is unique per store.
    shop.invoice(json!({"amount": "1", "currency": "USD", "order_id": "dup"}))
        .await;
    let r = shop
        .call(
            "POST",
            "/v1/invoices",
            Some(json!({"amount": "1", "currency": "USD", "order_id": "dup"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "conflict"));
    // The same Idempotency-Key replays instead of making a second invoice.
    let body = json!({"amount": "2", "currency": "USD"})
        .to_string()
        .into_bytes();
    let a = shop
        .gw
        .send(
            "POST",
            "/v1/invoices",
            Some(&shop.key),
            Some(body.clone()),
            &[("idempotency-key", "k1")],
        )
        .await;
    let b = shop
        .gw
        .send(
            "POST",
            "/v1/invoices",
            Some(&shop.key),
            Some(body),
            &[("idempotency-key", "k1")],
        )
        .await;
    assert_eq!(a.body["id"], b.body["id"]);
    assert_eq!(a.body["address"], b.body["address"]);
    // An account key cannot create invoices; another store cannot see them.
    let r = shop
        .gw
        .call(
            "POST",
            "/v1/invoices",
            Some(&shop.gw.account_key),
            Some(json!({"amount": "1", "currency": "USD"})),
        )
        .await;
    assert_eq!(r.status, 403);
    let (_, other) = shop.gw.store(regtest_store()).await;
    // The other store shares the wallet: it skips the addresses already handed out.
    let r = shop.call("GET", "/v1/invoices?limit=100", None).await;
    let used: std::collections::HashSet<String> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["address"].as_str().map(str::to_string))
        .collect();
    let theirs = shop
        .gw
        .call(
            "POST",
            "/v1/invoices",
            Some(&other),
            Some(json!({"amount": "0.001", "currency": "BTC"})),
        )
        .await;
    assert_eq!(theirs.status, 201, "{:?}", theirs.body);
    let addr = theirs.body["address"].as_str().unwrap();
    assert!(
        !used.contains(addr),
        "no address is handed out twice, even across stores sharing a wallet"
    );
    assert_eq!(
        theirs.body["address_index"].as_u64(),
        Some(used.len() as u64),
        "the first unused index"
    );
    let r = shop
        .gw
        .call(
            "GET",
            &format!("/v1/invoices/{}", a.body["id"].as_str().unwrap()),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    // A stale price blocks fiat invoices but not BTC ones.
    shop.clock().advance(time::Duration::minutes(11));
    let r = shop
        .call(
            "POST",
            "/v1/invoices",
            Some(json!({"amount": "5", "currency": "USD"})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (503, "rate_unavailable"),
        "{:?}",
        r.body
    );
    assert!(r.body["error"]["message"].as_str().unwrap().contains("old"));
    shop.invoice(json!({"amount": "0.001", "currency": "BTC"}))
        .await;
    shop.gw.stop().await;
}

async fn listing_filters_sorting_and_imports(engine: Engine) {
    let Some(shop) = Shop::open(engine, regtest_store()).await else {
        return;
    };
    let mut ids = Vec::new();
    for (i, amount) in ["3", "1", "2"].iter().enumerate() {
        let inv = shop
            .invoice(json!({"amount": amount, "currency": "USD", "order_id": format!("L-{i}")}))
            .await;
        ids.push(inv["id"].as_str().unwrap().to_string());
        shop.clock().advance(time::Duration::seconds(1));
    }
    shop.invoice(json!({"amount": "0.001", "currency": "BTC"}))
        .await;
    let r = shop
        .call("GET", "/v1/invoices?currency=USD&sort_order=asc", None)
        .await;
    let got: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let r = shop
        .call(
            "GET",
            "/v1/invoices?currency=USD&sort_by=amount&sort_order=desc",
            None,
        )
        .await;
    let amounts: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["amount"].as_str().unwrap())
        .collect();
    assert_eq!(amounts, ["3", "2", "1"]);
    let r = shop.call("GET", "/v1/invoices?order_id=L-1", None).await;
    assert_eq!(r.body["items"][0]["id"], ids[1].as_str());
    // Paging with a cursor visits each invoice once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/invoices?limit=1&cursor={c}"),
            None => "/v1/invoices?limit=1".into(),
        };
        let r = shop.call("GET", &path, None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        seen.extend(
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string()),
        );
        cursor = r.body["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 4);
    let r = shop
        .call("GET", "/v1/invoices?status=new,completed", None)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 4);
    let r = shop.call("GET", "/v1/invoices?status=done", None).await;
    assert_eq!(r.status, 400);

    // Archived imports: every documented date format; never in the future.
    for (i, date) in [
        "2024-01-31T12:00:00Z",
        "2024-01-31T12:00:00.123456789Z",
        "2024-01-31",
        "2024-01-31 12:00:00",
        "31/01/2024 12:00:00",
    ]
    .iter()
    .enumerate()
    {
        let r = shop.call("POST", "/v1/invoices/archived", Some(json!({"order_id": format!("old-{i}"), "amount": "10", "currency": "USD", "crypto_amount": "0.0002", "created_at": date}))).await;
        assert_eq!(r.status, 201, "{date}: {:?}", r.body);
        assert_eq!(r.body["status"], "archived");
        assert!(r.body["address"].is_null());
        assert!(r.body["created_at"]
            .as_str()
            .unwrap()
            .starts_with("2024-01-31T"));
    }
    let r = shop.call("POST", "/v1/invoices/archived", Some(json!({"order_id": "future", "amount": "10", "currency": "USD", "created_at": "2999-01-01"}))).await;
    assert_eq!(r.status, 400);
    assert!(r.body["error"]["details"]["created_at"].is_array());
    let r = shop.call("POST", "/v1/invoices/archived", Some(json!({"order_id": "old-0", "amount": "10", "currency": "USD", "created_at": "2024-01-01"}))).await;
    assert_eq!(r.status, 409, "order_id unique across imports too");
    let r = shop
        .call(
            "GET",
            "/v1/invoices?created_before=2024-12-31&status=archived",
            None,
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 5);
    shop.gw.stop().await;
}
per_engine!(listing_filters_sorting_and_imports);

/// The chain poller reads due invoices a page at a time: one run still
/// checks every due invoice, across several pages. (The paging is the same
/// on both engines; hundreds of invoices are too many for moto_server.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_poller_run_checks_every_due_invoice_across_pages() {
    for (engine, n) in [(Engine::Embedded, 450usize)] {
        let Some(shop) = Shop::open(engine, regtest_store()).await else {
            continue;
        };
        let sim = shop.gw.app().sim.clone().expect("sandbox chain");
        let mut ids = Vec::new();
        for _ in 0..n {
            let inv = shop
                .invoice(json!({"amount": "0.0001", "currency": "BTC"}))
                .await;
            let address = inv["address"].as_str().unwrap();
            // Paid on the chain only: nothing tells the gateway but the poller.
            sim.pay(address, bitcoin::Amount::from_sat(10_000), false)
                .unwrap();
            ids.push(inv["id"].as_str().unwrap().to_string());
        }
        shop.poll().await;
        for id in &ids {
            assert_eq!(
                shop.get(id).await["status"],
                "pending",
                "{id} was checked in the run ({engine:?})"
            );
        }
    }
}
