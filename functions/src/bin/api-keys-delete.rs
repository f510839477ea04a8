//! Lambda: the `api-keys-delete` row of the route table.

satsgate_functions::route_function!(API_KEYS_DELETE);
