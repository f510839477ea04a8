//! Lambda: the `stores-update` row of the route table.

satsgate_functions::route_function!(STORES_UPDATE);
