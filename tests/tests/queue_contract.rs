//! The one `Queue` contract (`satsgate::queue::contract`) against the
//! table-backed queue on both table engines and against SQS on
//! moto_server.

mod webhook_support;

use satsgate::clock::SystemClock;
use satsgate::queue::contract;
use satsgate::queue::local::TableQueue;
use satsgate_e2e::{table, Engine};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_queue_on_the_embedded_engine_meets_the_queue_contract() {
    let t = table(Engine::Embedded).await.unwrap();
    let q = TableQueue::new(t, Arc::new(SystemClock), "contract").with_max_receives(2);
    contract::run_all(&q).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_queue_on_dynamodb_meets_the_queue_contract() {
    let Some(t) = table(Engine::Dynamo).await else {
        return;
    };
    let q = TableQueue::new(t, Arc::new(SystemClock), "contract").with_max_receives(2);
    contract::run_all(&q).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_queue_on_moto_meets_the_queue_contract() {
    let Some(q) = webhook_support::sqs_queue(2).await else {
        return;
    };
    contract::run_all(&q).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_queue_finds_its_dead_letter_queue_from_the_redrive_policy() {
    let Some(q) = webhook_support::sqs_queue(5).await else {
        return;
    };
    let bare = satsgate::queue::sqs::SqsQueue::new(webhook_support::sqs_client().unwrap(), q.url());
    assert_eq!(bare.discover_dlq().await.unwrap().as_deref(), q.dlq_url());
}

#[tokio::test]
async fn table_queue_survives_a_restart() {
    use satsgate::queue::Queue;
    use std::time::Duration;
    let dir =
        std::env::temp_dir().join(format!("satsgate-queue-{}", uuid::Uuid::new_v4().simple()));
    {
        let t = Arc::new(satsgate::table::sqlite::SqliteTable::open(&dir).unwrap());
        let q = TableQueue::new(t, Arc::new(SystemClock), "persist");
        q.send("kept", Duration::ZERO).await.unwrap();
        let got = q
            .receive(1, Duration::from_millis(200), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(got.len(), 1, "received, not deleted: the process dies now");
    }
    let t = Arc::new(satsgate::table::sqlite::SqliteTable::open(&dir).unwrap());
    let q = TableQueue::new(t, Arc::new(SystemClock), "persist");
    let got = q
        .receive(1, Duration::from_secs(30), Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(
        got.len(),
        1,
        "back after its visibility timeout, after a restart"
    );
    assert_eq!((got[0].body.as_str(), got[0].receive_count), ("kept", 2));
    std::fs::remove_dir_all(&dir).ok();
}
