//! Lambda: the `anypay-request-create` row of the route table.

satsgate_functions::route_function!(ANYPAY_REQUEST_CREATE);
