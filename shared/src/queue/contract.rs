//! The contract every `Queue` adapter meets, run against `TableQueue` (both
//! table engines) and `SqsQueue` on moto_server. Times are whole seconds so
//! SQS can honour them. `run_all` needs a fresh, empty queue whose redrive
//! happens after 2 receives.

use super::{Message, Queue};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const SEC: Duration = Duration::from_secs(1);

/// Run every check, in order, on one fresh queue (max receives = 2).
pub async fn run_all(q: &dyn Queue) {
    send_receive_delete(q).await;
    delayed_messages_wait(q).await;
    visibility_hides_and_returns(q).await;
    dead_letter_moves_at_once(q).await;
    redrive_after_max_receives(q).await;
}

fn bodies(ms: &[Message]) -> BTreeSet<String> {
    ms.iter().map(|m| m.body.clone()).collect()
}

/// Receive until `n` messages arrived or `within` passed.
async fn receive_n(
    q: &dyn Queue,
    n: usize,
    visibility: Duration,
    within: Duration,
) -> Vec<Message> {
    let start = Instant::now();
    let mut got = Vec::new();
    while got.len() < n && start.elapsed() < within {
        got.extend(q.receive(10, visibility, SEC).await.expect("receive"));
    }
    got
}

pub async fn send_receive_delete(q: &dyn Queue) {
    let a = q.send("one", Duration::ZERO).await.expect("send");
    let b = q.send("two", Duration::ZERO).await.expect("send");
    assert_ne!(a, b, "message ids are distinct");
    let got = receive_n(q, 2, 30 * SEC, 10 * SEC).await;
    assert_eq!(
        bodies(&got),
        BTreeSet::from(["one".to_string(), "two".to_string()]),
        "both messages received"
    );
    assert!(
        got.iter().all(|m| m.receive_count == 1),
        "first receive counts 1: {got:?}"
    );
    assert!(
        got.iter().any(|m| m.id == a) && got.iter().any(|m| m.id == b),
        "ids as sent"
    );
    let again = q.receive(10, 30 * SEC, Duration::ZERO).await.unwrap();
    assert!(again.is_empty(), "received messages are hidden: {again:?}");
    for m in &got {
        q.delete(&m.receipt).await.expect("delete");
    }
    q.change_visibility(&got[0].receipt, Duration::ZERO)
        .await
        .ok();
    let after = q.receive(10, 30 * SEC, SEC).await.unwrap();
    assert!(
        after.is_empty(),
        "deleted messages never come back: {after:?}"
    );
}

pub async fn delayed_messages_wait(q: &dyn Queue) {
    let started = Instant::now();
    q.send("later", 2 * SEC).await.expect("send with delay");
    let now = q.receive(10, 30 * SEC, Duration::ZERO).await.unwrap();
    assert!(
        now.is_empty(),
        "a delayed message is invisible at first: {now:?}"
    );
    let got = receive_n(q, 1, 30 * SEC, 10 * SEC).await;
    assert_eq!(bodies(&got), BTreeSet::from(["later".to_string()]));
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "not before its delay: {:?}",
        started.elapsed()
    );
    q.delete(&got[0].receipt).await.unwrap();
}

pub async fn visibility_hides_and_returns(q: &dyn Queue) {
    q.send("retry me", Duration::ZERO).await.unwrap();
    let first = receive_n(q, 1, 30 * SEC, 10 * SEC).await;
    assert_eq!(first.len(), 1);
    // Hidden for 2 s by change_visibility, then back, not before.
    let hidden_at = Instant::now();
    q.change_visibility(&first[0].receipt, 2 * SEC)
        .await
        .expect("change visibility");
    let none = q.receive(10, 30 * SEC, Duration::ZERO).await.unwrap();
    assert!(none.is_empty(), "hidden by change_visibility");
    let second = receive_n(q, 1, 30 * SEC, 10 * SEC).await;
    assert_eq!(second.len(), 1, "back after the visibility timeout");
    assert!(
        hidden_at.elapsed() >= Duration::from_millis(1900),
        "not before: {:?}",
        hidden_at.elapsed()
    );
    assert_eq!(second[0].id, first[0].id, "same message");
    assert_eq!(second[0].receive_count, 2, "receives are counted");
    q.delete(&second[0].receipt)
        .await
        .expect("delete with the latest receipt");
}

pub async fn dead_letter_moves_at_once(q: &dyn Queue) {
    q.send("poison", Duration::ZERO).await.unwrap();
    let got = receive_n(q, 1, 30 * SEC, 10 * SEC).await;
    assert_eq!(got.len(), 1);
    q.dead_letter(&got[0]).await.expect("dead_letter");
    let dead = q.dead_letters(10).await.unwrap();
    assert!(
        dead.iter().any(|m| m.body == "poison"),
        "in the DLQ: {dead:?}"
    );
    q.change_visibility(&got[0].receipt, Duration::ZERO)
        .await
        .ok();
    let none = q.receive(10, 30 * SEC, SEC).await.unwrap();
    assert!(
        none.iter().all(|m| m.body != "poison"),
        "gone from the queue: {none:?}"
    );
}

/// Needs max receives = 2.
pub async fn redrive_after_max_receives(q: &dyn Queue) {
    q.send("flaky", Duration::ZERO).await.unwrap();
    for n in 1..=2 {
        let got = receive_n(q, 1, 30 * SEC, 10 * SEC).await;
        assert_eq!(got.len(), 1, "receive {n}");
        assert_eq!(got[0].receive_count, n);
        // Visible again at once after a zero visibility timeout.
        q.change_visibility(&got[0].receipt, Duration::ZERO)
            .await
            .unwrap();
    }
    let third = q.receive(10, 30 * SEC, SEC).await.unwrap();
    assert!(
        third.is_empty(),
        "a message received max times goes to the DLQ, not to a consumer: {third:?}"
    );
    let dead = q.dead_letters(10).await.unwrap();
    assert!(
        dead.iter().any(|m| m.body == "flaky"),
        "redriven to the DLQ: {dead:?}"
    );
}
