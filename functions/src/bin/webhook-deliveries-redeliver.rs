//! Lambda: the `webhook-deliveries-redeliver` row of the route table.

satsgate_functions::route_function!(WEBHOOK_DELIVERIES_REDELIVER);
