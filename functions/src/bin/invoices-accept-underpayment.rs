//! Lambda: the `invoices-accept-underpayment` row of the route table.

satsgate_functions::route_function!(INVOICES_ACCEPT_UNDERPAYMENT);
