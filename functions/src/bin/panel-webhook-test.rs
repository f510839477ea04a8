//! Lambda: the `panel-webhook-test` row of the route table.

satsgate_functions::route_function!(PANEL_WEBHOOK_TEST);
