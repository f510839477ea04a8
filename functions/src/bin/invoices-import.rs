//! Lambda: the `invoices-import` row of the route table.

satsgate_functions::route_function!(INVOICES_IMPORT);
