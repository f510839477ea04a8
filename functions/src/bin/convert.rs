//! Lambda: the `convert` row of the route table.

satsgate_functions::route_function!(CONVERT);
