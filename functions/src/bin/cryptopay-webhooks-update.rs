//! Lambda: the `cryptopay-webhooks-update` row of the route table.

satsgate_functions::route_function!(CRYPTOPAY_WEBHOOKS_UPDATE);
