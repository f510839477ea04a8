//! Lambda: the `cryptopay-orders-get` row of the route table.

satsgate_functions::route_function!(CRYPTOPAY_ORDERS_GET);
