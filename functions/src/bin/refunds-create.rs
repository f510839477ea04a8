//! Lambda: the `refunds-create` row of the route table.

satsgate_functions::route_function!(REFUNDS_CREATE);
