//! Lambda: the `pos-refund-payment` row of the route table.

satsgate_functions::route_function!(POS_REFUND_PAYMENT);
