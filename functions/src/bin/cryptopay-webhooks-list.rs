//! Lambda: the `cryptopay-webhooks-list` row of the route table.

satsgate_functions::route_function!(CRYPTOPAY_WEBHOOKS_LIST);
