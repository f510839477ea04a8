//! Lambda: API Gateway WebSocket route `$default`: one client message (seed-000 protocol); the reply is the response body, sent back through the route response.
//! The event is the raw API Gateway WebSocket proxy JSON
//! (`ApiGatewayWebsocketProxyRequest`); see shared/src/ws/aws.rs.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use satsgate::app::App;
use serde_json::Value;
use std::sync::Arc;

satsgate_functions::job_function!("ws-default", |app: Arc<App>| async move {
    run(service_fn(move |event: LambdaEvent<Value>| {
        let app = app.clone();
        async move { Ok::<Value, Error>(satsgate::ws::aws::on_message(&app, &event.payload).await) }
    }))
    .await
});
