//! Lambda: the `auth-logout` row of the route table.

satsgate_functions::route_function!(AUTH_LOGOUT);
