//! Lambda: the merchant dashboard (every `/dashboard` path).

#[tokio::main]
async fn main() -> Result<(), satsgate_functions::Error> {
    satsgate_functions::serve_dashboard("dashboard").await
}
