//! Lambda: the `stores-create` row of the route table.

satsgate_functions::route_function!(STORES_CREATE);
