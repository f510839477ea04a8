//! Lambda: the `health` row of the route table.

satsgate_functions::route_function!(HEALTH);
