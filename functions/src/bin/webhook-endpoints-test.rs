//! Lambda: the `webhook-endpoints-test` row of the route table.

satsgate_functions::route_function!(WEBHOOK_ENDPOINTS_TEST);
