//! Lambda: the `webhook-endpoints-create` row of the route table.

satsgate_functions::route_function!(WEBHOOK_ENDPOINTS_CREATE);
