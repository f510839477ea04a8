//! Lambda: API Gateway WebSocket route `$connect`: check the optional API key (`Authorization: Bearer` header or `?token=`), record the connection; 401 refuses it.
//! The event is the raw API Gateway WebSocket proxy JSON
//! (`ApiGatewayWebsocketProxyRequest`); see shared/src/ws/aws.rs.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use satsgate::app::App;
use serde_json::Value;
use std::sync::Arc;

satsgate_functions::job_function!("ws-connect", |app: Arc<App>| async move {
    run(service_fn(move |event: LambdaEvent<Value>| {
        let app = app.clone();
        async move { Ok::<Value, Error>(satsgate::ws::aws::on_connect(&app, &event.payload).await) }
    }))
    .await
});
