//! Lambda: the `cryptopay-wallets-update` row of the route table.

satsgate_functions::route_function!(CRYPTOPAY_WALLETS_UPDATE);
