//! Lambda: the `cryptopay-wallets-list` row of the route table.

satsgate_functions::route_function!(CRYPTOPAY_WALLETS_LIST);
