//! The buyer's side over HTTP, without API keys: QR images, seed 000's
//! payment protocol (`/r/{id}`, paying with a signed raw transaction on the
//! sandbox chain), the hosted checkout page (`/i/{id}`), and the same
//! routes through their Lambda functions and sample events.

use satsgate::chain::Chain;
use satsgate::network::Network;
use satsgate::wallet::Wallet;
use satsgate_e2e::buyer::{change_script, funding, pay_body, raw_tx, txid_of};
use satsgate_e2e::{per_engine, Engine, Shop, BIP84_VPUB};
use serde_json::{json, Value};

/// A sandbox output to spend (paying an address outside the store's wallet).
fn regtest_store() -> Value {
    json!({"name": "Tea & <Co>", "network": "regtest", "wallet": BIP84_VPUB})
}

/// The script_pubkey of the store wallet's receive address `index`.
fn store_script(index: u64) -> Vec<u8> {
    Wallet::parse(BIP84_VPUB, Network::Regtest)
        .unwrap()
        .script_pubkey_at(index as u32)
        .unwrap()
        .as_bytes()
        .to_vec()
}

/// Decode a PNG QR with the `png` crate and read it with an independent
/// QR reader -> (side in px, px per module, text).
fn read_qr(data: &[u8]) -> (usize, usize, String) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(data))
        .read_info()
        .expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.width, info.height, "square");
    assert_eq!(info.bit_depth, png::BitDepth::One);
    let (w, row) = (info.width as usize, (info.width as usize).div_ceil(8));
    let dark = |x: usize, y: usize| buf[y * row + x / 8] & (0x80 >> (x % 8)) == 0;
    // The top-left finder pattern's first row: a dark run of 7 modules.
    let (fx, fy) = (0..w * w)
        .map(|i| (i % w, i / w))
        .find(|&(x, y)| dark(x, y))
        .unwrap();
    let run = (fx..w).take_while(|&x| dark(x, fy)).count();
    assert_eq!(run % 7, 0);
    assert!(fx >= 4 * run / 7, "quiet zone of 4 modules");
    let mut img =
        rqrr::PreparedImage::prepare_from_greyscale(w, w, |x, y| if dark(x, y) { 0 } else { 255 });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one code");
    (w, run / 7, grids[0].decode().expect("readable").1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn qr_images_as_svg_and_png() {
    let shop = Shop::open(Engine::Embedded, regtest_store()).await.unwrap();
    let data = "bitcoin%3Abcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk%3Famount%3D0.001";

    let (status, ct, headers, body) = shop.raw(&format!("/v1/qr?data={data}&format=svg")).await;
    assert_eq!((status, ct.as_str()), (200, "image/svg+xml"));
    let svg = String::from_utf8(body).unwrap();
    assert!(svg.starts_with("<?xml"), "{svg}");
    let root = svg.find("<svg ").expect("an <svg> root element");
    assert!(
        svg[root..]
            .starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"256\" height=\"256\""),
        "{svg}"
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<svg").count(), 1);
    let cache = headers.get("cache-control").unwrap().to_str().unwrap();
    assert!(
        cache.contains("public") && cache.contains("max-age=86400"),
        "{cache}"
    );

    // Default format is SVG.
    let (status, ct, _, _) = shop.raw(&format!("/v1/qr?data={data}")).await;
    assert_eq!((status, ct.as_str()), (200, "image/svg+xml"));

    for (size, want) in [
        (None, 256),
        (Some(512), 512),
        (Some(257), 257),
        (Some(135), 135),
    ] {
        let q = size.map(|s| format!("&size={s}")).unwrap_or_default();
        let (status, ct, headers, png) =
            shop.raw(&format!("/v1/qr?data={data}&format=png{q}")).await;
        assert_eq!((status, ct.as_str()), (200, "image/png"));
        assert!(headers
            .get("cache-control")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("max-age=86400"));
        let (side, module, text) = read_qr(&png);
        assert_eq!(side, want, "exactly the size asked");
        assert!(module >= 3, "{module} px per module at {want}");
        assert_eq!(
            text,
            "bitcoin:bcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk?amount=0.001"
        );
        let (_, _, _, svg) = shop.raw(&format!("/v1/qr?data={data}{q}")).await;
        let svg = String::from_utf8(svg).unwrap();
        assert!(
            svg.contains(&format!(
                "width=\"{want}\" height=\"{want}\" viewBox=\"0 0 {want} {want}\""
            )),
            "{svg}"
        );
    }
    // This data is 45 modules with the quiet zone: 135 px is its minimum.
    for format in ["png", "svg"] {
        let r = shop
            .public(
                "GET",
                &format!("/v1/qr?data={data}&format={format}&size=134"),
                None,
            )
            .await;
        assert_eq!((r.status, r.code()), (400, "validation_error"));
        let msg = r.body["error"]["details"]["size"][0].as_str().unwrap();
        assert!(msg.contains("at least 135 pixels"), "{msg}");
    }

    // Errors name the field.
    let r = shop.public("GET", "/v1/qr?format=svg", None).await;
    assert_eq!((r.status, r.code()), (400, "validation_error"));
    assert_eq!(r.body["error"]["details"]["data"][0], "is required");
    let r = shop
        .public("GET", &format!("/v1/qr?data={data}&format=gif"), None)
        .await;
    assert_eq!((r.status, r.code()), (400, "validation_error"));
    assert!(
        r.body["error"]["details"]["format"][0]
            .as_str()
            .unwrap()
            .contains("svg, png"),
        "{:?}",
        r.body
    );
    let r = shop
        .public("GET", &format!("/v1/qr?data={}", "a".repeat(2001)), None)
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["error"]["details"]["data"][0]
            .as_str()
            .unwrap()
            .contains("2000"),
        "{:?}",
        r.body
    );
    let (status, _, _, _) = shop
        .raw(&format!("/v1/qr?data={}&format=png", "a".repeat(2000)))
        .await;
    assert_eq!(status, 200, "2,000 characters fit");
    let r = shop
        .public("GET", &format!("/v1/qr?data={data}&size=10"), None)
        .await;
    assert!(
        r.body["error"]["details"]["size"].is_array(),
        "{:?}",
        r.body
    );
    let r = shop
        .public("GET", &format!("/v1/qr?data={data}&colour=red"), None)
        .await;
    assert_eq!(
        r.body["error"]["details"]["colour"][0],
        "unknown query parameter"
    );
    shop.gw.stop().await;
}

