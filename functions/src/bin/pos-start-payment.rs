//! Lambda: the `pos-start-payment` row of the route table.

satsgate_functions::route_function!(POS_START_PAYMENT);
