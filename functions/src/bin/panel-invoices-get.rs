//! Lambda: the `panel-invoices-get` row of the route table.

satsgate_functions::route_function!(PANEL_INVOICES_GET);
