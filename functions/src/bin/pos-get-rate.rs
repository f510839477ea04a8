//! Lambda: the `pos-get-rate` row of the route table.

satsgate_functions::route_function!(POS_GET_RATE);
