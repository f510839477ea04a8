//! The one route table: method, path, Lambda function name, auth, handler.
//! The local gateway serves it, each Lambda binary serves one row, and a
//! test checks that template.yaml declares exactly these routes.

use crate::handler;
use crate::handlers::ctx::HandlerFn;
use crate::handlers::{health, invoices, sandbox, stores};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No key needed (a key sent anyway is ignored).
    Public,
    /// An account key.
    Account,
    /// A store key.
    Store,
    /// Either kind; the handler decides what the caller sees.
    Any,
}

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    /// Lambda function (binary) name.
    pub function: &'static str,
    pub auth: Auth,
    pub handler: HandlerFn,
}

macro_rules! routes {
    ($($row:ident: $method:literal $path:literal => $function:literal, $auth:ident, $handler:path;)*) => {
        /// Each row as a constant: a Lambda binary names its row here, so it
        /// links that row's handler and no other (`ROUTES` links them all).
        pub mod row {
            use super::*;
            $(
                #[doc = concat!("`", $method, " ", $path, "` (function `", $function, "`).")]
                pub const $row: Route = Route { method: $method, path: $path, function: $function, auth: Auth::$auth, handler: handler!($handler) };
            )*
        }
        pub static ROUTES: &[Route] = &[$(row::$row,)*];
        /// Each row constant's name with its function, for the test that
        /// checks every binary against its row.
        pub static ROW_NAMES: &[(&str, &str)] = &[$((stringify!($row), $function),)*];
    };
}

