//! Lambda: the `events-list` row of the route table.

satsgate_functions::route_function!(EVENTS_LIST);
