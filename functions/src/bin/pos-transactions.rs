//! Lambda: the `pos-transactions` row of the route table.

#[tokio::main]
async fn main() -> Result<(), satsgate_functions::Error> {
    satsgate_functions::serve_http("pos-transactions").await
}