routes! {
    HEALTH: "GET" "/v1/health" => "health", Public, health::health;
    STORES_CREATE: "POST" "/v1/stores" => "stores-create", Account, stores::create;
    STORES_LIST: "GET" "/v1/stores" => "stores-list", Any, stores::list;
    STORES_GET: "GET" "/v1/stores/{id}" => "stores-get", Any, stores::get;
    STORES_UPDATE: "PATCH" "/v1/stores/{id}" => "stores-update", Account, stores::update;
    API_KEYS_CREATE: "POST" "/v1/stores/{id}/api-keys" => "api-keys-create", Account, stores::create_key;
    API_KEYS_LIST: "GET" "/v1/stores/{id}/api-keys" => "api-keys-list", Account, stores::list_keys;
    API_KEYS_DELETE: "DELETE" "/v1/stores/{id}/api-keys/{key_id}" => "api-keys-delete", Account, stores::delete_key;
    QR: "GET" "/v1/qr" => "qr", Public, crate::handlers::checkout::qr;
    PAYMENT_REQUEST_GET: "GET" "/r/{id}" => "payment-request-get", Public, crate::handlers::checkout::get_request;
    PAYMENT_REQUEST_CREATE: "POST" "/r/{id}" => "payment-request-create", Public, crate::handlers::checkout::payment_request;
    PAYMENT_REQUEST_PAY: "POST" "/r/{id}/pay" => "payment-request-pay", Public, crate::handlers::checkout::pay;
    CHECKOUT_PAGE: "GET" "/i/{id}" => "checkout-page", Public, crate::handlers::checkout::checkout_page;
    INVOICES_CREATE: "POST" "/v1/invoices" => "invoices-create", Store, invoices::create;
    INVOICES_LIST: "GET" "/v1/invoices" => "invoices-list", Store, invoices::list;
    INVOICES_GET: "GET" "/v1/invoices/{id}" => "invoices-get", Store, invoices::get;
    INVOICES_IMPORT: "POST" "/v1/invoices/archived" => "invoices-import", Store, invoices::import;
    INVOICES_MARK: "POST" "/v1/invoices/{id}/status" => "invoices-mark", Store, invoices::mark;
    INVOICES_CANCEL: "POST" "/v1/invoices/{id}/cancel" => "invoices-cancel", Store, invoices::cancel;
    INVOICES_ACCEPT_UNDERPAYMENT: "POST" "/v1/invoices/{id}/accept-underpayment" => "invoices-accept-underpayment", Store, invoices::accept_underpayment;
    REFUNDS_CREATE: "POST" "/v1/invoices/{id}/refunds" => "refunds-create", Store, invoices::create_refund;
    REFUNDS_LIST: "GET" "/v1/invoices/{id}/refunds" => "refunds-list", Store, invoices::list_refunds;
    PAYMENTS_LIST: "GET" "/v1/payments" => "payments-list", Store, invoices::list_payments;
    PAYMENTS_GET: "GET" "/v1/payments/{id}" => "payments-get", Store, invoices::get_payment;
    SUMMARY: "GET" "/v1/summary" => "summary", Store, invoices::summary;
    EVENTS_LIST: "GET" "/v1/events" => "events-list", Store, invoices::list_events;
    SANDBOX_PAYMENTS: "POST" "/v1/sandbox/payments" => "sandbox-payments", Store, sandbox::pay;
    SANDBOX_BLOCKS: "POST" "/v1/sandbox/blocks" => "sandbox-blocks", Store, sandbox::mine;
    SANDBOX_REORG: "POST" "/v1/sandbox/reorg" => "sandbox-reorg", Store, sandbox::reorg;
    SANDBOX_DOUBLE_SPEND: "POST" "/v1/sandbox/double-spend" => "sandbox-double-spend", Store, sandbox::double_spend;
    SANDBOX_SIMULATE_WEBHOOK: "POST" "/v1/sandbox/simulate-webhook" => "sandbox-simulate-webhook", Store, sandbox::simulate_webhook;
    CURRENCIES_LIST: "GET" "/v1/currencies" => "currencies-list", Public, crate::handlers::prices::currencies;
    PRICES_LIST: "GET" "/v1/prices" => "prices-list", Public, crate::handlers::prices::list;
    RATES_LIST: "GET" "/v1/rates" => "rates-list", Public, crate::handlers::prices::rates;
    CONVERT: "GET" "/v1/convert" => "convert", Public, crate::handlers::prices::convert;
    QUOTES_CREATE: "POST" "/v1/quotes" => "quotes-create", Store, crate::handlers::prices::create_quote;
    WEBHOOK_ENDPOINTS_CREATE: "POST" "/v1/webhook-endpoints" => "webhook-endpoints-create", Store, crate::handlers::webhooks::create;
    WEBHOOK_ENDPOINTS_LIST: "GET" "/v1/webhook-endpoints" => "webhook-endpoints-list", Store, crate::handlers::webhooks::list;
    WEBHOOK_ENDPOINTS_GET: "GET" "/v1/webhook-endpoints/{id}" => "webhook-endpoints-get", Store, crate::handlers::webhooks::get;
    WEBHOOK_ENDPOINTS_UPDATE: "PATCH" "/v1/webhook-endpoints/{id}" => "webhook-endpoints-update", Store, crate::handlers::webhooks::update;
    WEBHOOK_ENDPOINTS_DELETE: "DELETE" "/v1/webhook-endpoints/{id}" => "webhook-endpoints-delete", Store, crate::handlers::webhooks::delete;
    WEBHOOK_ENDPOINTS_ROTATE_SECRET: "POST" "/v1/webhook-endpoints/{id}/rotate-secret" => "webhook-endpoints-rotate-secret", Store, crate::handlers::webhooks::rotate_secret;
    WEBHOOK_ENDPOINTS_TEST: "POST" "/v1/webhook-endpoints/{id}/test" => "webhook-endpoints-test", Store, crate::handlers::webhooks::test;
    WEBHOOK_DELIVERIES_LIST: "GET" "/v1/webhook-endpoints/{id}/deliveries" => "webhook-deliveries-list", Store, crate::handlers::webhooks::list_deliveries;
    WEBHOOK_DELIVERIES_GET: "GET" "/v1/webhook-deliveries/{id}" => "webhook-deliveries-get", Store, crate::handlers::webhooks::get_delivery;
    WEBHOOK_DELIVERIES_REDELIVER: "POST" "/v1/webhook-deliveries/{id}/redeliver" => "webhook-deliveries-redeliver", Store, crate::handlers::webhooks::redeliver;
    USERS_CREATE: "POST" "/v1/users" => "users-create", Account, crate::handlers::users::create;
    USERS_LIST: "GET" "/v1/users" => "users-list", Account, crate::handlers::users::list;
    USERS_DELETE: "DELETE" "/v1/users/{id}" => "users-delete", Account, crate::handlers::users::delete;
    AUTH_LOGIN: "POST" "/v1/auth/login" => "auth-login", Public, crate::handlers::users::login;
    AUTH_LOGOUT: "POST" "/v1/auth/logout" => "auth-logout", Account, crate::handlers::users::logout;
    ANYPAY_PRICES: "GET" "/prices" => "anypay-prices", Public, crate::handlers::prices::anypay_prices;
    ANYPAY_REQUEST_CREATE: "POST" "/r" => "anypay-request-create", Store, crate::faces::anypay::create_request;
    OPENAPI: "GET" "/v1/openapi.json" => "openapi", Public, crate::handlers::openapi::get;
    PANEL_STORES_LIST: "GET" "/api/v1/stores" => "panel-stores-list", Any, crate::faces::panel::stores;
    PANEL_INVOICES_CREATE: "POST" "/api/v1/stores/{store_id}/invoices" => "panel-invoices-create", Any, crate::faces::panel::create_invoice;
    PANEL_INVOICES_GET: "GET" "/api/v1/invoices/{id}" => "panel-invoices-get", Any, crate::faces::panel::get_invoice;
    PANEL_SUMMARY: "GET" "/api/v1/balance-or-summary" => "panel-summary", Any, crate::faces::panel::summary;
    PANEL_WEBHOOK_TEST: "POST" "/api/v1/stores/{store_id}/webhook-test" => "panel-webhook-test", Any, crate::faces::panel::webhook_test;
    CRYPTOPAY_LOGIN: "POST" "/api/auth/login" => "cryptopay-login", Public, crate::faces::cryptopay::login;
    CRYPTOPAY_ORDERS_CREATE: "POST" "/api/payment-orders" => "cryptopay-orders-create", Any, crate::faces::cryptopay::create_order;
    CRYPTOPAY_ORDERS_LIST: "GET" "/api/payment-orders" => "cryptopay-orders-list", Any, crate::faces::cryptopay::list_orders;
    CRYPTOPAY_ORDERS_GET: "GET" "/api/payment-orders/{id}" => "cryptopay-orders-get", Any, crate::faces::cryptopay::get_order;
    CRYPTOPAY_TRANSACTIONS_LIST: "GET" "/api/transactions" => "cryptopay-transactions-list", Any, crate::faces::cryptopay::list_transactions;
    CRYPTOPAY_TRANSACTIONS_GET: "GET" "/api/transactions/{hash}" => "cryptopay-transactions-get", Any, crate::faces::cryptopay::get_transaction;
    CRYPTOPAY_WALLETS_LIST: "GET" "/api/merchant-wallets" => "cryptopay-wallets-list", Any, crate::faces::cryptopay::list_wallets;
    CRYPTOPAY_WALLETS_CREATE: "POST" "/api/merchant-wallets" => "cryptopay-wallets-create", Account, crate::faces::cryptopay::create_wallet;
    CRYPTOPAY_WALLETS_UPDATE: "PUT" "/api/merchant-wallets/{id}" => "cryptopay-wallets-update", Account, crate::faces::cryptopay::update_wallet;
    CRYPTOPAY_WEBHOOKS_LIST: "GET" "/api/webhook-endpoints" => "cryptopay-webhooks-list", Any, crate::faces::cryptopay::list_webhooks;
    CRYPTOPAY_WEBHOOKS_CREATE: "POST" "/api/webhook-endpoints" => "cryptopay-webhooks-create", Any, crate::faces::cryptopay::create_webhook;
    CRYPTOPAY_WEBHOOKS_UPDATE: "PUT" "/api/webhook-endpoints/{id}" => "cryptopay-webhooks-update", Any, crate::faces::cryptopay::update_webhook;
    POS_GET_RATE: "GET" "/v2/GetRate" => "pos-get-rate", Store, crate::faces::pos::get_rate;
    POS_START_PAYMENT: "GET" "/v2/StartPayment" => "pos-start-payment", Store, crate::faces::pos::start_payment;
    POS_CHECK_PAYMENT: "GET" "/v2/CheckPayment" => "pos-check-payment", Store, crate::faces::pos::check_payment;
    POS_CANCEL_PAYMENT: "GET" "/v2/CancelPayment" => "pos-cancel-payment", Store, crate::faces::pos::cancel_payment;
    POS_ACCEPT_PAYMENT: "GET" "/v2/AcceptPayment" => "pos-accept-payment", Store, crate::faces::pos::accept_payment;
    POS_REFUND_PAYMENT: "GET" "/v2/RefundPayment" => "pos-refund-payment", Store, crate::faces::pos::refund_payment;
    POS_CURRENCY_LIST: "GET" "/v2/GetCurrencyList" => "pos-currency-list", Public, crate::faces::pos::currency_list;
    POS_TRANSACTIONS: "GET" "/v2/GetTransactions" => "pos-transactions", Store, crate::faces::pos::get_transactions;
}

/// Every route as (method, path, function), to compare with what other
/// places declare (template.yaml, the OpenAPI document).
pub fn rows() -> std::collections::BTreeSet<(String, String, String)> {
    ROUTES
        .iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.path.to_string(),
                r.function.to_string(),
            )
        })
        .collect()
}

/// The route served by a Lambda function.
pub fn route_of(function: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.function == function)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn functions_and_routes_are_unique() {
        let mut f = HashSet::new();
        let mut r = HashSet::new();
        for route in ROUTES {
            assert!(
                f.insert(route.function),
                "function {} twice",
                route.function
            );
            assert!(
                r.insert((route.method, route.path)),
                "route {} {} twice",
                route.method,
                route.path
            );
            assert!(
                route
                    .function
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{}",
                route.function
            );
        }
    }
}
