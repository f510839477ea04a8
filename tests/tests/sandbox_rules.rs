//! The sandbox chain as a buyer and two merchants meet it over HTTP: forged
//! payments are refused like a node refuses them and change nothing, and a
//! store acts only on its own sandbox transactions (issue 8, items 1 and 6).

use satsgate_e2e::buyer::{change_script, funding, pay_body, raw_tx};
use satsgate_e2e::{per_engine, Engine, Shop, BIP84_VPUB};
use serde_json::{json, Value};

fn regtest_store() -> Value {
    json!({"name": "Forge test", "network": "regtest", "wallet": BIP84_VPUB})
}

fn script_of(address: &str) -> Vec<u8> {
    use std::str::FromStr;
    bitcoin::Address::from_str(address)
        .unwrap()
        .assume_checked()
        .script_pubkey()
        .to_bytes()
}

/// `hex` decoded, changed by `f`, encoded again.
fn edited(hex: &str, f: impl FnOnce(&mut bitcoin::Transaction)) -> String {
    let mut tx: bitcoin::Transaction = bitcoin::consensus::encode::deserialize_hex(hex).unwrap();
    f(&mut tx);
    bitcoin::consensus::encode::serialize_hex(&tx)
}

/// Pays with `tx`, which must be refused: the node's reason on its entry.
async fn refusal(shop: &Shop, pay_path: &str, tx: &str) -> String {
    let r = shop.public("POST", pay_path, Some(pay_body(&[tx]))).await;
    assert_eq!(
        (r.status, r.code()),
        (400, "validation_error"),
        "{:?}",
        r.body
    );
    r.body["error"]["details"]["transactions[0].tx"][0]
        .as_str()
        .unwrap()
        .to_string()
}

async fn forged_payments_are_refused(engine: Engine) {
    let Some(shop) = Shop::open(engine, regtest_store()).await else {
        return;
    };
    let inv = shop
        .invoice(json!({"amount": "0.001", "currency": "BTC"}))
        .await;
    let id = inv["id"].as_str().unwrap().to_string();
    let script = script_of(inv["address"].as_str().unwrap());
    let pay_path = format!("/r/{id}/pay");

    // An input that does not exist, with no witness.
    let ghost = "11".repeat(32);
    let forged = edited(
        &raw_tx(&[(&ghost, 0, 200_000)], &[(&script, 100_000)]),
        |tx| tx.input[0].witness = bitcoin::Witness::new(),
    );
    let msg = refusal(&shop, &pay_path, &forged).await;
    assert!(msg.contains("bad-txns-inputs-missingorspent"), "{msg}");

    // A real coin of the buyer's, spent with another key.
    let (fund_txid, fund_vout) = funding(&shop, 500_000).await;
    let honest = raw_tx(
        &[(&fund_txid, fund_vout, 500_000)],
        &[(&script, 100_000), (&change_script(), 390_000)],
    );
    let stolen = edited(&honest, |tx| {
        let secp = bitcoin::secp256k1::Secp256k1::new();
        let thief = bitcoin::secp256k1::SecretKey::from_slice(&[0x13; 32]).unwrap();
        let mut witness: Vec<Vec<u8>> = tx.input[0].witness.iter().map(|w| w.to_vec()).collect();
        witness[1] = thief.public_key(&secp).serialize().to_vec();
        tx.input[0].witness = bitcoin::Witness::from_slice(&witness);
    });
    let msg = refusal(&shop, &pay_path, &stolen).await;
    assert!(msg.contains("mandatory-script-verify-flag-failed"), "{msg}");
    // A signature made for other outputs (changed after signing).
    let tampered = edited(&honest, |tx| {
        tx.output[1].value = bitcoin::Amount::from_sat(380_000)
    });
    let msg = refusal(&shop, &pay_path, &tampered).await;
    assert!(msg.contains("mandatory-script-verify-flag-failed"), "{msg}");
    // Spending more than the coin holds.
    let greedy = raw_tx(&[(&fund_txid, fund_vout, 500_000)], &[(&script, 600_000)]);
    let msg = refusal(&shop, &pay_path, &greedy).await;
    assert!(msg.contains("bad-txns-in-belowout"), "{msg}");

    // Nothing was recorded: after a block the invoice is still new.
    shop.mine(1).await;
    let now = shop.get(&id).await;
    assert_eq!(now["status"], "new", "{now}");
    assert_eq!(now["payments"], json!([]));

    // The honest payment from the same coin goes through and completes.
    let r = shop
        .public("POST", &pay_path, Some(pay_body(&[&honest])))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    shop.mine(6).await;
    assert_eq!(shop.get(&id).await["status"], "completed");
    shop.gw.stop().await;
}

per_engine!(
    forged_payments_are_refused,
    flavor = "multi_thread",
    worker_threads = 4
);

async fn stores_act_only_on_their_own_sandbox_transactions(engine: Engine) {
    let Some(shop) = Shop::open(engine, regtest_store()).await else {
        return;
    };
    // A second store of the same account, on the same sandbox chain.
    let (_, other_key) = shop
        .gw
        .store(json!({"name": "Other", "network": "regtest", "wallet": BIP84_VPUB}))
        .await;
    let inv = shop
        .invoice(json!({"amount": "0.001", "currency": "BTC"}))
        .await;
    let id = inv["id"].as_str().unwrap().to_string();
    let address = inv["address"].as_str().unwrap().to_string();
    let paid = shop.pay(&id, 100_000, false).await;
    let txid = paid["txid"].as_str().unwrap().to_string();

    let other = |path: &'static str, body: Value| {
        let key = other_key.clone();
        let gw = &shop.gw;
        async move { gw.call("POST", path, Some(&key), Some(body)).await }
    };
    // Double-spending another store's payment: 404, the payment stands.
    let r = other("/v1/sandbox/double-spend", json!({"txid": txid})).await;
    assert_eq!((r.status, r.code()), (404, "not_found"), "{:?}", r.body);
    assert_eq!(shop.get(&id).await["status"], "pending");
    // Paying another store's invoice address: refused, naming the field.
    let r = other(
        "/v1/sandbox/payments",
        json!({"address": address, "amount_sats": 5_000}),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "validation_error"),
        "{:?}",
        r.body
    );
    assert!(
        r.body["error"]["details"]["address"].is_array(),
        "{:?}",
        r.body
    );
    // Another store's reorg leaves this store's payment confirmed.
    shop.mine(1).await;
    let before = shop.get(&id).await;
    assert_eq!(before["payments"][0]["confirmations"], 1, "{before}");
    let r = other("/v1/sandbox/reorg", json!({"depth": 1})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    shop.poll().await;
    let after = shop.get(&id).await;
    assert_eq!(after["payments"][0]["confirmations"], 1, "{after}");
    assert_eq!(after["status"], before["status"]);
    // The store's own reorg sends its payment back to the mempool.
    let r = shop
        .call("POST", "/v1/sandbox/reorg", Some(json!({"depth": 1})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let after = shop.get(&id).await;
    assert_eq!(after["payments"][0]["confirmations"], 0, "{after}");
    // And the store can double-spend its own unconfirmed payment.
    let r = shop
        .call(
            "POST",
            "/v1/sandbox/double-spend",
            Some(json!({"txid": txid})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    shop.gw.stop().await;
}
per_engine!(
    stores_act_only_on_their_own_sandbox_transactions,
    flavor = "multi_thread",
    worker_threads = 4
);
