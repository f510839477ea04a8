//! Lambda: the `pos-check-payment` row of the route table.

satsgate_functions::route_function!(POS_CHECK_PAYMENT);
