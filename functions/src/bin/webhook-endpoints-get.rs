//! Lambda: the `webhook-endpoints-get` row of the route table.

satsgate_functions::route_function!(WEBHOOK_ENDPOINTS_GET);
