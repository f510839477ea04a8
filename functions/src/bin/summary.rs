//! Lambda: the `summary` row of the route table.

satsgate_functions::route_function!(SUMMARY);
