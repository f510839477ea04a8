//! Lambda: the `invoices-cancel` row of the route table.

satsgate_functions::route_function!(INVOICES_CANCEL);
