//! Stores, keys, auth and request plumbing over real HTTP, on both engines.

use satsgate::app::Config;
use satsgate_e2e::{per_engine, Engine, Gateway, BIP84_TPUB, BIP84_VPUB, BIP84_ZPUB};
use serde_json::json;

fn config() -> Config {
    Config {
        allow_insecure_urls: true,
        ..Config::default()
    }
}

/// Run `f` on a gateway of `engine` (none: DynamoDB without moto_server), then stop it.
async fn with_gateway<F, Fut>(engine: Engine, f: F)
where
    F: FnOnce(Gateway) -> Fut,
    Fut: std::future::Future<Output = Gateway>,
{
    let Some(gw) = Gateway::start(engine, config()).await else {
        return;
    };
    f(gw).await.stop().await;
}

async fn create_store(gw: &Gateway, body: serde_json::Value) -> (String, String) {
    let r = gw
        .call("POST", "/v1/stores", Some(&gw.account_key), Some(body))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    (
        r.body["store"]["id"].as_str().unwrap().to_string(),
        r.body["api_key"]["key"].as_str().unwrap().to_string(),
    )
}

async fn store_lifecycle_and_wallet_validation(engine: Engine) {
    with_gateway(engine, |gw| async move {
        // The BIP84 test zpub on mainnet is accepted, a store key comes back once.
        let r = gw
            .call("POST", "/v1/stores", Some(&gw.account_key), Some(json!({"name": "Shop", "network": "mainnet", "wallet": BIP84_ZPUB})))
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let store = &r.body["store"];
        assert!(store["id"].as_str().unwrap().starts_with("store_"));
        assert_eq!(store["network"], "mainnet");
        assert_eq!(store["wallet_type"], "p2wpkh");
        assert_eq!(store["speed_policy"], "one_conf");
        assert!(store["wallet"].as_str().unwrap().starts_with("wpkh("));
        let store_key = r.body["api_key"]["key"].as_str().unwrap().to_string();
        assert!(store_key.len() >= 43);
        let id = store["id"].as_str().unwrap().to_string();

        // A tpub on mainnet: validation_error naming `wallet`.
        let r = gw
            .call("POST", "/v1/stores", Some(&gw.account_key), Some(json!({"name": "Shop", "network": "mainnet", "wallet": BIP84_TPUB})))
            .await;
        assert_eq!(r.status, 400);
        assert_eq!(r.code(), "validation_error");
        assert!(r.body["error"]["details"]["wallet"][0].as_str().unwrap().contains("mainnet"), "{:?}", r.body);

        // Private keys and hardened steps are refused with a clear word.
        let xprv = "xprv9s21ZrQH143K3GJpoapnV8SFfukcVBSfeCficPSGfubmSFDxo1kuHnLisriDvSnRRuL2Qrg5ggqHKNVpxR86QEC8w35uxmGoggxtQTPvfUu";
        let r = gw.call("POST", "/v1/stores", Some(&gw.account_key), Some(json!({"name": "S", "network": "mainnet", "wallet": xprv}))).await;
        assert_eq!(r.status, 400);
        assert!(r.body["error"]["details"]["wallet"][0].as_str().unwrap().contains("private"));

        // Store key reads its own store; account key lists and patches.
        let r = gw.call("GET", &format!("/v1/stores/{id}"), Some(&store_key), None).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["name"], "Shop");
        let r = gw.call("GET", "/v1/stores", Some(&gw.account_key), None).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
        assert!(r.body["next_cursor"].is_null());
        let r = gw
            .call("PATCH", &format!("/v1/stores/{id}"), Some(&gw.account_key), Some(json!({"name": "Shop 2", "speed_policy": "six_conf", "payment_tolerance_percent": "1.5"})))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["name"], "Shop 2");
        assert_eq!(r.body["speed_policy"], "six_conf");
        assert_eq!(r.body["payment_tolerance_percent"], "1.5");
        assert_eq!(r.body["network"], "mainnet");
        let r = gw.call("PATCH", &format!("/v1/stores/{id}"), Some(&gw.account_key), Some(json!({"network": "regtest"}))).await;
        assert_eq!(r.status, 400);
        assert!(r.body["error"]["details"]["network"].is_array());
        // A store key may not manage stores.
        let r = gw.call("PATCH", &format!("/v1/stores/{id}"), Some(&store_key), Some(json!({"name": "x"}))).await;
        assert_eq!(r.status, 403);
        assert_eq!(r.code(), "forbidden");
        let r = gw.call("POST", "/v1/stores", Some(&store_key), Some(json!({"name": "x", "network": "regtest", "wallet": BIP84_VPUB}))).await;
        assert_eq!(r.status, 403);
        gw
    })
    .await;
}
per_engine!(store_lifecycle_and_wallet_validation);

