//! Lambda: the `cryptopay-transactions-get` row of the route table.

satsgate_functions::route_function!(CRYPTOPAY_TRANSACTIONS_GET);
