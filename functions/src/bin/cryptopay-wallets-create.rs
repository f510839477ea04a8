//! Lambda: the `cryptopay-wallets-create` row of the route table.

satsgate_functions::route_function!(CRYPTOPAY_WALLETS_CREATE);
