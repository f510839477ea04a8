//! The dashboard's server side (shared/src/dashboard): the page and its
//! assets under a strict CSP, login into an HttpOnly SameSite=Strict cookie
//! (Secure over https), the same-origin v1 proxy with the cookie's session,
//! store-level calls through `X-Satsgate-Store` (sessions of the store's
//! account only), and logout ending the session on the server. The browser
//! side is tests/browser/dashboard.py.

use satsgate_e2e::{lambda_event, per_engine, table, Engine, Gateway, Reply, BIP84_VPUB};
use serde_json::json;

const PASSWORD: &str = "a long passphrase";

async fn user(gw: &Gateway, name: &str) {
    let r = gw
        .call(
            "POST",
            "/v1/users",
            Some(&gw.account_key),
            Some(json!({"username": name, "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

async fn login(gw: &Gateway, headers: &[(&str, &str)], password: &str) -> Reply {
    let body = json!({"username": "ann", "password": password}).to_string();
    gw.send(
        "POST",
        "/dashboard/login",
        None,
        Some(body.into_bytes()),
        headers,
    )
    .await
}

/// A request to a dashboard path (no API key: the cookie, if any, is the key).
async fn page(
    gw: &Gateway,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
    headers: &[(&str, &str)],
) -> Reply {
    gw.send(method, path, None, body, headers).await
}

/// The session token in a `Set-Cookie` answer.
fn token_of(r: &Reply) -> String {
    let c = r.header("set-cookie").expect("a cookie");
    c.split(';')
        .next()
        .unwrap()
        .trim_start_matches("sg_session=")
        .to_string()
}

async fn session_cookie_proxy_and_logout(engine: Engine) {
    let Some(gw) = Gateway::start(engine, satsgate::app::Config::default()).await else {
        return;
    };
    let origin = gw.running.url();
    let same = [("origin", origin.as_str())];
    user(&gw, "ann").await;

    // The page and its assets: no inline script or style allowed.
    let shell = page(&gw, "GET", "/dashboard", None, &[]).await;
    assert_eq!(shell.status, 200);
    let csp = shell.header("content-security-policy").unwrap().to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("style-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    let html = shell.body.as_str().unwrap();
    assert!(html.contains("src=\"/dashboard/app.js\"") && !html.contains("<script>"));
    let js = page(&gw, "GET", "/dashboard/app.js", None, &[]).await;
    assert_eq!(js.status, 200);
    assert!(js
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    assert!(!js.body.as_str().unwrap().contains("innerHTML"));
    let css = page(&gw, "GET", "/dashboard/app.css", None, &[]).await;
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    assert_eq!(page(&gw, "GET", "/dashboard/", None, &[]).await.status, 200);
    assert_eq!(
        page(&gw, "GET", "/dashboard/nope", None, &[]).await.status,
        404
    );
    assert_eq!(
        page(&gw, "POST", "/dashboard", None, &same).await.status,
        405
    );

    // Login: a wrong password, a missing or foreign Origin are refused.
    let r = login(&gw, &same, "not the passphrase").await;
    assert_eq!((r.status, r.code()), (401, "unauthenticated"));
    assert!(r.header("set-cookie").is_none());
    assert_eq!(login(&gw, &[], PASSWORD).await.status, 403);
    assert_eq!(
        login(&gw, &[("origin", "http://evil.example")], PASSWORD)
            .await
            .status,
        403
    );
    let r = login(&gw, &same, PASSWORD).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let cookie = r.header("set-cookie").unwrap().to_string();
    for part in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/dashboard",
        "Max-Age=43200",
    ] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    let token = token_of(&r);
    assert!(token.starts_with("sgt_"));
    assert!(
        !r.body.to_string().contains(&token),
        "the token is only in the cookie"
    );
    // Over https (a proxy that says so): Secure.
    let https = [("origin", origin.as_str()), ("x-forwarded-proto", "https")];
    let r = login(&gw, &https, PASSWORD).await;
    assert!(r.header("set-cookie").unwrap().contains("; Secure"));

    // The proxy: the cookie is the key.
    let c = format!("sg_session={token}");
    let jar = [("cookie", c.as_str())];
    let r = page(&gw, "GET", "/dashboard/api/v1/stores", None, &[]).await;
    assert_eq!(r.status, 401);
    let r = page(&gw, "GET", "/dashboard/api/v1/stores", None, &jar).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // The API's CORS (`*`, never with credentials) covers these paths too;
    // without `Allow-Credentials` no other origin can read a cookie-authenticated answer.
    assert!(r.header("access-control-allow-credentials").is_none());
    let (store_id, _) = gw
        .store(json!({"name": "Shop", "network": "regtest", "wallet": BIP84_VPUB}))
        .await;

    // Store-level routes: the session acts on a store of its account.
    let named = [
        ("cookie", c.as_str()),
        ("x-satsgate-store", store_id.as_str()),
    ];
    let r = page(&gw, "GET", "/dashboard/api/v1/invoices", None, &jar).await;
    assert_eq!(r.status, 403, "no store named: {:?}", r.body);
    let r = page(&gw, "GET", "/dashboard/api/v1/invoices", None, &named).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Creating an invoice: without Origin, from another origin, from its own.
    let create = |origin: &str| {
        let origin = origin.to_string();
        let body = json!({"amount": "0.001", "currency": "BTC"}).to_string();
        let (gw, named) = (&gw, &named);
        async move {
            let mut headers = named.to_vec();
            if !origin.is_empty() {
                headers.push(("origin", origin.as_str()));
            }
            page(
                gw,
                "POST",
                "/dashboard/api/v1/invoices",
                Some(body.into_bytes()),
                &headers,
            )
            .await
        }
    };
    let r = create("").await;
    assert_eq!(r.status, 403, "POST without Origin: {:?}", r.body);
    let r = create("http://evil.example").await;
    assert_eq!(r.status, 403, "cross-origin POST: {:?}", r.body);
    let r = create(&origin).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["store_id"], store_id.as_str());

    // Another account's store is not found; a plain account key cannot use
    // the header (only sessions can).
    let other = satsgate::account::create_account(&*gw.app().table, "Other", gw.app().now())
        .await
        .unwrap()
        .2;
    let r = gw
        .call(
            "POST",
            "/v1/stores",
            Some(&other),
            Some(json!({"name": "Theirs", "network": "regtest", "wallet": BIP84_VPUB})),
        )
        .await;
    let theirs = r.body["store"]["id"].as_str().unwrap().to_string();
    let r = page(
        &gw,
        "GET",
        "/dashboard/api/v1/invoices",
        None,
        &[
            ("cookie", c.as_str()),
            ("x-satsgate-store", theirs.as_str()),
        ],
    )
    .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    let r = gw
        .send(
            "GET",
            "/v1/invoices",
            Some(&gw.account_key),
            None,
            &[("x-satsgate-store", store_id.as_str())],
        )
        .await;
    assert_eq!(r.status, 403, "account key with the header: {:?}", r.body);

    // Logout: refused cross-origin; otherwise the session ends on the server.
    let r = page(
        &gw,
        "POST",
        "/dashboard/logout",
        None,
        &[("cookie", c.as_str()), ("origin", "http://evil.example")],
    )
    .await;
    assert_eq!(r.status, 403);
    let r = page(
        &gw,
        "POST",
        "/dashboard/logout",
        None,
        &[("cookie", c.as_str()), ("origin", origin.as_str())],
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    let r = page(&gw, "GET", "/dashboard/api/v1/stores", None, &jar).await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    let r = gw.call("GET", "/v1/stores", Some(&token), None).await;
    assert_eq!(r.status, 401, "the token itself is revoked");
    gw.stop().await;
}

per_engine!(session_cookie_proxy_and_logout);

/// The `dashboard` Lambda with its sample event (a login over https through
/// API Gateway): a Secure cookie; a path outside /dashboard is not served.
async fn dashboard_lambda_sample_event(engine: Engine) {
    let Some(t) = table(engine).await else {
        return;
    };
    let app = satsgate::app::App::new(
        t,
        std::sync::Arc::new(satsgate::clock::SystemClock),
        satsgate::app::Config::default(),
    );
    let (account, _, _) = satsgate::account::create_account(&*app.table, "Lambda", app.now())
        .await
        .unwrap();
    satsgate::users::create_user(
        &*app.table,
        &account.id,
        "ann@example.com",
        PASSWORD,
        app.now(),
    )
    .await
    .unwrap();
    let resp = satsgate_functions::handle_dashboard(&app, lambda_event("dashboard", &[])).await;
    assert_eq!(resp.status().as_u16(), 200);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("; Secure"),
        "{cookie}"
    );
    let mut other = lambda_event("dashboard", &[]);
    *other.uri_mut() = "/v1/stores".parse().unwrap();
    let resp = satsgate_functions::handle_dashboard(&app, other).await;
    assert_eq!(resp.status().as_u16(), 404);
}
per_engine!(dashboard_lambda_sample_event);
