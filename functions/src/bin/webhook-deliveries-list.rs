//! Lambda: the `webhook-deliveries-list` row of the route table.

satsgate_functions::route_function!(WEBHOOK_DELIVERIES_LIST);
