//! Seed 002 (POS gateway) face: the seed's example requests sent verbatim
//! (base URL, key and ids substituted; the seed's `¤cy=` kept as printed),
//! with `Authorization: Basic base64(username:api_key)`, on both engines;
//! every documented response field and its JSON type, and `{"err": ...}`.

use base64::Engine as _;
use satsgate_e2e::{
    lambda_call, per_engine, Engine, Reply, Shop, BIP84_REGTEST_ADDRESSES, BIP84_VPUB,
};
use serde_json::{json, Value};

/// A GET with the seed's Basic credentials.
async fn pos(shop: &Shop, basic: &str, path_and_query: &str) -> Reply {
    let auth = format!("Basic {basic}");
    shop.gw
        .send(
            "GET",
            path_and_query,
            None,
            None,
            &[("authorization", auth.as_str())],
        )
        .await
}

/// A BTC amount string with 8 decimals, in satoshis (exact).
fn sats(v: &Value) -> u64 {
    let s = v.as_str().unwrap_or_else(|| panic!("a BTC string: {v}"));
    let (whole, frac) = s.split_once('.').expect("8 decimals");
    assert_eq!(frac.len(), 8, "{s}");
    whole.parse::<u64>().unwrap() * 100_000_000 + frac.parse::<u64>().unwrap()
}

/// Every documented field of GetRate, all strings.
fn assert_rate(r: &Reply) {
    assert_eq!(r.status, 200, "{:?}", r.body);
    let b = &r.body;
    for f in [
        "invoice_amount",
        "invoice_currency",
        "currency",
        "rate",
        "amount_exchange",
        "network_processing_fee",
        "amount",
        "fast_transaction_fee",
        "fast_transaction_fee_currency",
        "wait_time",
        "payment_id",
    ] {
        assert!(b[f].is_string(), "{f} is a string: {b}");
    }
    assert_eq!(b["invoice_amount"], "48.25");
    assert_eq!(b["invoice_currency"], "EUR");
    assert_eq!(b["currency"], "BTC");
    assert_eq!(b["fast_transaction_fee_currency"], "BTC/Byte");
    assert_eq!(
        sats(&b["amount"]),
        sats(&b["amount_exchange"]) + sats(&b["network_processing_fee"])
    );
}

