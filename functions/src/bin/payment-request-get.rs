//! Lambda: the `payment-request-get` row of the route table.

satsgate_functions::route_function!(PAYMENT_REQUEST_GET);
