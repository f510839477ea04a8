//! Lambda: the `webhook-endpoints-update` row of the route table.

satsgate_functions::route_function!(WEBHOOK_ENDPOINTS_UPDATE);
