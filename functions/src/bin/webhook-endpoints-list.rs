//! Lambda: the `webhook-endpoints-list` row of the route table.

satsgate_functions::route_function!(WEBHOOK_ENDPOINTS_LIST);