async fn payment_protocol_shapes(engine: Engine) {
    let Some(shop) = Shop::open(engine, regtest_store()).await else {
        return;
    };
    let inv = shop
        .invoice(json!({
            "amount": "10.00", "currency": "USD", "order_id": "R-1", "order_name": "Green tea",
            "buyer_email": "buyer@example.com", "metadata": {"secret": "internal"},
            "webhook_url": "https://merchant.example/hook", "redirect_url": "https://merchant.example/thanks",
        }))
        .await;
    let id = inv["id"].as_str().unwrap();
    let address = inv["address"].as_str().unwrap();

    let r = shop.public("GET", &format!("/r/{id}"), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let pi = &r.body["invoice"];
    for (k, v) in [
        ("id", json!(id)),
        ("uid", json!(id)),
        // Seed 000's words and types (API.md "Payment protocol").
        ("status", json!("unpaid")),
        ("state", json!("new")),
        ("amount", serde_json::from_str::<Value>("10.00").unwrap()),
        ("currency", json!("USD")),
        ("crypto_amount", json!("0.00015385")),
        ("crypto_amount_sats", json!(15385)),
        ("amount_due_sats", json!(15385)),
        ("address", json!(address)),
        ("payment_uri", inv["payment_uri"].clone()),
        ("expires_at", inv["expires_at"].clone()),
        ("order_name", json!("Green tea")),
        ("redirect_url", json!("https://merchant.example/thanks")),
        ("store_name", json!("Tea & <Co>")),
    ] {
        assert_eq!(pi[k], v, "{k}: {pi}");
    }
    assert!(
        pi["uri"].as_str().unwrap().starts_with("pay:?r=")
            && pi["uri"].as_str().unwrap().ends_with(&format!("/r/{id}"))
    );
    for hidden in [
        "buyer_email",
        "metadata",
        "webhook_url",
        "store_id",
        "order_id",
        "address_index",
        "payments",
        "refunds",
        "comment",
    ] {
        assert!(
            pi.get(hidden).is_none(),
            "{hidden} must not be public: {pi}"
        );
    }
    assert!(
        !r.body.to_string().contains("buyer@example.com")
            && !r.body.to_string().contains("internal")
    );
    assert_eq!(
        r.body["payment_options"],
        json!([{"chain": "BTC", "currency": "BTC", "network": "regtest", "amount": "0.00015385", "amount_sats": 15385}])
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(pi["amount"].is_number(), "{pi}");
    let nested = &pi["payment_options"]["payment_options"][0];
    assert_eq!(
        (&nested["chain"], &nested["currency"]),
        (&json!("BTC"), &json!("BTC"))
    );
    let out = &nested["instructions"][0]["outputs"][0];
    assert_eq!(out["address"], json!(address));
    assert!(out["amount"].is_number(), "{out}");
    assert_eq!(out["amount"].to_string(), "0.00015385");

    let r = shop
        .public(
            "POST",
            &format!("/r/{id}"),
            Some(json!({"chain": "BTC", "currency": "BTC"})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["chain"], "BTC");
    assert_eq!(r.body["network"], "regtest");
    assert_eq!(
        r.body["outputs"],
        json!([{"address": address, "amount": "0.00015385", "amount_sats": 15385}])
    );
    assert_eq!(r.body["expires_at"], inv["expires_at"]);
    assert_eq!(r.body["memo"], "Green tea");

    // Wrong or missing chain/currency: 400 naming the field.
    let r = shop
        .public(
            "POST",
            &format!("/r/{id}"),
            Some(json!({"chain": "ETH", "currency": "BTC"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "validation_error"));
    assert!(
        r.body["error"]["details"]["chain"].is_array(),
        "{:?}",
        r.body
    );
    let r = shop
        .public(
            "POST",
            &format!("/r/{id}"),
            Some(json!({"chain": "BTC", "currency": "USDC"})),
        )
        .await;
    assert!(
        r.body["error"]["details"]["currency"].is_array(),
        "{:?}",
        r.body
    );
    let r = shop
        .public("POST", &format!("/r/{id}"), Some(json!({})))
        .await;
    assert_eq!(r.body["error"]["details"]["chain"][0], "is required");
    assert_eq!(r.body["error"]["details"]["currency"][0], "is required");

    // Unknown invoices, well-formed or not.
    for bad in [
        "inv_0123456789abcdef0123456789abcdef",
        "nope",
        "inv_%3Cscript%3E",
    ] {
        let r = shop.public("GET", &format!("/r/{bad}"), None).await;
        assert_eq!((r.status, r.code()), (404, "not_found"), "{bad}");
        // seed 000's error shape, next to the v1 error object
        assert_eq!(r.body["status"], "error", "{bad}");
        assert_eq!(r.body["message"], r.body["error"]["message"], "{bad}");
        let r = shop
            .public(
                "POST",
                &format!("/r/{bad}"),
                Some(json!({"chain": "BTC", "currency": "BTC"})),
            )
            .await;
        assert_eq!(r.status, 404);
        let r = shop
            .public("POST", &format!("/r/{bad}/pay"), Some(pay_body(&["00"])))
            .await;
        assert_eq!(r.status, 404);
    }

    // A BTC invoice without order name gets a memo naming the store.
    let btc = shop
        .invoice(json!({"amount": "0.001", "currency": "BTC"}))
        .await;
    let r = shop
        .public(
            "POST",
            &format!("/r/{}", btc["id"].as_str().unwrap()),
            Some(json!({"chain": "BTC", "currency": "BTC"})),
        )
        .await;
    assert_eq!(r.body["outputs"][0]["amount_sats"], 100_000);
    assert!(
        r.body["memo"].as_str().unwrap().contains("Tea & <Co>"),
        "{:?}",
        r.body
    );

    // Expired (by time, before any poller run): no options, 409 on requests.
    shop.clock().advance(time::Duration::hours(2));
    let r = shop.public("GET", &format!("/r/{id}"), None).await;
    assert_eq!(r.body["payment_options"], json!([]));
    let r = shop
        .public(
            "POST",
            &format!("/r/{id}"),
            Some(json!({"chain": "BTC", "currency": "BTC"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "conflict"));
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{:?}",
        r.body
    );
    shop.gw.stop().await;
}
per_engine!(
    payment_protocol_shapes,
    flavor = "multi_thread",
    worker_threads = 4
);

async fn paying_with_a_signed_transaction(engine: Engine) {
    let Some(shop) = Shop::open(engine, regtest_store()).await else {
        return;
    };
    let sim = shop.gw.app().sim.clone().expect("sandbox chain");
    let inv = shop
        .invoice(json!({"amount": "10.00", "currency": "USD"}))
        .await;
    let id = inv["id"].as_str().unwrap().to_string();
    let address = inv["address"].as_str().unwrap().to_string();
    let script = store_script(inv["address_index"].as_u64().unwrap());
    let change = change_script();
    let (fund_txid, fund_vout) = funding(&shop, 1_000_000).await;
    let pay_path = format!("/r/{id}/pay");

    // Underpaying by one sat: 400, nothing broadcast, nothing recorded.
    let short = raw_tx(
        &[(&fund_txid, fund_vout, 1_000_000)],
        &[(&script, 15384), (&change, 900_000)],
    );
    let r = shop
        .public("POST", &pay_path, Some(pay_body(&[&short])))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "validation_error"),
        "{:?}",
        r.body
    );
    let msg = r.body["error"]["details"]["transactions"][0]
        .as_str()
        .unwrap();
    assert!(msg.contains("15384") && msg.contains("15385"), "{msg}");
    assert!(
        sim.tx(&txid_of(&short).parse().unwrap())
            .await
            .unwrap()
            .is_none(),
        "not broadcast"
    );
    assert!(sim.address_txs(&address).await.unwrap().is_empty());
    assert_eq!(shop.get(&id).await["status"], "new");

    // Malformed input: 400 on the entry.
    for (bad, field) in [
        ("zz", "transactions[0].tx"),
        ("deadbeef", "transactions[0].tx"),
        ("", "transactions[0].tx"),
    ] {
        let r = shop.public("POST", &pay_path, Some(pay_body(&[bad]))).await;
        assert_eq!(
            (r.status, r.code()),
            (400, "validation_error"),
            "{bad}: {:?}",
            r.body
        );
        assert!(
            r.body["error"]["details"][field].is_array(),
            "{bad}: {:?}",
            r.body
        );
    }
    for body in [
        json!({"chain": "BTC", "currency": "BTC"}),
        json!({"chain": "BTC", "currency": "BTC", "transactions": []}),
        json!({"chain": "BTC", "currency": "BTC", "transactions": "00"}),
        json!({"chain": "LTC", "currency": "BTC", "transactions": [{"tx": short}]}),
    ] {
        let r = shop.public("POST", &pay_path, Some(body.clone())).await;
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
    }
    // The same transaction twice is refused, not counted twice.
    let half = raw_tx(
        &[(&fund_txid, fund_vout, 1_000_000)],
        &[(&script, 8000), (&change, 900_000)],
    );
    let r = shop
        .public("POST", &pay_path, Some(pay_body(&[&half, &half])))
        .await;
    assert!(
        r.body["error"]["details"]["transactions[1].tx"][0]
            .as_str()
            .unwrap()
            .contains("repeats"),
        "{:?}",
        r.body
    );
    // A transaction unrelated to the invoice is not relayed.
    let unrelated = raw_tx(&[(&fund_txid, fund_vout, 1_000_000)], &[(&change, 900_000)]);
    let full = raw_tx(&[(&fund_txid, 1, 0)], &[(&script, 15385)]);
    let r = shop
        .public("POST", &pay_path, Some(pay_body(&[&unrelated, &full])))
        .await;
    assert!(
        r.body["error"]["details"]["transactions[0].tx"].is_array(),
        "{:?}",
        r.body
    );
    assert!(sim.address_txs(&address).await.unwrap().is_empty());

    // Paying in full (a parent and its child): success, broadcast, recorded.
    let parent = raw_tx(&[(&fund_txid, fund_vout, 1_000_000)], &[(&change, 990_000)]);
    let child = raw_tx(
        &[(&txid_of(&parent), 0, 990_000)],
        &[(&script, 15385), (&change, 970_000)],
    );
    let r = shop
        .public("POST", &pay_path, Some(pay_body(&[&parent, &child])))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"status": "success", "message": "Payment submitted successfully"})
    );
    let now = shop.get(&id).await;
    assert_eq!(now["status"], "pending", "paid in full, unconfirmed");
    assert_eq!(now["payments"][0]["txid"], txid_of(&child));
    assert_eq!(now["payments"][0]["amount_sats"], 15385);
    let r = shop.public("GET", &format!("/r/{id}"), None).await;
    assert_eq!(r.body["invoice"]["status"], "paid");
    assert_eq!(r.body["invoice"]["state"], "pending");
    assert_eq!(r.body["payment_options"], json!([]));
    assert_eq!(
        r.body["invoice"]["payment_options"]["payment_options"],
        json!([])
    );

    // A paid invoice takes no more payments.
    let again = raw_tx(&[(&txid_of(&child), 1, 970_000)], &[(&script, 15385)]);
    let r = shop
        .public("POST", &pay_path, Some(pay_body(&[&again])))
        .await;
    assert_eq!((r.status, r.code()), (409, "conflict"), "{:?}", r.body);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("already paid"));
    let r = shop
        .public(
            "POST",
            &format!("/r/{id}"),
            Some(json!({"chain": "BTC", "currency": "BTC"})),
        )
        .await;
    assert_eq!(r.status, 409);
    assert!(sim
        .tx(&txid_of(&again).parse().unwrap())
        .await
        .unwrap()
        .is_none());

    // A partly paid invoice asks for the rest, and a payment of the rest completes it.
    let inv2 = shop
        .invoice(json!({"amount": "0.001", "currency": "BTC"}))
        .await;
    let id2 = inv2["id"].as_str().unwrap().to_string();
    let script2 = store_script(inv2["address_index"].as_u64().unwrap());
    let r = shop
        .call(
            "POST",
            "/v1/sandbox/payments",
            Some(json!({"invoice_id": id2, "amount_sats": 40_000})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(shop.get(&id2).await["status"], "paid_partial");
    let r = shop
        .public(
            "POST",
            &format!("/r/{id2}"),
            Some(json!({"chain": "BTC", "currency": "BTC"})),
        )
        .await;
    assert_eq!(r.body["outputs"][0]["amount_sats"], 60_000);
    // The network refuses a conflicting spend: 400 with its reason, nothing recorded.
    let conflict = raw_tx(&[(&fund_txid, fund_vout, 1_000_000)], &[(&script2, 60_000)]);
    let r = shop
        .public(
            "POST",
            &format!("/r/{id2}/pay"),
            Some(pay_body(&[&conflict])),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "validation_error"),
        "{:?}",
        r.body
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("txn-mempool-conflict"),
        "{:?}",
        r.body
    );
    assert_eq!(shop.get(&id2).await["status"], "paid_partial");
    let rest = raw_tx(&[(&txid_of(&child), 1, 970_000)], &[(&script2, 60_000)]);
    // As the anypay client sends it: POST /r/{id} as application/payment.
    let r = shop
        .gw
        .http
        .post(shop.gw.url(&format!("/r/{id2}")))
        .header("content-type", "application/payment")
        .body(pay_body(&[&rest]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "success", "message": "Payment submitted successfully"})
    );
    let now = shop.get(&id2).await;
    assert_eq!(now["status"], "pending");
    assert_eq!(now["amount_paid_sats"], 100_000);

    // Expired invoices take no payment.
    let inv3 = shop
        .invoice(json!({"amount": "0.001", "currency": "BTC", "expire_min": 15}))
        .await;
    shop.clock().advance(time::Duration::minutes(16));
    let script3 = store_script(inv3["address_index"].as_u64().unwrap());
    let late = raw_tx(&[(&txid_of(&rest), 0, 60_000)], &[(&script3, 100_000)]);
    let r = shop
        .public(
            "POST",
            &format!("/r/{}/pay", inv3["id"].as_str().unwrap()),
            Some(pay_body(&[&late])),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "conflict"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
    shop.gw.stop().await;
}
per_engine!(
    paying_with_a_signed_transaction,
    flavor = "multi_thread",
    worker_threads = 4
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hosted_checkout_page() {
    let shop = Shop::open(Engine::Embedded, regtest_store()).await.unwrap();
    let inv = shop
        .invoice(json!({
            "amount": "10.00", "currency": "USD",
            "order_name": "<script>alert(1)</script> & \"tea\"",
            "redirect_url": "https://merchant.example/thanks?a=1&b=2",
            "buyer_email": "buyer@example.com",
        }))
        .await;
    let id = inv["id"].as_str().unwrap().to_string();
    let address = inv["address"].as_str().unwrap().to_string();

    let (status, ct, headers, body) = shop.raw(&format!("/i/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(ct, "text/html; charset=utf-8");
    let html = String::from_utf8(body).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains(&address), "address shown");
    assert!(
        html.contains(&format!("data-copy=\"{address}\"")),
        "copy button"
    );
    assert!(html.contains("Tea &amp; &lt;Co&gt;"), "store name, escaped");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;tea&quot;"),
        "order name, escaped"
    );
    assert!(!html.contains("<script>alert"), "no merchant markup");
    assert!(!html.contains("<Co>"));
    assert!(!html.contains("buyer@example.com"));
    assert!(html.contains("10.00 USD") && html.contains("0.00015385 BTC"));
    assert!(
        html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "inline QR"
    );
    assert!(html.contains("href=\"bitcoin:"), "wallet link");
    assert!(
        html.contains("id=\"countdown\"") && html.contains("15:00"),
        "countdown from 15 minutes"
    );
    assert!(
        html.contains("\"redirect_url\":\"https://merchant.example/thanks?a=1\\u0026b=2\""),
        "redirect for the script"
    );
    assert!(html.contains(&format!("\"status_url\":\"../r/{id}\"")));
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http://"),
        "no external assets"
    );
    assert_eq!(
        html.matches("<link").count(),
        html.matches("<link rel=\"icon\" href=\"data:").count(),
        "the only link is the inline favicon"
    );
    assert!(
        html.contains("<link rel=\"icon\" href=\"data:"),
        "a favicon"
    );
    assert!(
        html.contains("\"ws_path\":\"../ws\"") && html.contains("\"ws_url\":null"),
        "the script subscribes over /ws next to the page"
    );
    let csp = headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");

    // Paid: the page says so and links back to the store.
    let r = shop
        .call(
            "POST",
            "/v1/sandbox/payments",
            Some(json!({"invoice_id": id, "amount_sats": 15385})),
        )
        .await;
    assert_eq!(r.status, 201);
    let (_, _, _, body) = shop.raw(&format!("/i/{id}")).await;
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("<h1 id=\"state-title\">Paid</h1>"), "{html}");
    assert!(html.contains("href=\"https://merchant.example/thanks?a=1&amp;b=2\""));
    assert!(!html.contains("id=\"pay\""), "no payment panel once paid");

    // Expired and cancelled invoices say so.
    let exp = shop
        .invoice(json!({"amount": "0.001", "currency": "BTC", "expire_min": 15}))
        .await;
    let can = shop
        .invoice(json!({"amount": "0.001", "currency": "BTC"}))
        .await;
    let r = shop
        .call(
            "POST",
            &format!("/v1/invoices/{}/cancel", can["id"].as_str().unwrap()),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (_, _, _, body) = shop
        .raw(&format!("/i/{}", can["id"].as_str().unwrap()))
        .await;
    assert!(String::from_utf8(body)
        .unwrap()
        .contains("Invoice cancelled"));
    shop.clock().advance(time::Duration::minutes(16));
    let (status, _, _, body) = shop
        .raw(&format!("/i/{}", exp["id"].as_str().unwrap()))
        .await;
    let html = String::from_utf8(body).unwrap();
    assert_eq!(status, 200);
    assert!(
        html.contains("Invoice expired") && !html.contains("id=\"pay\""),
        "{html}"
    );

    // Unknown invoices: an HTML 404 page.
    for bad in [
        "inv_0123456789abcdef0123456789abcdef",
        "whatever",
        "%3Cb%3E",
    ] {
        let (status, ct, _, body) = shop.raw(&format!("/i/{bad}")).await;
        assert_eq!(status, 404, "{bad}");
        assert_eq!(ct, "text/html; charset=utf-8");
        let html = String::from_utf8(body).unwrap();
        assert!(html.contains("Invoice not found") && !html.contains("<b>"));
    }
    shop.gw.stop().await;
}

/// Each checkout function through lambda_http's event parsing and its handler.
async fn checkout_lambda_events(engine: Engine) {
    let Some(shop) = Shop::open(engine, regtest_store()).await else {
        return;
    };
    let inv = shop
        .invoice(json!({"amount": "0.001", "currency": "BTC"}))
        .await;
    let id = inv["id"].as_str().unwrap().to_string();
    let script = store_script(inv["address_index"].as_u64().unwrap());
    let (fund, vout) = funding(&shop, 500_000).await;
    let tx = raw_tx(&[(&fund, vout, 500_000)], &[(&script, 100_000)]);
    let event = |function: &str| {
        let path = format!("{}/../events/{function}.json", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("__INVOICE_ID__", &id)
            .replace("__TX_HEX__", &tx);
        lambda_http::request::from_str(&text).expect("lambda_http parses the sample event")
    };
    let app = shop.gw.app();
    let run = |function: &'static str| {
        let e = event(function);
        async move {
            let resp = satsgate_functions::handle(app, function, e).await;
            let ct = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let text = match resp.body() {
                lambda_http::Body::Text(t) => t.clone(),
                other => panic!("{function}: expected a text body, got {other:?}"),
            };
            (resp.status().as_u16(), ct, text)
        }
    };
    let (s, ct, body) = run("qr").await;
    assert_eq!((s, ct.as_str()), (200, "image/svg+xml"));
    assert!(body.contains("<svg"));
    let (s, _, body) = run("payment-request-get").await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["payment_options"][0]["amount_sats"],
        100_000
    );
    let (s, _, body) = run("payment-request-create").await;
    assert_eq!(s, 200, "{body}");
    let (s, ct, body) = run("checkout-page").await;
    assert_eq!((s, ct.as_str()), (200, "text/html; charset=utf-8"));
    assert!(body.contains(inv["address"].as_str().unwrap()));
    let (s, _, body) = run("payment-request-pay").await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(shop.get(&id).await["status"], "pending");

    // PNG goes out as a binary body (API Gateway base64-encodes it).
    let text = std::fs::read_to_string(format!("{}/../events/qr.json", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .replace("format=svg", "format=png")
        .replace("\"format\": \"svg\"", "\"format\": \"png\"");
    let resp =
        satsgate_functions::handle(app, "qr", lambda_http::request::from_str(&text).unwrap()).await;
    match resp.body() {
        lambda_http::Body::Binary(b) => assert_eq!(&b[..4], b"\x89PNG"),
        other => panic!("expected binary PNG, got {other:?}"),
    }
    shop.gw.stop().await;
}
per_engine!(
    checkout_lambda_events,
    flavor = "multi_thread",
    worker_threads = 4
);
