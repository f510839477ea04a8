//! Seed 000's `POST /r`: payment requests to a merchant's own fixed
//! address, on both engines. The seed's documented example is sent
//! verbatim (Basic auth with the key as user name, as the seed documents);
//! the address backs one open request at a time; once a request is final
//! the address can back a new one, which never counts what the address had
//! before; the chain poller attributes sandbox payments to the request that
//! holds the address.

use base64::Engine as _;
use satsgate::app::{App, Config};
use satsgate::chain::SimChain;
use satsgate::clock::ManualClock;
use satsgate::network::Network;
use satsgate_e2e::{lambda_call, per_engine, table, Engine, Gateway, Reply, BIP84_ZPUB};
use serde_json::{json, Value};
use std::sync::Arc;

/// The request documented in seed 000, byte for byte.
const SEED_EXAMPLE: &str = r#"[{
"currency": "BTC",
"to": [{
"address": "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
"amount": 100.0,
"currency": "USD"
}]
}]"#;
const ADDRESS: &str = "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh";

/// A mainnet store whose network the sandbox chain serves, so the seed's
/// mainnet address can be paid and watched here.
struct Merchant {
    gw: Gateway,
    key: String,
    clock: ManualClock,
}

impl Merchant {
    async fn open(engine: Engine) -> Option<Merchant> {
        let t = table(engine).await?;
        let clock = ManualClock::new(time::OffsetDateTime::now_utc());
        let app = App::without_sandbox(
            t,
            Arc::new(clock.clone()),
            Config {
                allow_insecure_urls: true,
                ..Config::default()
            },
        )
        .with_sim(Arc::new(SimChain::in_memory(Network::Mainnet)));
        satsgate::prices::poller::poll_prices(&app).await.unwrap();
        let gw = Gateway::start_app(app).await;
        let (_, key) = gw
            .store(json!({"name": "Fixed", "network": "mainnet", "wallet": BIP84_ZPUB}))
            .await;
        Some(Merchant { gw, key, clock })
    }

    /// `POST /r` as the seed's clients send it: Basic base64(token:).
    async fn request(&self, body: &str) -> Reply {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:", self.key));
        self.gw
            .send(
                "POST",
                "/r",
                None,
                Some(body.as_bytes().to_vec()),
                &[("authorization", &format!("Basic {basic}"))],
            )
            .await
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.gw.call(method, path, Some(&self.key), body).await
    }

    async fn invoice(&self, id: &str) -> Value {
        let r = self.call("GET", &format!("/v1/invoices/{id}"), None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body
    }

    /// A sandbox payment to the address (the chain poller runs after it).
    async fn pay_address(&self, sats: u64) -> String {
        let r = self
            .call(
                "POST",
                "/v1/sandbox/payments",
                Some(json!({"address": ADDRESS, "amount_sats": sats})),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body["txid"].as_str().unwrap().to_string()
    }

    async fn mine(&self, count: u32) {
        let r = self
            .call("POST", "/v1/sandbox/blocks", Some(json!({"count": count})))
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }

    async fn poll(&self) {
        satsgate::invoice::poller::poll_chain(self.gw.app())
            .await
            .unwrap();
    }
}

/// A request body paying `amount` `currency` to the seed's address.
fn body(amount: &str, currency: &str) -> String {
    json!([{"currency": "BTC", "to": [{"address": ADDRESS, "amount": serde_json::from_str::<Value>(amount).unwrap(), "currency": currency}]}]).to_string()
}

/// A refusal in seed 000's error shape, with the v1 error next to it.
fn refused(r: &Reply, status: u16, words: &str) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.body["status"], "error", "{:?}", r.body);
    let message = r.body["message"].as_str().expect("a message");
    assert!(message.contains(words), "{message}");
    assert!(r.body["error"]["code"].is_string(), "{:?}", r.body);
}

