//! The WebSocket protocol on AWS: API Gateway WebSocket API -> the
//! `ws-connect`, `ws-disconnect` and `ws-default` Lambdas (raw proxy event
//! JSON in, `{statusCode, body}` out; `ws-default`'s body is the reply,
//! sent back through the route response), connections and subscriptions
//! in the table, and `ApiGatewayPush`, the `Push` adapter that posts
//! frames to subscribed connections through the @connections API.
//!
//! Items: `WSCONN#<connection id>` / `WSCONN` holds the key *hash* (never
//! the key), the source IP and the connection's topics; each subscription
//! is `WSSUB#<topic>` / `<connection id>`. Both expire after 2 hours (API
//! Gateway's connection limit); a post answered 410 Gone deletes them.

use super::{
    authenticate, credentials, error, error_text, event_frame, event_topics, handle_text, load_key,
};
use super::{Effect, Session, Topic};
use crate::app::App;
use crate::error::ApiError;
use crate::events::Event;
use crate::schema;
use crate::table::{Query, Table};
use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_sdk_apigatewaymanagement::Client;
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Connections and subscriptions live this long (API Gateway closes
/// WebSocket connections after 2 hours).
pub const CONNECTION_TTL_SECONDS: i64 = 2 * 3600;

fn ttl(app_now: time::OffsetDateTime) -> i64 {
    app_now.unix_timestamp() + CONNECTION_TTL_SECONDS
}

/// Record a new connection (subscribed to `prices#all`).
pub async fn save_connection(
    app: &App,
    connection_id: &str,
    session: &Session,
) -> Result<(), ApiError> {
    let now = app.now();
    let key = schema::ws_connection(connection_id);
    let mut item = crate::table::Item::new();
    item.insert(schema::PK.into(), json!(key.pk));
    item.insert(schema::SK.into(), json!(key.sk));
    item.insert("connection_id".into(), json!(connection_id));
    item.insert(
        "key_hash".into(),
        json!(session.key.as_ref().map(|k| k.hash.clone())),
    );
    item.insert(
        "source_ip".into(),
        json!(session.source_ip.map(|i| i.to_string())),
    );
    item.insert("topics".into(), json!([]));
    item.insert("connected_at".into(), json!(crate::clock::rfc3339(now)));
    item.insert(schema::TTL.into(), json!(ttl(now)));
    app.table.put(item, None).await?;
    Ok(())
}

/// The session of a connection (key re-read: a deleted key is an error;
/// an unknown connection is keyless).
pub async fn load_session(app: &App, connection_id: &str) -> Result<Session, ApiError> {
    let Some(item) = app.table.get(&schema::ws_connection(connection_id)).await? else {
        return Ok(Session::default());
    };
    let source_ip = item
        .get("source_ip")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok());
    let key = match item.get("key_hash").and_then(Value::as_str) {
        Some(hash) => Some(load_key(&*app.table, hash).await.map_err(|_| {
            ApiError::unauthenticated(
                "the API key of this connection no longer exists; reconnect with a valid key",
            )
        })?),
        None => None,
    };
    Ok(Session { key, source_ip })
}

/// Subscribe a connection to a topic (idempotent).
pub async fn add_subscription(
    app: &App,
    connection_id: &str,
    topic: &Topic,
) -> Result<(), ApiError> {
    let now = app.now();
    let t = topic.key();
    let held = connection_topics(app, connection_id).await?;
    let counted = held.iter().filter(|x| **x != Topic::Prices.key()).count();
    if *topic != Topic::Prices && !held.contains(&t) && counted >= super::MAX_SUBSCRIPTIONS {
        return Err(ApiError::new(
            409,
            crate::error::ErrorCode::Conflict,
            super::subscription_limit(super::MAX_SUBSCRIPTIONS),
        ));
    }
    let key = schema::ws_subscription(&t, connection_id);
    let mut item = crate::table::Item::new();
    item.insert(schema::PK.into(), json!(key.pk));
    item.insert(schema::SK.into(), json!(key.sk));
    item.insert("topic".into(), json!(t));
    item.insert("connection_id".into(), json!(connection_id));
    item.insert(schema::TTL.into(), json!(ttl(now)));
    app.table.put(item, None).await?;
    set_topics(app, connection_id, |topics| {
        if !topics.contains(&t) {
            topics.push(t.clone());
        }
    })
    .await
}

