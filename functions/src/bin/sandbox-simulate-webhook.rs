//! Lambda: the `sandbox-simulate-webhook` row of the route table.

#[tokio::main]
async fn main() -> Result<(), satsgate_functions::Error> {
    satsgate_functions::serve_http("sandbox-simulate-webhook").await
}
