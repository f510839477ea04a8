//! Lambda: the `webhook-deliveries-get` row of the route table.

satsgate_functions::route_function!(WEBHOOK_DELIVERIES_GET);
