//! Lambda: the `webhook-endpoints-delete` row of the route table.

satsgate_functions::route_function!(WEBHOOK_ENDPOINTS_DELETE);
