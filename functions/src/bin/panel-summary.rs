//! Lambda: the `panel-summary` row of the route table.

satsgate_functions::route_function!(PANEL_SUMMARY);
