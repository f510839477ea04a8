//! Lambda: the `anypay-request-create` row of the route table.

#[tokio::main]
async fn main() -> Result<(), satsgate_functions::Error> {
    satsgate_functions::serve_http("anypay-request-create").await
}
