//! Lambda: the `cryptopay-wallets-update` row of the route table.

#[tokio::main]
async fn main() -> Result<(), satsgate_functions::Error> {
    satsgate_functions::serve_http("cryptopay-wallets-update").await
}