async fn stores_are_isolated(engine: Engine) {
    with_gateway(engine, |gw| async move {
        let (a, key_a) = create_store(
            &gw,
            json!({"name": "A", "network": "regtest", "wallet": BIP84_VPUB}),
        )
        .await;
        let (b, key_b) = create_store(
            &gw,
            json!({"name": "B", "network": "regtest", "wallet": BIP84_VPUB}),
        )
        .await;
        let r = gw
            .call("GET", &format!("/v1/stores/{b}"), Some(&key_a), None)
            .await;
        assert_eq!(r.status, 404, "store A's key must not see store B");
        assert_eq!(r.code(), "not_found");
        let r = gw
            .call("GET", &format!("/v1/stores/{a}"), Some(&key_b), None)
            .await;
        assert_eq!(r.status, 404);
        let r = gw.call("GET", "/v1/stores", Some(&key_a), None).await;
        let ids: Vec<&str> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![a.as_str()], "a store key lists only its store");
        // Another account's key sees neither.
        let (_, _, other) = satsgate::account::create_account(
            &*gw.running.app.table,
            "Other",
            gw.running.app.now(),
        )
        .await
        .unwrap();
        let r = gw
            .call("GET", &format!("/v1/stores/{a}"), Some(&other), None)
            .await;
        assert_eq!(r.status, 404);
        let r = gw
            .call(
                "POST",
                &format!("/v1/stores/{a}/api-keys"),
                Some(&other),
                Some(json!({})),
            )
            .await;
        assert_eq!(r.status, 404);
        let r = gw.call("GET", "/v1/stores", Some(&other), None).await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
        gw
    })
    .await;
}
per_engine!(stores_are_isolated);

async fn api_keys_create_list_delete_and_allowlists(engine: Engine) {
    with_gateway(engine, |gw| async move {
        let (id, _) = create_store(&gw, json!({"name": "K", "network": "regtest", "wallet": BIP84_VPUB})).await;
        let path = format!("/v1/stores/{id}/api-keys");
        let r = gw.call("POST", &path, Some(&gw.account_key), Some(json!({"label": "pos", "allowed_ips": ["127.0.0.1", "::1/128"]}))).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let local_key = r.body["key"].as_str().unwrap().to_string();
        let local_id = r.body["id"].as_str().unwrap().to_string();
        let r = gw.call("POST", &path, Some(&gw.account_key), Some(json!({"allowed_ips": ["10.0.0.0/8", "2001:db8::/32"]}))).await;
        assert_eq!(r.status, 201);
        let far_key = r.body["key"].as_str().unwrap().to_string();
        let r = gw.call("POST", &path, Some(&gw.account_key), Some(json!({"allowed_ips": ["10.0.0.0/33"]}))).await;
        assert_eq!(r.status, 400);
        assert!(r.body["error"]["details"]["allowed_ips"].is_array());

        let r = gw.call("GET", &format!("/v1/stores/{id}"), Some(&local_key), None).await;
        assert_eq!(r.status, 200, "127.0.0.1 is on the list");
        let r = gw.call("GET", &format!("/v1/stores/{id}"), Some(&far_key), None).await;
        assert_eq!(r.status, 403, "127.0.0.1 is not in 10.0.0.0/8");
        assert_eq!(r.code(), "forbidden");

        let r = gw.call("GET", &path, Some(&gw.account_key), None).await;
        assert_eq!(r.status, 200);
        let items = r.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 3, "default + two");
        assert!(items.iter().all(|k| k.get("key").is_none() && k.get("hash").is_none()), "no secrets in listings");

        let r = gw.call("DELETE", &format!("{path}/{local_id}"), Some(&gw.account_key), None).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["deleted"], true);
        let r = gw.call("GET", &format!("/v1/stores/{id}"), Some(&local_key), None).await;
        assert_eq!(r.status, 401, "a deleted key stops working");
        let r = gw.call("DELETE", &format!("{path}/{local_id}"), Some(&gw.account_key), None).await;
        assert_eq!(r.status, 404);

        // A store-wide allowlist applies to every key of the store.
        let (id2, key2) = create_store(&gw, json!({"name": "L", "network": "regtest", "wallet": BIP84_VPUB, "api_allowed_ips": ["192.0.2.0/24"]})).await;
        let r = gw.call("GET", &format!("/v1/stores/{id2}"), Some(&key2), None).await;
        assert_eq!(r.status, 403);
        gw
    })
    .await;
}
per_engine!(api_keys_create_list_delete_and_allowlists);

