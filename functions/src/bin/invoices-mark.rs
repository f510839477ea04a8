//! Lambda: the `invoices-mark` row of the route table.

satsgate_functions::route_function!(INVOICES_MARK);