async fn pos_face(engine: Engine) {
    let Some(shop) = Shop::open(
        engine,
        json!({"name": "POS shop", "network": "regtest", "wallet": BIP84_VPUB}),
    )
    .await
    else {
        return;
    };
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("merchant:{}", shop.key));

    // GetRate, verbatim.
    let r = pos(&shop, &basic, "/v2/GetRate/?pos_id=POS1&invoice_currency=EUR&invoice_amount=48.25¤cy=BTC&accept_zero_confirmations=true").await;
    assert_rate(&r);
    assert_eq!(r.body["wait_time"], "5 seconds");
    let payment_id = r.body["payment_id"].as_str().unwrap().to_string();
    let total = sats(&r.body["amount"]);

    // StartPayment, verbatim.
    let r = pos(&shop, &basic, &format!("/v2/StartPayment/?pos_id=POS1&invoice_currency=EUR&payment_id={payment_id}&invoice_amount=48.25¤cy=BTC&reference_no=12-23-456&accept_zero_confirmations=true&payer_ip_address=1.1.1.1&payer_user_agent=Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36")).await;
    assert_rate(&r);
    let b = &r.body;
    assert_eq!(b["payment_id"], payment_id.as_str());
    assert_eq!(sats(&b["amount"]), total, "the held rate");
    for f in ["address", "qr", "qr_alt", "qr_img", "qr_alt_img"] {
        assert!(b[f].is_string(), "{f}: {b}");
    }
    let address = b["address"].as_str().unwrap().to_string();
    assert!(address.starts_with("bcrt1"));
    assert!(b["qr"]
        .as_str()
        .unwrap()
        .starts_with(&format!("bitcoin:{address}?amount=")));
    assert_eq!(b["qr_alt"], address.as_str());
    assert!(b["qr_img"].as_str().unwrap().contains("/v1/qr?"));
    let invoice_id = b["invoice_id"].as_str().unwrap().to_string();
    // The POS fields are stored on the invoice.
    let inv = shop.get(&invoice_id).await;
    assert_eq!(inv["metadata"]["pos_id"], "POS1");
    assert_eq!(inv["metadata"]["reference_no"], "12-23-456");
    assert_eq!(inv["metadata"]["payer_ip_address"], "1.1.1.1");
    assert_eq!(
        inv["metadata"]["payer_user_agent"],
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"
    );
    assert_eq!(inv["speed_policy"], "zero_conf");
    assert_eq!(inv["crypto_amount_sats"], total);

    // CheckPayment, verbatim: waiting.
    let check =
        format!("/v2/CheckPayment/?pos_id=POS1¤cy=BTC&payment_id={payment_id}&address={address}");
    let r = pos(&shop, &basic, &check).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let b = &r.body;
    assert_eq!(b["reference_no"], "12-23-456");
    assert_eq!(b["invoice_amount"], "48.25");
    assert_eq!(b["invoice_currency"], "EUR");
    assert_eq!(b["currency"], "BTC");
    assert_eq!(sats(&b["amount"]), total);
    assert_eq!(b["payment"], "0.00000000");
    assert_eq!(b["confirmations"], 0);
    assert_eq!(b["min_confirmations"], 0);
    assert_eq!(b["confirmed"], false);
    assert_eq!(b["state"], "waiting");
    assert_eq!(b["status"], "Waiting for transaction.");
    assert!(b["wait_time"].is_string());
    assert_eq!(b["refund_amount_opened"], "");

    // Paid with 10,000 sats too many, unconfirmed, not RBF: confirmed at
    // zero confirmations, and the excess is open for refund.
    shop.pay(&invoice_id, total + 1_000_000, false).await;
    shop.poll().await;
    let r = pos(&shop, &basic, &check).await;
    assert_eq!(r.body["confirmed"], true, "{:?}", r.body);
    assert_eq!(r.body["state"], "confirmed");
    assert_eq!(sats(&r.body["payment"]), total + 1_000_000);
    assert_eq!(r.body["refund_amount_opened"], "0.01000000");

    // RefundPayment, verbatim (amount = refund_amount_opened).
    let to = BIP84_REGTEST_ADDRESSES[1];
    let r = pos(&shop, &basic, &format!("/v2/RefundPayment/?pos_id=POS1&currency=BTC&payment_id={payment_id}&address_out={to}&refund_amount=0.00010000")).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(r.body["err"].as_str().unwrap().contains("refund_amount"));
    let r = pos(&shop, &basic, &format!("/v2/RefundPayment/?pos_id=POS1&currency=BTC&payment_id={payment_id}&address_out={to}&refund_amount=0.01000000")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["wait_time"].is_string());
    let inv = shop.get(&invoice_id).await;
    assert_eq!(inv["refunds"][0]["amount_sats"], 1_000_000);
    assert_eq!(inv["refunds"][0]["address"], to);
    let r = pos(&shop, &basic, &check).await;
    assert_eq!(r.body["refund_amount_opened"], "");

    // CancelPayment, verbatim, on a new payment.
    let r = pos(&shop, &basic, "/v2/GetRate/?pos_id=POS1&invoice_currency=EUR&invoice_amount=48.25¤cy=BTC&accept_zero_confirmations=true").await;
    let second = r.body["payment_id"].as_str().unwrap().to_string();
    let r = pos(&shop, &basic, &format!("/v2/StartPayment/?pos_id=POS2&invoice_currency=EUR&payment_id={second}&invoice_amount=48.25¤cy=BTC&user=anna")).await;
    let second_address = r.body["address"].as_str().unwrap().to_string();
    let r = pos(&shop, &basic, &format!("/v2/CancelPayment/?pos_id=POS1¤cy=BTC&payment_id={second}&address={second_address}&reason=other&comment=test")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"cancelled": true}));
    let r = pos(
        &shop,
        &basic,
        &format!("/v2/CheckPayment/?pos_id=POS1¤cy=BTC&payment_id={second}"),
    )
    .await;
    assert_eq!(r.body["state"], "cancelled");
    // The wrong address for a payment is refused.
    let r = pos(
        &shop,
        &basic,
        &format!("/v2/CancelPayment/?pos_id=POS1¤cy=BTC&payment_id={second}&address={address}"),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body["err"].is_string());

    // AcceptPayment, verbatim, on an underpaid one (needs a confirmation).
    let r = pos(
        &shop,
        &basic,
        "/v2/GetRate/?pos_id=POS1&invoice_currency=EUR&invoice_amount=4825¤cy=BTC",
    )
    .await;
    let third = r.body["payment_id"].as_str().unwrap().to_string();
    let third_total = sats(&r.body["amount"]);
    let r = pos(&shop, &basic, &format!("/v2/StartPayment/?pos_id=POS1&invoice_currency=EUR&payment_id={third}&invoice_amount=4825¤cy=BTC")).await;
    let third_address = r.body["address"].as_str().unwrap().to_string();
    let third_invoice = r.body["invoice_id"].as_str().unwrap().to_string();
    assert!(
        third_total > 1_000_000,
        "worth more than 0.01 BTC: {third_total}"
    );
    shop.pay(&third_invoice, 1_000_000, false).await;
    shop.poll().await;
    let check3 =
        format!("/v2/CheckPayment/?pos_id=POS1¤cy=BTC&payment_id={third}&address={third_address}");
    let r = pos(&shop, &basic, &check3).await;
    assert_eq!(r.body["state"], "underpaid", "{:?}", r.body);
    assert_eq!(r.body["min_confirmations"], 1);
    assert_eq!(r.body["payment"], "0.01000000");
    let r = pos(&shop, &basic, &format!("/v2/AcceptPayment/?pos_id=POS1¤cy=BTC&payment_id={third}&address={third_address}&accepted_amount=0.00900000&accepted_invoice_amount=10.0")).await;
    assert_eq!(r.status, 400, "must match what was paid: {:?}", r.body);
    assert!(r.body["err"].is_string());
    // The seed's example verbatim (0.01 BTC was paid).
    let r = pos(&shop, &basic, &format!("/v2/AcceptPayment/?pos_id=POS1¤cy=BTC&payment_id={third}&address={third_address}&accepted_amount=0.01000000&accepted_invoice_amount=10.0")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"success": true}));
    shop.mine(1).await;
    shop.poll().await;
    let r = pos(&shop, &basic, &check3).await;
    assert_eq!(
        (r.body["state"].as_str(), r.body["confirmations"].as_u64()),
        (Some("confirmed"), Some(1)),
        "{:?}",
        r.body
    );

    // GetCurrencyList.
    let r = pos(&shop, &basic, "/v2/GetCurrencyList/").await;
    assert_eq!(r.status, 200);
    let list = r.body.as_array().unwrap();
    assert!(list
        .iter()
        .any(|c| c["currency"] == "BTC" && c["type"] == "crypto"));
    assert!(list
        .iter()
        .any(|c| c["currency"] == "EUR" && c["type"] == "fiat"));

    // GetTransactions, verbatim: newest first, the seed's row shape.
    let r = pos(&shop, &basic, "/v2/GetTransactions/?offset=0&limit=20").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let rows = r.body.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        for f in [
            "status",
            "pos_id",
            "payment_id",
            "invoice_currency",
            "invoice_amount",
            "currency",
            "amount",
            "address",
            "type",
            "payment",
            "refund",
            "refund_amount_opened",
            "inserted",
            "item_name",
            "access_token",
        ] {
            assert!(row[f].is_string(), "{f} is a string: {row}");
        }
        for f in ["refund_status", "confirmed", "cancelled"] {
            assert!(row[f].is_null() || row[f].is_string(), "{f}: {row}");
        }
        assert!(
            row["double_spending_alert"].is_null() || row["double_spending_alert"].is_boolean()
        );
        assert!(row["accept_zero_confirmations"].is_boolean());
        assert_eq!(row["type"], "Sell");
        let inserted = row["inserted"].as_str().unwrap();
        assert_eq!((inserted.len(), &inserted[10..11]), (19, " "), "{inserted}");
    }
    assert_eq!(rows[2]["payment_id"], payment_id.as_str());
    assert_eq!(rows[2]["status"], "Confirmed");
    assert_eq!(rows[2]["refund"], "0.01000000");
    assert_eq!(rows[2]["refund_status"], "requested");
    assert!(rows[2]["confirmed"].is_string());
    assert_eq!(rows[2]["accept_zero_confirmations"], true);
    assert_eq!(rows[1]["status"], "Cancelled");
    assert!(rows[1]["cancelled"].is_string());
    assert_eq!(rows[1]["pos_id"], "POS2");
    // Filters on the stored POS fields, and offset/limit.
    let r = pos(
        &shop,
        &basic,
        "/v2/GetTransactions/?offset=0&limit=20&pos_id=POS2&user=anna",
    )
    .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["payment_id"], second.as_str());
    let r = pos(
        &shop,
        &basic,
        "/v2/GetTransactions/?offset=0&limit=20&reference_no=12-23-456",
    )
    .await;
    assert_eq!(r.body[0]["payment_id"], payment_id.as_str());
    let r = pos(&shop, &basic, "/v2/GetTransactions/?offset=1&limit=1").await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["payment_id"], second.as_str());

    // Errors: {"err": ...}.
    let bad = base64::engine::general_purpose::STANDARD.encode("merchant:not-a-key");
    let r = pos(&shop, &bad, "/v2/GetTransactions/?offset=0&limit=20").await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({"err": "Invalid API key or authentication failed"})
    );
    let r = pos(&shop, &basic, "/v2/GetRate/?pos_id=POS1&invoice_currency=EUR&invoice_amount=48.25&currency=BTC&require_kyt_for_confirmation=true").await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["err"]
            .as_str()
            .unwrap()
            .contains("require_kyt_for_confirmation"),
        "{:?}",
        r.body
    );
    assert!(r.body["details"]["require_kyt_for_confirmation"][0]
        .as_str()
        .unwrap()
        .contains("KYT"));
    let r = pos(
        &shop,
        &basic,
        "/v2/GetRate/?pos_id=POS1&invoice_currency=EUR&invoice_amount=48.25&currency=ETH",
    )
    .await;
    assert_eq!(r.status, 400);
    let r = pos(&shop, &basic, "/v2/CheckPayment/?pos_id=POS1&currency=BTC&payment_id=123e4567-e89b-12d3-a456-426614174000").await;
    assert_eq!(r.status, 404);
    assert!(r.body["err"].is_string());
    let r = pos(&shop, &basic, "/v2/NoSuchCall/").await;
    assert_eq!(r.status, 404);
    assert!(r.body["err"].is_string());

    // The same rows as Lambda functions, from their sample events.
    let app = shop.gw.app();
    let subs = [
        ("__BASIC__", basic.as_str()),
        ("__QUOTE_ID__", payment_id.as_str()),
        ("__ADDRESS__", to),
    ];
    for (f, status) in [
        ("pos-get-rate", 200),
        ("pos-check-payment", 200),
        ("pos-currency-list", 200),
        ("pos-transactions", 200),
        ("pos-refund-payment", 400),
        ("pos-cancel-payment", 409),
        ("pos-accept-payment", 409),
        ("pos-start-payment", 409),
    ] {
        let (s, b) = lambda_call(app, f, &subs).await;
        assert_eq!(s, status, "{f}: {b}");
    }
    shop.gw.stop().await;
}

