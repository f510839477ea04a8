//! Lambda: the `pos-transactions` row of the route table.

satsgate_functions::route_function!(POS_TRANSACTIONS);
