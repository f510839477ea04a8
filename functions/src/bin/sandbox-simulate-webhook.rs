//! Lambda: the `sandbox-simulate-webhook` row of the route table.

satsgate_functions::route_function!(SANDBOX_SIMULATE_WEBHOOK);
