//! Lambda: the `cryptopay-webhooks-create` row of the route table.

satsgate_functions::route_function!(CRYPTOPAY_WEBHOOKS_CREATE);
