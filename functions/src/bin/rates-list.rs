//! Lambda: the `rates-list` row of the route table.

satsgate_functions::route_function!(RATES_LIST);
