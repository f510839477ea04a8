//! Lambda: the `openapi` row of the route table.

satsgate_functions::route_function!(OPENAPI);
