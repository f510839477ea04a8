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
    ($($method:literal $path:literal => $function:literal, $auth:ident, $handler:path;)*) => {
        pub static ROUTES: &[Route] = &[
            $(Route { method: $method, path: $path, function: $function, auth: Auth::$auth, handler: handler!($handler) },)*
        ];
    };
}

routes! {
    "GET" "/v1/health" => "health", Public, health::health;
    "POST" "/v1/stores" => "stores-create", Account, stores::create;
    "GET" "/v1/stores" => "stores-list", Any, stores::list;
    "GET" "/v1/stores/{id}" => "stores-get", Any, stores::get;
    "PATCH" "/v1/stores/{id}" => "stores-update", Account, stores::update;
    "POST" "/v1/stores/{id}/api-keys" => "api-keys-create", Account, stores::create_key;
    "GET" "/v1/stores/{id}/api-keys" => "api-keys-list", Account, stores::list_keys;
    "DELETE" "/v1/stores/{id}/api-keys/{key_id}" => "api-keys-delete", Account, stores::delete_key;
    // -- checkout --
    "GET" "/v1/qr" => "qr", Public, crate::handlers::checkout::qr;
    "GET" "/r/{id}" => "payment-request-get", Public, crate::handlers::checkout::get_request;
    "POST" "/r/{id}" => "payment-request-create", Public, crate::handlers::checkout::payment_request;
    "POST" "/r/{id}/pay" => "payment-request-pay", Public, crate::handlers::checkout::pay;
    "GET" "/i/{id}" => "checkout-page", Public, crate::handlers::checkout::checkout_page;
    // -- end checkout --
    // -- invoices --
    "POST" "/v1/invoices" => "invoices-create", Store, invoices::create;
    "GET" "/v1/invoices" => "invoices-list", Store, invoices::list;
    "GET" "/v1/invoices/{id}" => "invoices-get", Store, invoices::get;
    "POST" "/v1/invoices/archived" => "invoices-import", Store, invoices::import;
    "POST" "/v1/invoices/{id}/status" => "invoices-mark", Store, invoices::mark;
    "POST" "/v1/invoices/{id}/cancel" => "invoices-cancel", Store, invoices::cancel;
    "POST" "/v1/invoices/{id}/accept-underpayment" => "invoices-accept-underpayment", Store, invoices::accept_underpayment;
    "POST" "/v1/invoices/{id}/refunds" => "refunds-create", Store, invoices::create_refund;
    "GET" "/v1/invoices/{id}/refunds" => "refunds-list", Store, invoices::list_refunds;
    "GET" "/v1/payments" => "payments-list", Store, invoices::list_payments;
    "GET" "/v1/payments/{id}" => "payments-get", Store, invoices::get_payment;
    "GET" "/v1/summary" => "summary", Store, invoices::summary;
    "GET" "/v1/events" => "events-list", Store, invoices::list_events;
    "POST" "/v1/sandbox/payments" => "sandbox-payments", Store, sandbox::pay;
    "POST" "/v1/sandbox/blocks" => "sandbox-blocks", Store, sandbox::mine;
    "POST" "/v1/sandbox/reorg" => "sandbox-reorg", Store, sandbox::reorg;
    "POST" "/v1/sandbox/double-spend" => "sandbox-double-spend", Store, sandbox::double_spend;
    "POST" "/v1/sandbox/simulate-webhook" => "sandbox-simulate-webhook", Store, sandbox::simulate_webhook;
    // -- end invoices --
    // -- prices --
    "GET" "/v1/currencies" => "currencies-list", Public, crate::handlers::prices::currencies;
    "GET" "/v1/prices" => "prices-list", Public, crate::handlers::prices::list;
    "GET" "/v1/rates" => "rates-list", Public, crate::handlers::prices::rates;
    "GET" "/v1/convert" => "convert", Public, crate::handlers::prices::convert;
    "POST" "/v1/quotes" => "quotes-create", Store, crate::handlers::prices::create_quote;
    // -- end prices --
    // -- webhooks --
    "POST" "/v1/webhook-endpoints" => "webhook-endpoints-create", Store, crate::handlers::webhooks::create;
    "GET" "/v1/webhook-endpoints" => "webhook-endpoints-list", Store, crate::handlers::webhooks::list;
    "GET" "/v1/webhook-endpoints/{id}" => "webhook-endpoints-get", Store, crate::handlers::webhooks::get;
    "PATCH" "/v1/webhook-endpoints/{id}" => "webhook-endpoints-update", Store, crate::handlers::webhooks::update;
    "DELETE" "/v1/webhook-endpoints/{id}" => "webhook-endpoints-delete", Store, crate::handlers::webhooks::delete;
    "POST" "/v1/webhook-endpoints/{id}/rotate-secret" => "webhook-endpoints-rotate-secret", Store, crate::handlers::webhooks::rotate_secret;
    "POST" "/v1/webhook-endpoints/{id}/test" => "webhook-endpoints-test", Store, crate::handlers::webhooks::test;
    "GET" "/v1/webhook-endpoints/{id}/deliveries" => "webhook-deliveries-list", Store, crate::handlers::webhooks::list_deliveries;
    "GET" "/v1/webhook-deliveries/{id}" => "webhook-deliveries-get", Store, crate::handlers::webhooks::get_delivery;
    "POST" "/v1/webhook-deliveries/{id}/redeliver" => "webhook-deliveries-redeliver", Store, crate::handlers::webhooks::redeliver;
    // -- end webhooks --
    // -- users --
    "POST" "/v1/users" => "users-create", Account, crate::handlers::users::create;
    "GET" "/v1/users" => "users-list", Account, crate::handlers::users::list;
    "DELETE" "/v1/users/{id}" => "users-delete", Account, crate::handlers::users::delete;
    "POST" "/v1/auth/login" => "auth-login", Public, crate::handlers::users::login;
    "POST" "/v1/auth/logout" => "auth-logout", Account, crate::handlers::users::logout;
    // -- end users --
    // -- seed 000 --
    "GET" "/prices" => "anypay-prices", Public, crate::handlers::prices::anypay_prices;
    "POST" "/r" => "anypay-request-create", Store, crate::faces::anypay::create_request;
    // -- end seed 000 --
    "GET" "/v1/openapi.json" => "openapi", Public, crate::handlers::openapi::get;
    // -- faces --
    "GET" "/api/v1/stores" => "panel-stores-list", Any, crate::faces::panel::stores;
    "POST" "/api/v1/stores/{store_id}/invoices" => "panel-invoices-create", Any, crate::faces::panel::create_invoice;
    "GET" "/api/v1/invoices/{id}" => "panel-invoices-get", Any, crate::faces::panel::get_invoice;
    "GET" "/api/v1/balance-or-summary" => "panel-summary", Any, crate::faces::panel::summary;
    "POST" "/api/v1/stores/{store_id}/webhook-test" => "panel-webhook-test", Any, crate::faces::panel::webhook_test;
    "POST" "/api/auth/login" => "cryptopay-login", Public, crate::faces::cryptopay::login;
    "POST" "/api/payment-orders" => "cryptopay-orders-create", Any, crate::faces::cryptopay::create_order;
    "GET" "/api/payment-orders" => "cryptopay-orders-list", Any, crate::faces::cryptopay::list_orders;
    "GET" "/api/payment-orders/{id}" => "cryptopay-orders-get", Any, crate::faces::cryptopay::get_order;
    "GET" "/api/transactions" => "cryptopay-transactions-list", Any, crate::faces::cryptopay::list_transactions;
    "GET" "/api/transactions/{hash}" => "cryptopay-transactions-get", Any, crate::faces::cryptopay::get_transaction;
    "GET" "/api/merchant-wallets" => "cryptopay-wallets-list", Any, crate::faces::cryptopay::list_wallets;
    "POST" "/api/merchant-wallets" => "cryptopay-wallets-create", Account, crate::faces::cryptopay::create_wallet;
    "PUT" "/api/merchant-wallets/{id}" => "cryptopay-wallets-update", Account, crate::faces::cryptopay::update_wallet;
    "GET" "/api/webhook-endpoints" => "cryptopay-webhooks-list", Any, crate::faces::cryptopay::list_webhooks;
    "POST" "/api/webhook-endpoints" => "cryptopay-webhooks-create", Any, crate::faces::cryptopay::create_webhook;
    "PUT" "/api/webhook-endpoints/{id}" => "cryptopay-webhooks-update", Any, crate::faces::cryptopay::update_webhook;
    "GET" "/v2/GetRate" => "pos-get-rate", Store, crate::faces::pos::get_rate;
    "GET" "/v2/StartPayment" => "pos-start-payment", Store, crate::faces::pos::start_payment;
    "GET" "/v2/CheckPayment" => "pos-check-payment", Store, crate::faces::pos::check_payment;
    "GET" "/v2/CancelPayment" => "pos-cancel-payment", Store, crate::faces::pos::cancel_payment;
    "GET" "/v2/AcceptPayment" => "pos-accept-payment", Store, crate::faces::pos::accept_payment;
    "GET" "/v2/RefundPayment" => "pos-refund-payment", Store, crate::faces::pos::refund_payment;
    "GET" "/v2/GetCurrencyList" => "pos-currency-list", Public, crate::faces::pos::currency_list;
    "GET" "/v2/GetTransactions" => "pos-transactions", Store, crate::faces::pos::get_transactions;
    // -- end faces --
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
