//! Lambda: the `api-keys-create` row of the route table.

satsgate_functions::route_function!(API_KEYS_CREATE);
