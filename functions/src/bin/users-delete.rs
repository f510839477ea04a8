//! Lambda: the `users-delete` row of the route table.

satsgate_functions::route_function!(USERS_DELETE);
