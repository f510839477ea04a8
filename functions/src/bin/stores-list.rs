//! Lambda: the `stores-list` row of the route table.

satsgate_functions::route_function!(STORES_LIST);
