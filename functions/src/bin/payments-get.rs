//! Lambda: the `payments-get` row of the route table.

satsgate_functions::route_function!(PAYMENTS_GET);
