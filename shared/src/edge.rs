//! The tower-http layers every HTTP answer goes through, in both runtimes
//! (satsgate-local's router and each Lambda's service): the one place the
//! edge policy is decided.

use http::header::{HeaderName, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use http::Method;
use std::time::Duration;
use tower_http::cors::{AllowMethods, AllowOrigin, CorsLayer};

/// Request headers a browser on another origin may send.
pub const CORS_ALLOW_HEADERS: [HeaderName; 4] = [
    AUTHORIZATION,
    CONTENT_TYPE,
    HeaderName::from_static("api-key"),
    HeaderName::from_static("idempotency-key"),
];

/// Response headers a browser on another origin may read.
pub const CORS_EXPOSE_HEADERS: [HeaderName; 5] = [
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("x-ratelimit-limit"),
    HeaderName::from_static("x-ratelimit-remaining"),
    HeaderName::from_static("x-ratelimit-reset"),
    RETRY_AFTER,
];

/// How long a browser may cache a preflight answer.
pub const CORS_MAX_AGE: Duration = Duration::from_secs(600);

/// CORS (API.md "Conventions"): any origin, no credentials; preflights are
/// answered here, before authentication, so they need no key.
pub fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods(AllowMethods::list(route_methods()))
        .allow_headers(CORS_ALLOW_HEADERS)
        .expose_headers(CORS_EXPOSE_HEADERS)
        .max_age(CORS_MAX_AGE)
}

/// Every method of the route table, once each.
fn route_methods() -> Vec<Method> {
    let mut methods: Vec<Method> = Vec::new();
    for r in crate::routes::ROUTES {
        let m = Method::from_bytes(r.method.as_bytes()).expect("route methods are valid");
        if !methods.contains(&m) {
            methods.push(m);
        }
    }
    methods
}
