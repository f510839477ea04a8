//! Lambda: the `sandbox-blocks` row of the route table.

satsgate_functions::route_function!(SANDBOX_BLOCKS);