async fn fixed_address_requests(engine: Engine) {
    let Some(m) = Merchant::open(engine).await else {
        return;
    };

    // The seed's example, verbatim: 100.0 USD to the merchant's address.
    let r = m.request(SEED_EXAMPLE).await;
    assert_eq!(r.status, 200, "{engine:?}: {:?}", r.body);
    let inv = &r.body["invoice"];
    let uid = inv["uid"].as_str().expect("uid is a string").to_string();
    assert!(uid.starts_with("inv_"), "{uid}");
    let uri = inv["uri"].as_str().expect("uri is a string");
    assert!(
        uri.starts_with("pay:?r=") && uri.ends_with(&format!("/r/{uid}")),
        "{uri}"
    );
    assert_eq!(inv["status"], "unpaid");
    assert_eq!(inv["currency"], "USD");
    assert!(inv["amount"].is_number(), "{inv}");
    assert_eq!(inv["amount"].as_f64(), Some(100.0));
    let options = inv["payment_options"]["payment_options"]
        .as_array()
        .expect("nested payment options");
    assert_eq!(options.len(), 1);
    assert_eq!(
        (&options[0]["chain"], &options[0]["currency"]),
        (&json!("BTC"), &json!("BTC"))
    );
    let out = &options[0]["instructions"][0]["outputs"][0];
    assert_eq!(out["address"], ADDRESS);
    assert!(out["amount"].is_number(), "{out}");
    // 100 USD at the sandbox's 65,000.00: 153,846.15... sats, rounded up.
    assert_eq!(out["amount"].to_string(), "0.00153847");
    // The same request at /r/{uid}, and as a v1 invoice of the store.
    let got = m.gw.call("GET", &format!("/r/{uid}"), None, None).await;
    assert_eq!(got.body["invoice"], r.body["invoice"]);
    let first = m.invoice(&uid).await;
    assert_eq!(
        (
            &first["address"],
            &first["amount"],
            &first["crypto_amount_sats"],
            &first["status"]
        ),
        (
            &json!(ADDRESS),
            &json!("100.0"),
            &json!(153847),
            &json!("new")
        )
    );

    // A second open request to the same address is refused.
    let second = m.request(&body("5", "USD")).await;
    refused(
        &second,
        409,
        &format!("already backs the open payment request {uid}"),
    );

    // The buyer pays the first one; the poller attributes it.
    m.pay_address(153_847).await;
    let paid = m.invoice(&uid).await;
    assert_eq!(
        (&paid["status"], &paid["amount_paid_sats"]),
        (&json!("pending"), &json!(153847))
    );
    // Paid but unconfirmed still holds the address.
    refused(&m.request(&body("5", "USD")).await, 409, "already backs");
    m.mine(1).await;
    m.poll().await;
    assert_eq!(m.invoice(&uid).await["status"], "completed");

    // Final: the address backs a new request, which does not count the old payment.
    let r = m.request(&body("0.001", "BTC")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let next = r.body["invoice"]["uid"].as_str().unwrap().to_string();
    assert_ne!(next, uid);
    m.poll().await;
    let fresh = m.invoice(&next).await;
    assert_eq!(
        (
            &fresh["status"],
            &fresh["amount_paid_sats"],
            &fresh["crypto_amount_sats"]
        ),
        (&json!("new"), &json!(0), &json!(100000))
    );
    // Its payment goes to it alone.
    m.pay_address(100_000).await;
    m.mine(1).await;
    m.poll().await;
    let done = m.invoice(&next).await;
    assert_eq!(
        (&done["status"], &done["amount_paid_sats"]),
        (&json!("completed"), &json!(100000))
    );
    let old = m.invoice(&uid).await;
    assert_eq!(
        (
            &old["amount_paid_sats"],
            old["payments"].as_array().unwrap().len()
        ),
        (&json!(153847), 1),
        "the released request takes no new output: {old}"
    );

    // A payment while no request holds the address predates the next one.
    m.pay_address(7_000).await;
    let r = m.request(&body("0.0005", "BTC")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let third = r.body["invoice"]["uid"].as_str().unwrap().to_string();
    m.poll().await;
    assert_eq!(m.invoice(&third).await["amount_paid_sats"], 0);

    // Cancelled is final too; so is expired (the poller lets the address go).
    let cancel = format!("/v1/invoices/{third}/cancel");
    let r = m.call("POST", &cancel, Some(json!({}))).await;
    assert_eq!(
        (r.status, &r.body["status"]),
        (200, &json!("cancelled")),
        "{:?}",
        r.body
    );
    let r = m.request(&body("0.0005", "BTC")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let fourth = r.body["invoice"]["uid"].as_str().unwrap().to_string();
    refused(&m.request(&body("0.0005", "BTC")).await, 409, &fourth);
    m.clock.advance(time::Duration::hours(2));
    m.poll().await;
    assert_eq!(m.invoice(&fourth).await["status"], "expired");
    let r = m.request(&body("0.0005", "BTC")).await;
    assert_eq!(r.status, 200, "after expiry: {:?}", r.body);

    // An address of the store's own wallet is never a fixed address.
    let btc = json!({"amount": "0.001", "currency": "BTC"});
    let v1 = m.call("POST", "/v1/invoices", Some(btc)).await;
    assert_eq!(v1.status, 201, "{:?}", v1.body);
    let wallet_address = v1.body["address"].as_str().unwrap();
    let own = json!([{"currency": "BTC", "to": [{"address": wallet_address, "amount": 0.001}]}]);
    refused(&m.request(&own.to_string()).await, 409, "store's wallet");

    m.gw.stop().await;
}
per_engine!(
    fixed_address_requests,
    flavor = "multi_thread",
    worker_threads = 4
);

async fn bad_requests_get_clear_errors(engine: Engine) {
    let Some(m) = Merchant::open(engine).await else {
        return;
    };
    let out = |address: &str, amount: Value, currency: &str| {
        json!([{"currency": "BTC", "to": [{"address": address, "amount": amount, "currency": currency}]}]).to_string()
    };
    for (body, field, words) in [
        (out("bc1qnotanaddress", json!(1), "USD"), "[0].to[0].address", "not a Bitcoin address"),
        (
            out("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", json!(1), "USD"),
            "[0].to[0].address",
            "testnet address, but this store is on mainnet",
        ),
        (out(ADDRESS, json!("1.001"), "USD"), "[0].to[0].amount", "at most 2 decimal places"),
        (out(ADDRESS, json!(0), "USD"), "[0].to[0].amount", "greater than 0"),
        (out(ADDRESS, json!("lots"), "USD"), "[0].to[0].amount", "not a decimal number"),
        (out(ADDRESS, json!("0.000001"), "BTC"), "[0].to[0].amount", "dust limit"),
        (out(ADDRESS, json!(1), "XYZ"), "[0].to[0].currency", "unsupported currency"),
        (
            json!([{"currency": "BCH", "to": [{"address": ADDRESS, "amount": 1, "currency": "USD"}]}]).to_string(),
            "[0].currency",
            "must be BTC",
        ),
        (
            json!([{"currency": "BTC", "to": [
                {"address": ADDRESS, "amount": 1, "currency": "USD"},
                {"address": ADDRESS, "amount": 2, "currency": "USD"},
            ]}])
            .to_string(),
            "[0].to",
            "exactly one output",
        ),
    ] {
        let r = m.request(&body).await;
        refused(&r, 400, field);
        let details = &r.body["error"]["details"][field];
        assert!(
            details.to_string().contains(words),
            "{engine:?} {field}: {:?}",
            r.body
        );
    }
    refused(
        &m.request("{\"to\": ").await,
        400,
        "array of payment templates",
    );
    // No key: the seed's error shape.
    let r = m.gw.call("POST", "/r", None, Some(json!([]))).await;
    refused(&r, 401, "");
    // Nothing was created by any of them.
    let r = m.call("GET", "/v1/invoices", None).await;
    assert_eq!(r.body["items"], json!([]), "{:?}", r.body);
    m.gw.stop().await;
}
per_engine!(
    bad_requests_get_clear_errors,
    flavor = "multi_thread",
    worker_threads = 4
);

async fn the_lambda_function_serves_its_sample_event(engine: Engine) {
    let Some(t) = table(engine).await else {
        return;
    };
    // A regtest store (the samples' vpub) on the sandbox chain.
    let app = App::new(t, Arc::new(satsgate::clock::SystemClock), Config::default());
    satsgate::prices::poller::poll_prices(&app).await.unwrap();
    let (_, _, account) = satsgate::account::create_account(&*app.table, "Lambda", app.now())
        .await
        .unwrap();
    let (s, b) = lambda_call(&app, "stores-create", &[("__ACCOUNT_KEY__", &account)]).await;
    assert_eq!(s, 201, "{b}");
    let key = b["api_key"]["key"].as_str().unwrap().to_string();
    let subs = [("__STORE_KEY__", key.as_str())];
    // The sample asks for the wallet's first address, not yet handed out.
    let (s, b) = lambda_call(&app, "anypay-request-create", &subs).await;
    assert_eq!(s, 200, "{engine:?}: {b}");
    assert_eq!(b["invoice"]["status"], "unpaid");
    assert_eq!(
        b["invoice"]["payment_options"]["payment_options"][0]["instructions"][0]["outputs"][0]
            ["address"],
        satsgate_e2e::BIP84_REGTEST_ADDRESSES[0]
    );
    // Again: the address backs that open request.
    let (s, b) = lambda_call(&app, "anypay-request-create", &subs).await;
    assert_eq!((s, &b["status"]), (409, &json!("error")), "{b}");
    // And the wallet skips it: the next invoice gets the second address.
    let (s, b) = lambda_call(&app, "invoices-create", &subs).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["address"], satsgate_e2e::BIP84_REGTEST_ADDRESSES[1]);
}
per_engine!(
    the_lambda_function_serves_its_sample_event,
    flavor = "multi_thread",
    worker_threads = 4
);
