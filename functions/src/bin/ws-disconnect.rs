//! Lambda: API Gateway WebSocket route `$disconnect`: forget the connection and its subscriptions.
//! The event is the raw API Gateway WebSocket proxy JSON
//! (`ApiGatewayWebsocketProxyRequest`); see shared/src/ws/aws.rs.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    satsgate::telemetry::init(true);
    let app = Arc::new(satsgate::App::from_env().await?);
    run(service_fn(move |event: LambdaEvent<Value>| {
        let app = app.clone();
        async move { Ok::<Value, Error>(satsgate::ws::aws::on_disconnect(&app, &event.payload).await) }
    }))
    .await
}