#[tokio::test]
async fn auth_headers_in_every_accepted_form_and_bad_ones() {
    let gw = Gateway::start(Engine::Embedded, config()).await.unwrap();
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{}:", gw.account_key),
    );
    for (name, value) in [
        ("authorization", format!("Bearer {}", gw.account_key)),
        ("authorization", format!("Basic {basic}")),
        ("api-key", gw.account_key.clone()),
    ] {
        let r = gw
            .send("GET", "/v1/stores", None, None, &[(name, &value)])
            .await;
        assert_eq!(r.status, 200, "{name}: {value}");
        assert!(r.header("x-ratelimit-limit").is_some());
        assert!(r.header("x-ratelimit-remaining").is_some());
        assert!(r.header("x-ratelimit-reset").is_some());
    }
    for (name, value) in [
        ("authorization", "Bearer"),
        ("authorization", "Token abc"),
        ("authorization", "Basic %%%"),
        ("api-key", " "),
        ("authorization", "Bearer sga_wrong"),
    ] {
        let r = gw
            .send("GET", "/v1/stores", None, None, &[(name, value)])
            .await;
        assert_eq!(r.status, 401, "{name}: {value} -> {:?}", r.body);
        assert_eq!(r.code(), "unauthenticated");
        assert!(!r.body["error"]["message"].as_str().unwrap().is_empty());
    }
    let r = gw.call("GET", "/v1/stores", None, None).await;
    assert_eq!(r.status, 401);
    let r = gw.call("GET", "/v1/health", None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ok");
    assert!(r.header("x-request-id").unwrap().starts_with("req_"));
    gw.stop().await;
}

#[tokio::test]
async fn bad_input_gets_clear_errors_never_500() {
    let gw = Gateway::start(Engine::Embedded, config()).await.unwrap();
    let k = gw.account_key.clone();
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"{\"name\": ".to_vec(), 400, "malformed JSON"),
        (b"[1,2]".to_vec(), 400, "JSON object"),
        (b"\"str\"".to_vec(), 400, "JSON object"),
        (json!({"name": 5, "network": "mainnet", "wallet": BIP84_ZPUB}).to_string().into_bytes(), 400, "name"),
        (json!({"name": "x", "network": "moon", "wallet": BIP84_ZPUB}).to_string().into_bytes(), 400, "network"),
        (json!({"name": "x", "network": "mainnet", "wallet": BIP84_ZPUB, "expiration_minutes": "soon"}).to_string().into_bytes(), 400, "expiration_minutes"),
        (json!({"name": "x", "network": "mainnet", "wallet": BIP84_ZPUB, "walet": 1}).to_string().into_bytes(), 400, "walet"),
        (json!({"network": "mainnet"}).to_string().into_bytes(), 400, "wallet"),
        (vec![b' '; 70 * 1024], 413, "64 KiB"),
        (b"\xff\xfe".to_vec(), 400, "malformed JSON"),
    ];
    for (body, status, mention) in cases {
        let r = gw
            .send("POST", "/v1/stores", Some(&k), Some(body.clone()), &[])
            .await;
        assert_eq!(
            r.status,
            status,
            "{:?} -> {:?}",
            String::from_utf8_lossy(&body[..body.len().min(80)]),
            r.body
        );
        assert_eq!(r.code(), "validation_error");
        let text = r.body.to_string();
        assert!(text.contains(mention), "error mentions {mention}: {text}");
    }
    let r = gw.call("GET", "/v1/nope", Some(&k), None).await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    let r = gw.call("DELETE", "/v1/health", None, None).await;
    assert_eq!(r.status, 405);
    assert!(r.header("allow").unwrap().contains("GET"));
    let r = gw.call("GET", "/v1/stores?limit=0", Some(&k), None).await;
    assert_eq!(r.status, 400);
    assert!(r.body["error"]["details"]["limit"].is_array());
    let r = gw
        .call("GET", "/v1/stores?cursor=garbage", Some(&k), None)
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body["error"]["details"]["cursor"].is_array());
    gw.stop().await;
}

