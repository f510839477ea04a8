//! Lambda: the `auth-login` row of the route table.

satsgate_functions::route_function!(AUTH_LOGIN);
