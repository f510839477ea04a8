//! Lambda: API Gateway WebSocket route `$connect`: check the optional API key (`Authorization: Bearer` header or `?token=`), record the connection; 401 refuses it.
//! The event is the raw API Gateway WebSocket proxy JSON
//! (`ApiGatewayWebsocketProxyRequest`); see shared/src/ws/aws.rs.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let app = satsgate_functions::init("ws-connect").await?;
    run(service_fn(move |event: LambdaEvent<Value>| {
        let app = app.clone();
        async move { Ok::<Value, Error>(satsgate::ws::aws::on_connect(&app, &event.payload).await) }
    }))
    .await
}
