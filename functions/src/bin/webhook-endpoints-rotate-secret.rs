//! Lambda: the `webhook-endpoints-rotate-secret` row of the route table.

satsgate_functions::route_function!(WEBHOOK_ENDPOINTS_ROTATE_SECRET);
