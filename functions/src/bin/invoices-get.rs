//! Lambda: the `invoices-get` row of the route table.

satsgate_functions::route_function!(INVOICES_GET);
