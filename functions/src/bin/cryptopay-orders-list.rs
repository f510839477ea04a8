//! Lambda: the `cryptopay-orders-list` row of the route table.

satsgate_functions::route_function!(CRYPTOPAY_ORDERS_LIST);