/// Unsubscribe a connection from a topic (idempotent).
pub async fn remove_subscription(
    app: &App,
    connection_id: &str,
    topic: &Topic,
) -> Result<(), ApiError> {
    let t = topic.key();
    app.table
        .delete(&schema::ws_subscription(&t, connection_id), None)
        .await?;
    set_topics(app, connection_id, |topics| topics.retain(|x| *x != t)).await
}

fn topics_of(item: &crate::table::Item) -> Vec<String> {
    item.get("topics")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The topic keys a connection is subscribed to.
async fn connection_topics(app: &App, connection_id: &str) -> Result<Vec<String>, ApiError> {
    let item = app.table.get(&schema::ws_connection(connection_id)).await?;
    Ok(item.as_ref().map(topics_of).unwrap_or_default())
}

async fn set_topics(
    app: &App,
    connection_id: &str,
    f: impl FnOnce(&mut Vec<String>),
) -> Result<(), ApiError> {
    let key = schema::ws_connection(connection_id);
    let Some(mut item) = app.table.get(&key).await? else {
        return Ok(());
    };
    let mut topics = topics_of(&item);
    f(&mut topics);
    item.insert("topics".into(), json!(topics));
    app.table.put(item, None).await?;
    Ok(())
}

/// Forget a connection and all its subscriptions.
pub async fn drop_connection(table: &dyn Table, connection_id: &str) -> Result<(), ApiError> {
    let key = schema::ws_connection(connection_id);
    if let Some(item) = table.delete(&key, None).await? {
        let topics = item
            .get("topics")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for t in topics.iter().filter_map(Value::as_str) {
            table
                .delete(&schema::ws_subscription(t, connection_id), None)
                .await?;
        }
    }
    Ok(())
}

/// The connections subscribed to a topic.
pub async fn subscribers(table: &dyn Table, topic: &Topic) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                Query::table(schema::ws_subscribers(&topic.key()))
                    .limit(500)
                    .cursor(cursor),
            )
            .await?;
        out.extend(page.items.iter().filter_map(|i| {
            i.get(schema::SK)
                .and_then(Value::as_str)
                .map(str::to_string)
        }));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

fn response(status: u16, body: Option<Value>) -> Value {
    match body {
        Some(b) => json!({"statusCode": status, "body": b.to_string()}),
        None => json!({"statusCode": status}),
    }
}

fn connection_id(event: &Value) -> Option<&str> {
    event["requestContext"]["connectionId"].as_str()
}

fn source_ip(event: &Value) -> Option<std::net::IpAddr> {
    event["requestContext"]["identity"]["sourceIp"]
        .as_str()
        .and_then(|s| s.parse().ok())
}

