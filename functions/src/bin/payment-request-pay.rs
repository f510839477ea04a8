//! Lambda: the `payment-request-pay` row of the route table.

satsgate_functions::route_function!(PAYMENT_REQUEST_PAY);