per_engine!(pos_face);

/// The shared pipeline's refusals (rate limit, no such call) come in each
/// face's own shape, with `Retry-After`.
#[tokio::test]
async fn pipeline_refusals_in_each_faces_shape() {
    let config = satsgate::app::Config {
        rate_limit_per_minute: 2,
        ..satsgate::app::Config::default()
    };
    let gw = satsgate_e2e::Gateway::start(Engine::Embedded, config)
        .await
        .unwrap();
    let (_, store_key) = gw
        .store(json!({"name": "S", "network": "regtest", "wallet": BIP84_VPUB}))
        .await;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("u:{store_key}"));
    let auth = format!("Basic {basic}");
    let account = gw.account_key.clone();
    let hit = |path: &'static str, key: Option<String>, basic: Option<String>| {
        let gw = &gw;
        async move {
            let headers: Vec<(&str, &str)> = match &basic {
                Some(b) => vec![("authorization", b.as_str())],
                None => vec![],
            };
            gw.send("GET", path, key.as_deref(), None, &headers).await
        }
    };
    // Past the limit (2 a minute; a minute may turn meanwhile, so call on
    // until refused), each face answers 429 in its own shape.
    let limited = |path: &'static str, key: Option<String>, basic: Option<String>| {
        let hit = &hit;
        async move {
            for _ in 0..8 {
                let r = hit(path, key.clone(), basic.clone()).await;
                if r.status == 429 {
                    assert!(r.header("retry-after").is_some());
                    return r;
                }
                assert_eq!(r.status, 200, "{:?}", r.body);
            }
            panic!("{path} was never rate limited");
        }
    };
    let r = limited("/api/v1/stores", Some(account.clone()), None).await;
    assert!(
        r.body["message"].is_string() && r.body.get("error").is_none(),
        "{:?}",
        r.body
    );
    let r = limited("/api/payment-orders/", Some(account), None).await;
    assert_eq!(r.body["success"], false);
    assert_eq!(r.body["error"]["code"], "RATE_LIMITED");
    assert!(r.body["timestamp"].is_string());
    let r = limited("/v2/GetTransactions/", None, Some(auth)).await;
    assert!(
        r.body["err"].as_str().unwrap().contains("rate limit"),
        "{:?}",
        r.body
    );
    // Unknown calls: each face's 404.
    let r = hit("/api/v1/nothing", None, None).await;
    assert_eq!(
        (r.status, r.body["message"].is_string()),
        (404, true),
        "{:?}",
        r.body
    );
    let r = hit("/api/nothing/", None, None).await;
    assert_eq!(
        (r.status, &r.body["error"]["code"]),
        (404, &json!("NOT_FOUND")),
        "{:?}",
        r.body
    );
    gw.stop().await;
}
