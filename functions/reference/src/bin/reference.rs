//! The reference function of the Lambda benchmark: `lambda_http` plus
//! `aws-sdk-dynamodb` doing one GetItem per request, and nothing else.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{run, service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&conf);
    let table = std::env::var("TABLE_NAME")?;
    let (client, table) = (&client, &table);
    run(service_fn(move |_: Request| async move {
        let out = client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S("HEALTH".into()))
            .key("sk", AttributeValue::S("HEALTH".into()))
            .send()
            .await?;
        let body = format!("{{\"found\":{}}}", out.item.is_some());
        Ok::<_, Error>(
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::from(body))?,
        )
    }))
    .await
}
