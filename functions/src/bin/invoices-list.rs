//! Lambda: the `invoices-list` row of the route table.

satsgate_functions::route_function!(INVOICES_LIST);
