//! Lambda: the `payments-list` row of the route table.

satsgate_functions::route_function!(PAYMENTS_LIST);
