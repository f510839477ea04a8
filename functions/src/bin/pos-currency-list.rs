//! Lambda: the `pos-currency-list` row of the route table.

satsgate_functions::route_function!(POS_CURRENCY_LIST);