async fn idempotency_keys_replay_and_conflict(engine: Engine) {
    with_gateway(engine, |gw| async move {
        let body = json!({"name": "Idem", "network": "regtest", "wallet": BIP84_VPUB})
            .to_string()
            .into_bytes();
        let h = [("idempotency-key", "order-42")];
        let first = gw
            .send(
                "POST",
                "/v1/stores",
                Some(&gw.account_key),
                Some(body.clone()),
                &h,
            )
            .await;
        assert_eq!(first.status, 201);
        let again = gw
            .send(
                "POST",
                "/v1/stores",
                Some(&gw.account_key),
                Some(body.clone()),
                &h,
            )
            .await;
        assert_eq!(again.status, 201);
        assert_eq!(
            again.body, first.body,
            "same key + same body replays the first response"
        );
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        let list = gw
            .call("GET", "/v1/stores", Some(&gw.account_key), None)
            .await;
        assert_eq!(
            list.body["items"].as_array().unwrap().len(),
            1,
            "the replay created nothing"
        );
        let other = json!({"name": "Other", "network": "regtest", "wallet": BIP84_VPUB})
            .to_string()
            .into_bytes();
        let r = gw
            .send("POST", "/v1/stores", Some(&gw.account_key), Some(other), &h)
            .await;
        assert_eq!(r.status, 409);
        assert_eq!(r.code(), "idempotency_conflict");
        // Validation errors are remembered too (same request, same answer).
        let bad = b"{\"name\": 1}".to_vec();
        let h2 = [("idempotency-key", "bad-1")];
        let r1 = gw
            .send(
                "POST",
                "/v1/stores",
                Some(&gw.account_key),
                Some(bad.clone()),
                &h2,
            )
            .await;
        let r2 = gw
            .send("POST", "/v1/stores", Some(&gw.account_key), Some(bad), &h2)
            .await;
        assert_eq!((r1.status, r2.status), (400, 400));
        assert_eq!(r1.body, r2.body);
        gw
    })
    .await;
}
per_engine!(idempotency_keys_replay_and_conflict);

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let gw = Gateway::start(
        Engine::Embedded,
        Config {
            rate_limit_per_minute: 3,
            ..config()
        },
    )
    .await
    .unwrap();
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let r = gw
            .call("GET", "/v1/stores", Some(&gw.account_key), None)
            .await;
        statuses.push(r.status);
        last = Some(r);
    }
    // A minute boundary may fall inside the loop; at least one 429 must appear.
    assert!(statuses.contains(&429), "{statuses:?}");
    let last = last.unwrap();
    if last.status == 429 {
        assert_eq!(last.code(), "rate_limited");
        assert!(last.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
        assert_eq!(last.header("x-ratelimit-remaining"), Some("0"));
    }
    gw.stop().await;
}

async fn test_stores_are_marked_and_their_keys_carry_the_test_marker(engine: Engine) {
    with_gateway(engine, |gw| async move {
        // A mainnet store is live: its keys have no test marker.
        let (live, live_key) = create_store(
            &gw,
            json!({"name": "Live", "network": "mainnet", "wallet": BIP84_ZPUB}),
        )
        .await;
        assert!(
            live_key.starts_with("sgs_") && !live_key.starts_with("sgs_test_"),
            "{live_key}"
        );
        // A regtest (sandbox) store is a test store: `sgs_test_` keys.
        let (test, test_key) = create_store(
            &gw,
            json!({"name": "Sandbox", "network": "regtest", "wallet": BIP84_VPUB}),
        )
        .await;
        assert!(test_key.starts_with("sgs_test_"), "{test_key}");
        // So is every further key of it; listings show the marker in the hint.
        let r = gw
            .call(
                "POST",
                &format!("/v1/stores/{test}/api-keys"),
                Some(&gw.account_key),
                Some(json!({"label": "ci"})),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        assert!(
            r.body["key"].as_str().unwrap().starts_with("sgs_test_"),
            "{:?}",
            r.body
        );
        let r = gw
            .call(
                "GET",
                &format!("/v1/stores/{test}/api-keys"),
                Some(&gw.account_key),
                None,
            )
            .await;
        let hints: Vec<&str> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["hint"].as_str().unwrap())
            .collect();
        assert!(
            hints.len() == 2 && hints.iter().all(|h| h.starts_with("sgs_test_")),
            "{hints:?}"
        );
        // The store resources say which is which.
        let r = gw
            .call("GET", &format!("/v1/stores/{live}"), Some(&live_key), None)
            .await;
        assert_eq!(r.body["livemode"], true, "{:?}", r.body);
        let r = gw
            .call("GET", &format!("/v1/stores/{test}"), Some(&test_key), None)
            .await;
        assert_eq!(r.body["livemode"], false, "{:?}", r.body);
        // Test and live data never mix: a test key cannot see the live store.
        let r = gw
            .call("GET", &format!("/v1/stores/{live}"), Some(&test_key), None)
            .await;
        assert_eq!(r.status, 404, "{:?}", r.body);
        gw
    })
    .await;
}
per_engine!(test_stores_are_marked_and_their_keys_carry_the_test_marker);
