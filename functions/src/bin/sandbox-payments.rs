//! Lambda: the `sandbox-payments` row of the route table.

satsgate_functions::route_function!(SANDBOX_PAYMENTS);
