//! Lambda: the `users-create` row of the route table.

satsgate_functions::route_function!(USERS_CREATE);
