//! Lambda: the `pos-get-rate` row of the route table.

#[tokio::main]
async fn main() -> Result<(), satsgate_functions::Error> {
    satsgate_functions::serve_http("pos-get-rate").await
}
