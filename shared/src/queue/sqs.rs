//! `SqsQueue`: the `Queue` port on Amazon SQS (aws-sdk-sqs). The queue's
//! redrive policy moves a message to its dead-letter queue after
//! `maxReceiveCount` receives; `dead_letter` sends a copy to the DLQ and
//! deletes the original. SQS counts time in whole seconds: delays and
//! visibility timeouts are rounded up.

use super::{ceil_secs, Message, Queue, QueueError, MAX_BATCH, MAX_DELAY, MAX_VISIBILITY};
use async_trait::async_trait;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use aws_sdk_sqs::Client;
use std::collections::HashMap;
use std::time::Duration;

pub struct SqsQueue {
    client: Client,
    url: String,
    dlq_url: Option<String>,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> SqsQueue {
        SqsQueue {
            client,
            url: url.into(),
            dlq_url: None,
        }
    }

    /// The dead-letter queue `dead_letter` sends to.
    pub fn with_dlq(mut self, dlq_url: impl Into<String>) -> SqsQueue {
        self.dlq_url = Some(dlq_url.into());
        self
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn dlq_url(&self) -> Option<&str> {
        self.dlq_url.as_deref()
    }

    /// The queue at `url` (`Config::webhook_queue_url`) with its DLQ:
    /// `dlq_url`, or the target of the queue's redrive policy. Endpoint,
    /// region and credentials come from the usual AWS environment
    /// (`AWS_ENDPOINT_URL`).
    pub async fn consumer(url: &str, dlq_url: Option<&str>) -> Result<SqsQueue, String> {
        let q = SqsQueue::sender(url).await;
        match dlq_url {
            Some(dlq) => Ok(q.with_dlq(dlq)),
            None => {
                let dlq = q.discover_dlq().await?;
                Ok(match dlq {
                    Some(d) => q.with_dlq(d),
                    None => q,
                })
            }
        }
    }

    /// The queue at `url` for a function that only sends to it (no
    /// dead-letter queue to find).
    pub async fn sender(url: &str) -> SqsQueue {
        let conf = crate::sdk::aws_sdk_config().await;
        SqsQueue::new(Client::new(conf), url)
    }

    /// The URL of the dead-letter queue named by the redrive policy.
    pub async fn discover_dlq(&self) -> Result<Option<String>, String> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "reading the redrive policy of {}: {}",
                    self.url,
                    DisplayErrorContext(&e)
                )
            })?;
        let Some(policy) = out
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
        else {
            return Ok(None);
        };
        let v: serde_json::Value =
            serde_json::from_str(policy).map_err(|e| format!("redrive policy: {e}"))?;
        let Some(name) = v["deadLetterTargetArn"]
            .as_str()
            .and_then(|arn| arn.rsplit(':').next())
        else {
            return Ok(None);
        };
        let url = self
            .client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "finding the dead-letter queue {name}: {}",
                    DisplayErrorContext(&e)
                )
            })?;
        Ok(url.queue_url().map(str::to_string))
    }
}

/// Create a queue and its dead-letter queue (redrive after `max_receives`
/// receives), as template.yaml declares them; returns (queue url, dlq url).
/// For tests and local set-ups on moto_server.
pub async fn create_queue_pair(
    client: &Client,
    name: &str,
    max_receives: u32,
) -> Result<(String, String), String> {
    let err = |e: &dyn std::fmt::Display| format!("creating queue {name}: {e}");
    let dlq = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .map_err(|e| err(&DisplayErrorContext(&e)))?;
    let dlq_url = dlq
        .queue_url()
        .ok_or_else(|| err(&"no queue url"))?
        .to_string();
    let attrs = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| err(&DisplayErrorContext(&e)))?;
    let arn = attrs
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .ok_or_else(|| err(&"no queue arn"))?;
    let policy = serde_json::json!({ "deadLetterTargetArn": arn, "maxReceiveCount": max_receives })
        .to_string();
    let q = client
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, policy)
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .map_err(|e| err(&DisplayErrorContext(&e)))?;
    Ok((
        q.queue_url()
            .ok_or_else(|| err(&"no queue url"))?
            .to_string(),
        dlq_url,
    ))
}

fn backend<E>(e: aws_sdk_sqs::error::SdkError<E>) -> QueueError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    let code = e.code().unwrap_or_default();
    if code.contains("ReceiptHandleIsInvalid")
        || code.contains("MessageNotInflight")
        || code.contains("InvalidReceipt")
    {
        return QueueError::InvalidReceipt;
    }
    QueueError::Backend(DisplayErrorContext(&e).to_string())
}

fn to_message(m: &aws_sdk_sqs::types::Message) -> Option<Message> {
    Some(Message {
        id: m.message_id()?.to_string(),
        receipt: m.receipt_handle().unwrap_or_default().to_string(),
        body: m.body().unwrap_or_default().to_string(),
        receive_count: m
            .attributes()
            .and_then(|a: &HashMap<MessageSystemAttributeName, String>| {
                a.get(&MessageSystemAttributeName::ApproximateReceiveCount)
            })
            .and_then(|c| c.parse().ok())
            .unwrap_or(1),
    })
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, body: &str, delay: Duration) -> Result<String, QueueError> {
        if delay > MAX_DELAY {
            return Err(QueueError::Invalid(format!(
                "delay {delay:?} is over the 15 minute maximum"
            )));
        }
        let out = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(ceil_secs(delay) as i32)
            .send()
            .await
            .map_err(backend)?;
        Ok(out.message_id().unwrap_or_default().to_string())
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Message>, QueueError> {
        if !(1..=MAX_BATCH).contains(&max) {
            return Err(QueueError::Invalid(format!("max must be 1..={MAX_BATCH}")));
        }
        if visibility > MAX_VISIBILITY {
            return Err(QueueError::Invalid(
                "visibility is over the 12 hour maximum".into(),
            ));
        }
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max as i32)
            .visibility_timeout(ceil_secs(visibility) as i32)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(backend)?;
        Ok(out.messages().iter().filter_map(to_message).collect())
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        if timeout > MAX_VISIBILITY {
            return Err(QueueError::Invalid(format!(
                "visibility {timeout:?} is over the 12 hour maximum"
            )));
        }
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(ceil_secs(timeout) as i32)
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn dead_letter(&self, message: &Message) -> Result<(), QueueError> {
        let dlq = self.dlq_url.as_deref().ok_or_else(|| {
            QueueError::Invalid(format!(
                "queue {} has no dead-letter queue configured",
                self.url
            ))
        })?;
        self.client
            .send_message()
            .queue_url(dlq)
            .message_body(&message.body)
            .send()
            .await
            .map_err(backend)?;
        self.delete(&message.receipt).await
    }

    async fn dead_letters(&self, max: usize) -> Result<Vec<Message>, QueueError> {
        let Some(dlq) = self.dlq_url.as_deref() else {
            return Ok(vec![]);
        };
        // Peek: receive with a zero visibility timeout, so nothing is hidden.
        let out = self
            .client
            .receive_message()
            .queue_url(dlq)
            .max_number_of_messages(max.clamp(1, MAX_BATCH) as i32)
            .visibility_timeout(0)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(backend)?;
        Ok(out.messages().iter().filter_map(to_message).collect())
    }

    fn kind(&self) -> &'static str {
        "sqs"
    }
}
