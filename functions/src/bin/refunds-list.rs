//! Lambda: the `refunds-list` row of the route table.

satsgate_functions::route_function!(REFUNDS_LIST);
