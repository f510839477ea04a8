//! Lambda: the `pos-cancel-payment` row of the route table.

satsgate_functions::route_function!(POS_CANCEL_PAYMENT);
