//! Lambda: the `panel-invoices-create` row of the route table.

satsgate_functions::route_function!(PANEL_INVOICES_CREATE);
