//! Lambda: the `cryptopay-login` row of the route table.

satsgate_functions::route_function!(CRYPTOPAY_LOGIN);
