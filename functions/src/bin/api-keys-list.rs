//! Lambda: the `api-keys-list` row of the route table.

satsgate_functions::route_function!(API_KEYS_LIST);
