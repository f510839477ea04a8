//! Lambda: the `cryptopay-orders-create` row of the route table.

satsgate_functions::route_function!(CRYPTOPAY_ORDERS_CREATE);
