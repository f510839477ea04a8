//! Lambda: the `checkout-page` row of the route table.

satsgate_functions::route_function!(CHECKOUT_PAGE);
