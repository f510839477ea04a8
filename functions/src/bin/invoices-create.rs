//! Lambda: the `invoices-create` row of the route table.

satsgate_functions::route_function!(INVOICES_CREATE);
