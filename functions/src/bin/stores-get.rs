//! Lambda: the `stores-get` row of the route table.

satsgate_functions::route_function!(STORES_GET);
