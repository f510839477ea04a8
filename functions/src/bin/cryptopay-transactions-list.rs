//! Lambda: the `cryptopay-transactions-list` row of the route table.

satsgate_functions::route_function!(CRYPTOPAY_TRANSACTIONS_LIST);
