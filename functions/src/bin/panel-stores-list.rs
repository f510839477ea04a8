//! Lambda: the `panel-stores-list` row of the route table.

satsgate_functions::route_function!(PANEL_STORES_LIST);
