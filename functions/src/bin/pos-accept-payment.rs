//! Lambda: the `pos-accept-payment` row of the route table.

satsgate_functions::route_function!(POS_ACCEPT_PAYMENT);