/// `$connect`: check the optional key (header or `?token=`); 401 refuses.
pub async fn on_connect(app: &App, event: &Value) -> Value {
    let Some(conn) = connection_id(event) else {
        return response(400, Some(error("not a WebSocket event")));
    };
    let mut headers = http::HeaderMap::new();
    if let Some(h) = event["headers"].as_object() {
        for (k, v) in h {
            if let (Ok(name), Some(Ok(value))) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                v.as_str().map(http::HeaderValue::from_str),
            ) {
                headers.insert(name, value);
            }
        }
    }
    let query: Vec<(String, String)> = event["queryStringParameters"]
        .as_object()
        .map(|q| {
            q.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    let secret = match credentials(&headers, &query) {
        Ok(s) => s,
        Err(e) => return response(401, Some(error(e))),
    };
    let session = match authenticate(app, secret.as_deref(), source_ip(event)).await {
        Ok(s) => s,
        Err(e) => return response(e.status, Some(error(error_text(&e)))),
    };
    match save_connection(app, conn, &session).await {
        Ok(()) => response(200, None),
        Err(e) => response(500, Some(error(error_text(&e)))),
    }
}

/// `$disconnect`: forget the connection and its subscriptions.
pub async fn on_disconnect(app: &App, event: &Value) -> Value {
    if let Some(conn) = connection_id(event) {
        if let Err(e) = drop_connection(&*app.table, conn).await {
            tracing::warn!(error = %e, connection = conn, "dropping WebSocket connection");
        }
    }
    response(200, None)
}

/// `$default`: one client message; the body is the reply frame.
pub async fn on_message(app: &App, event: &Value) -> Value {
    let Some(conn) = connection_id(event) else {
        return response(400, Some(error("not a WebSocket event")));
    };
    let text = event["body"].as_str().unwrap_or("");
    let session = match load_session(app, conn).await {
        Ok(s) => s,
        Err(e) => return response(200, Some(error(error_text(&e)))),
    };
    let mut out = handle_text(app, &session, text).await;
    let applied = match &out.effect {
        Some(Effect::Subscribe(t)) => add_subscription(app, conn, t).await,
        Some(Effect::Unsubscribe(t)) => remove_subscription(app, conn, t).await,
        None => Ok(()),
    };
    if let Err(e) = applied {
        let action = out.reply["action"].clone();
        out.reply = error(error_text(&e));
        out.reply["action"] = action;
    }
    response(200, Some(out.reply))
}

/// Posts pushed frames to the subscribed connections through the API
/// Gateway @connections API (`WEBSOCKET_CALLBACK_URL`, the stage's
/// `https://<api>.execute-api.<region>.amazonaws.com/<stage>`).
#[derive(Clone)]
pub struct ApiGatewayPush {
    table: Arc<dyn Table>,
    client: Client,
}

/// Why a post failed.
#[derive(Debug)]
pub enum PostError {
    /// The connection is gone (410): forget it.
    Gone,
    Other(String),
}

impl ApiGatewayPush {
    pub fn new(table: Arc<dyn Table>, client: Client) -> ApiGatewayPush {
        ApiGatewayPush { table, client }
    }

    /// Pushes through the @connections endpoint `url`
    /// (`Config::websocket_callback_url`), with the usual AWS region and
    /// credentials.
    pub async fn connect(table: Arc<dyn Table>, url: &str) -> ApiGatewayPush {
        let conf = crate::sdk::aws_sdk_config().await;
        let conf = aws_sdk_apigatewaymanagement::config::Builder::from(conf)
            .endpoint_url(url.trim_end_matches('/'))
            .build();
        ApiGatewayPush::new(table, Client::from_conf(conf))
    }

    /// For emulators and tests: `endpoint` with static test credentials
    /// in us-east-1.
    pub fn for_emulator(table: Arc<dyn Table>, endpoint: &str) -> ApiGatewayPush {
        let conf = aws_sdk_apigatewaymanagement::Config::builder()
            .behavior_version(aws_sdk_apigatewaymanagement::config::BehaviorVersion::latest())
            .endpoint_url(endpoint.trim_end_matches('/'))
            .region(aws_sdk_apigatewaymanagement::config::Region::new(
                "us-east-1",
            ))
            .credentials_provider(aws_sdk_apigatewaymanagement::config::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "satsgate-tests",
            ))
            .build();
        ApiGatewayPush::new(table, Client::from_conf(conf))
    }

    /// Post one frame to one connection.
    pub async fn post(&self, connection_id: &str, frame: &str) -> Result<(), PostError> {
        match self
            .client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(frame.as_bytes().to_vec()))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let gone = e.as_service_error().is_some_and(|s| s.is_gone_exception())
                    || e.raw_response().is_some_and(|r| r.status().as_u16() == 410);
                if gone {
                    Err(PostError::Gone)
                } else {
                    Err(PostError::Other(
                        aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&e).to_string(),
                    ))
                }
            }
        }
    }

    /// Push a frame to every connection subscribed to any of `topics`
    /// (each connection once); gone connections are forgotten. Returns
    /// the number of connections reached.
    pub async fn push_frame(&self, topics: &[Topic], frame: &Value) -> usize {
        let mut conns: BTreeMap<String, ()> = BTreeMap::new();
        for t in topics {
            match subscribers(&*self.table, t).await {
                Ok(list) => conns.extend(list.into_iter().map(|c| (c, ()))),
                Err(e) => {
                    tracing::warn!(error = %e, topic = %t.key(), "reading WebSocket subscribers")
                }
            }
        }
        let text = frame.to_string();
        let results: Vec<bool> = futures::stream::iter(conns.into_keys())
            .map(|conn| {
                let text = &text;
                async move {
                    match self.post(&conn, text).await {
                        Ok(()) => true,
                        Err(PostError::Gone) => {
                            if let Err(e) = self.forget(&conn, topics).await {
                                tracing::warn!(error = %e, connection = %conn, "forgetting a gone connection");
                            }
                            false
                        }
                        Err(PostError::Other(e)) => {
                            tracing::warn!(error = %e, connection = %conn, "WebSocket push failed");
                            false
                        }
                    }
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        results.into_iter().filter(|ok| *ok).count()
    }

    /// A gone connection: its record, its listed subscriptions and the
    /// ones just read (in case the record already expired).
    async fn forget(&self, connection_id: &str, topics: &[Topic]) -> Result<(), ApiError> {
        for t in topics {
            self.table
                .delete(&schema::ws_subscription(&t.key(), connection_id), None)
                .await?;
        }
        drop_connection(&*self.table, connection_id).await
    }
}

#[async_trait]
impl crate::push::Push for ApiGatewayPush {
    async fn push(&self, event: &Event) {
        let Some(frame) = event_frame(event) else {
            return;
        };
        let topics = event_topics(&*self.table, event).await;
        let n = self.push_frame(&topics, &frame).await;
        tracing::debug!(event = %event.id, kind = %event.kind, connections = n, "pushed");
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    fn event(conn: &str, body: Value) -> Value {
        json!({"requestContext": {"connectionId": conn}, "body": body.to_string()})
    }

    fn reply(v: &Value) -> Value {
        serde_json::from_str(v["body"].as_str().unwrap()).unwrap()
    }

    #[tokio::test]
    async fn subscriptions_per_connection_are_capped() {
        let app = App::in_memory();
        assert_eq!(
            on_connect(&app, &event("c1", json!(null))).await["statusCode"],
            200
        );
        let sub = |id: String| json!({"action": "subscribe", "type": "invoice", "id": id});
        for i in 0..crate::ws::MAX_SUBSCRIPTIONS {
            let r = reply(&on_message(&app, &event("c1", sub(format!("inv_{i}")))).await);
            assert_eq!(r["status"], "success", "{r}");
        }
        let r = reply(&on_message(&app, &event("c1", sub("inv_over".into()))).await);
        assert_eq!(r["status"], "error");
        assert!(
            r["message"]
                .as_str()
                .unwrap()
                .contains("subscription limit"),
            "{r}"
        );
        assert!(subscribers(&*app.table, &Topic::Invoice("inv_over".into()))
            .await
            .unwrap()
            .is_empty());
        // One it holds is fine again.
        let r = reply(&on_message(&app, &event("c1", sub("inv_0".into()))).await);
        assert_eq!(r["status"], "success", "{r}");
    }
}
