//! Lambda: the `users-list` row of the route table.

satsgate_functions::route_function!(USERS_LIST);
