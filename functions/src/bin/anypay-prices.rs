//! Lambda: the `anypay-prices` row of the route table.

satsgate_functions::route_function!(ANYPAY_PRICES);
