//! Lambda: the `pos-accept-payment` row of the route table.

#[tokio::main]
async fn main() -> Result<(), satsgate_functions::Error> {
    satsgate_functions::serve_http("pos-accept-payment").await
}
