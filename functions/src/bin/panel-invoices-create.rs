//! Lambda: the `panel-invoices-create` row of the route table.

#[tokio::main]
async fn main() -> Result<(), satsgate_functions::Error> {
    satsgate_functions::serve_http("panel-invoices-create").await
}
