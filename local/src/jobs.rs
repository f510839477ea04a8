//! satsgate-local's scheduler: the jobs that EventBridge schedules, SQS and
//! DynamoDB Streams trigger on AWS run here as tokio tasks on timers.

use satsgate::app::App;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How often each local job runs (tests shorten them).
#[derive(Debug, Clone)]
pub struct Schedule {
    pub price_poll: Duration,
    pub chain_poll: Duration,
    pub webhook_poll: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            price_poll: Duration::from_secs(60),
            chain_poll: Duration::from_secs(5),
            webhook_poll: Duration::from_millis(500),
        }
    }
}

/// Run `job` now and then every `every` until the task is aborted. A failing
/// run is logged; the next one runs on time.
pub fn spawn_every<F, Fut>(
    name: &'static str,
    every: Duration,
    job: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = job().await {
                tracing::warn!(job = name, error = %e, "job run failed");
            }
        }
    })
}

/// Start every background job; abort the handles to stop them.
pub fn start_jobs(app: Arc<App>, schedule: &Schedule) -> Vec<tokio::task::JoinHandle<()>> {
    let mut jobs = Vec::new();
    let _ = (&app, schedule);
    {
        let app = app.clone();
        jobs.push(spawn_every(
            "price-poller",
            schedule.price_poll,
            move || {
                let app = app.clone();
                async move {
                    satsgate::prices::poller::poll_prices(&app)
                        .await
                        .map(|_| ())
                }
            },
        ));
    }
    {
        let app = app.clone();
        jobs.push(spawn_every(
            "chain-poller",
            schedule.chain_poll,
            move || {
                let app = app.clone();
                async move {
                    satsgate::invoice::poller::poll_chain(&app)
                        .await
                        .map(|_| ())
                }
            },
        ));
    }
    // The stream + events-fanout and SQS + webhook-dispatcher of AWS: the
    // outbox is swept at start and every `webhook_poll`, the change feed
    // fans out new events at once; the dispatcher long-polls `app.queue`.
    jobs.push(tokio::spawn(satsgate::webhooks::worker::run_fanout(
        app.clone(),
        schedule.webhook_poll,
    )));
    jobs.push(tokio::spawn(satsgate::webhooks::worker::run_dispatcher(
        app.clone(),
        schedule.webhook_poll,
    )));
    jobs.shrink_to_fit();
    jobs
}
