//! Users and login (API.md "Users and login"), on both engines: users are
//! created with an account key, log in for a 12-hour session token with the
//! account's rights, log out, and failed logins are throttled.

use satsgate_e2e::{lambda_call, per_engine, table, Engine, Gateway, Reply};
use serde_json::{json, Value};

/// `POST /v1/auth/login` without a key.
async fn login(gw: &Gateway, username: &str, password: &str) -> Reply {
    gw.call(
        "POST",
        "/v1/auth/login",
        None,
        Some(json!({"username": username, "password": password})),
    )
    .await
}

async fn users_and_sessions(engine: Engine) {
    let Some(gw) = Gateway::start(engine, satsgate::app::Config::default()).await else {
        return;
    };
    let ak = gw.account_key.clone();
    let post = |path: &'static str, key: Option<String>, body: Value| {
        let gw = &gw;
        async move { gw.call("POST", path, key.as_deref(), Some(body)).await }
    };

    // Creating users: validation, uniqueness without case, account keys only.
    let r = post(
        "/v1/users",
        Some(ak.clone()),
        json!({"username": "ann@example.com", "password": "short"}),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "validation_error"),
        "{:?}",
        r.body
    );
    assert!(r.body["error"]["details"]["password"][0]
        .as_str()
        .unwrap()
        .contains("12"));
    let r = post(
        "/v1/users",
        Some(ak.clone()),
        json!({"username": "ann@example.com", "password": " a long passphrase "}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["username"], "ann@example.com");
    assert!(r.body.get("password_hash").is_none());
    let user_id = r.body["id"].as_str().unwrap().to_string();
    let r = post(
        "/v1/users",
        Some(ak.clone()),
        json!({"username": "ANN@example.com", "password": "another passphrase"}),
    )
    .await;
    assert_eq!((r.status, r.code()), (409, "conflict"), "{:?}", r.body);
    let (_, store_key) = gw
        .store(json!({"name": "S", "network": "regtest", "wallet": satsgate_e2e::BIP84_VPUB}))
        .await;
    let r = post(
        "/v1/users",
        Some(store_key),
        json!({"username": "bob", "password": "a long passphrase"}),
    )
    .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    let r = gw.call("GET", "/v1/users", Some(&ak), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert!(!r.body.to_string().contains("argon2"), "no hash is shown");

    // Wrong password and unknown user: the same 401.
    let wrong = login(&gw, "ann@example.com", "a long passphrase").await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (401, "unauthenticated"),
        "the password keeps its spaces"
    );
    let unknown = login(&gw, "nobody", " a long passphrase ").await;
    assert_eq!(unknown.status, 401);
    assert_eq!(
        wrong.body["error"]["message"],
        unknown.body["error"]["message"]
    );

    // The session token has the account's rights until logout.
    let r = login(&gw, "Ann@Example.com", " a long passphrase ").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let token = r.body["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("sgt_"));
    let expires = time::OffsetDateTime::parse(
        r.body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let hours = (expires - time::OffsetDateTime::now_utc()).whole_minutes() as f64 / 60.0;
    assert!((11.9..=12.0).contains(&hours), "{hours}");
    let r = gw.call("GET", "/v1/stores", Some(&token), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    // An API key is not a session: it cannot "log out".
    let r = post("/v1/auth/logout", Some(ak.clone()), json!({})).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = post("/v1/auth/logout", Some(token.clone()), json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = gw.call("GET", "/v1/stores", Some(&token), None).await;
    assert_eq!(r.status, 401, "logged out: {:?}", r.body);

    // Deleting the user ends its sessions.
    let r = login(&gw, "ann@example.com", " a long passphrase ").await;
    let token2 = r.body["token"].as_str().unwrap().to_string();
    let r = gw
        .call("DELETE", &format!("/v1/users/{user_id}"), Some(&ak), None)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        gw.call("GET", "/v1/stores", Some(&token2), None)
            .await
            .status,
        401
    );
    let r = gw
        .call("DELETE", &format!("/v1/users/{user_id}"), Some(&ak), None)
        .await;
    assert_eq!(r.status, 404);
    gw.stop().await;
}

per_engine!(
    users_and_sessions,
    flavor = "multi_thread",
    worker_threads = 4
);

async fn failed_logins_are_throttled(engine: Engine) {
    let Some(gw) = Gateway::start(engine, satsgate::app::Config::default()).await else {
        return;
    };
    let r = gw
        .call(
            "POST",
            "/v1/users",
            Some(&gw.account_key),
            Some(json!({"username": "carol", "password": "a long passphrase"})),
        )
        .await;
    assert_eq!(r.status, 201);
    for _ in 0..satsgate::users::MAX_FAILURES_PER_USER {
        let r = login(&gw, "carol", "not the one!!").await;
        assert_eq!(r.status, 401);
    }
    // Over the limit even the right password is refused, with Retry-After.
    let r = login(&gw, "carol", "a long passphrase").await;
    assert_eq!((r.status, r.code()), (429, "rate_limited"), "{:?}", r.body);
    let retry: i64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=satsgate::users::LOGIN_WINDOW_SECS).contains(&retry));
    gw.stop().await;
}

per_engine!(
    failed_logins_are_throttled,
    flavor = "multi_thread",
    worker_threads = 4
);

/// The five functions through lambda_http's event parsing, in order.
async fn user_functions_run_from_their_sample_events(engine: Engine) {
    let Some(t) = table(engine).await else {
        return;
    };
    let app = satsgate::App::new(
        t,
        std::sync::Arc::new(satsgate::clock::SystemClock),
        Default::default(),
    );
    let (_, _, key) = satsgate::account::create_account(&*app.table, "L", app.now())
        .await
        .unwrap();
    let (s, b) = lambda_call(&app, "users-create", &[("__ACCOUNT_KEY__", &key)]).await;
    assert_eq!(s, 201, "{b}");
    let user_id = b["id"].as_str().unwrap().to_string();
    let (s, b) = lambda_call(&app, "users-list", &[("__ACCOUNT_KEY__", &key)]).await;
    assert_eq!(
        (s, b["items"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{b}"
    );
    let (s, b) = lambda_call(&app, "auth-login", &[]).await;
    assert_eq!(s, 200, "{b}");
    let token = b["token"].as_str().unwrap().to_string();
    let (s, b) = lambda_call(&app, "auth-logout", &[("__SESSION_TOKEN__", &token)]).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = lambda_call(
        &app,
        "users-delete",
        &[("__ACCOUNT_KEY__", &key), ("__USER_ID__", &user_id)],
    )
    .await;
    assert_eq!(s, 200, "{b}");
}
per_engine!(user_functions_run_from_their_sample_events);
