//! Lambda: the `cryptopay-orders-get` row of the route table.

#[tokio::main]
async fn main() -> Result<(), satsgate_functions::Error> {
    satsgate_functions::serve_http("cryptopay-orders-get").await
}
