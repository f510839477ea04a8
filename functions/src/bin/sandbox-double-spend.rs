//! Lambda: the `sandbox-double-spend` row of the route table.

satsgate_functions::route_function!(SANDBOX_DOUBLE_SPEND);
