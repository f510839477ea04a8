//! Lambda: the `currencies-list` row of the route table.

satsgate_functions::route_function!(CURRENCIES_LIST);
