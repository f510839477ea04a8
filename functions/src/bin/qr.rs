//! Lambda: the `qr` row of the route table.

satsgate_functions::route_function!(QR);
