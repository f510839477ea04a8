//! Lambda: the `payment-request-create` row of the route table.

satsgate_functions::route_function!(PAYMENT_REQUEST_CREATE);
