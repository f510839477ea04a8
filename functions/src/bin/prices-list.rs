//! Lambda: the `prices-list` row of the route table.

satsgate_functions::route_function!(PRICES_LIST);
