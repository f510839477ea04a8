//! Lambda: the `cryptopay-login` row of the route table.

#[tokio::main]
async fn main() -> Result<(), satsgate_functions::Error> {
    satsgate_functions::serve_http("cryptopay-login").await
}
