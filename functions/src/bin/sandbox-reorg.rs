//! Lambda: the `sandbox-reorg` row of the route table.

satsgate_functions::route_function!(SANDBOX_REORG);
