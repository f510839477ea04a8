//! Lambda: the `quotes-create` row of the route table.

satsgate_functions::route_function!(QUOTES_CREATE);
