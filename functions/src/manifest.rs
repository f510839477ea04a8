//! What each function's code uses beyond the table. Init builds exactly
//! these adapters (`App::for_lambda`), and a test compares the list with
//! each function's environment and IAM policies in template.yaml.

use satsgate::app::Needs;

const TABLE: Needs = Needs::TABLE;

/// The functions that are not rows of the route table: jobs and the
/// WebSocket routes, with their needs.
pub static JOBS: &[(&str, Needs)] = &[
    ("chain-poller", TABLE),
    (
        "price-poller",
        Needs {
            exchanges: true,
            ..TABLE
        },
    ),
    (
        "events-fanout",
        Needs {
            queue: true,
            push: true,
            ..TABLE
        },
    ),
    (
        "webhook-dispatcher",
        Needs {
            queue: true,
            queue_consumer: true,
            ..TABLE
        },
    ),
    // Every /dashboard path; the v1 routes it proxies may enqueue webhooks.
    (
        "dashboard",
        Needs {
            queue: true,
            ..TABLE
        },
    ),
    ("ws-connect", TABLE),
    ("ws-default", TABLE),
    ("ws-disconnect", TABLE),
];

/// HTTP routes (rows of the route table) that need more than the table;
/// every other route needs only the table.
pub static ROUTE_NEEDS: &[(&str, Needs)] = &[
    (
        "sandbox-simulate-webhook",
        Needs {
            queue: true,
            ..TABLE
        },
    ),
    (
        "webhook-deliveries-redeliver",
        Needs {
            queue: true,
            ..TABLE
        },
    ),
];

/// The needs of `function`, or None when it is neither a route nor a job.
pub fn needs(function: &str) -> Option<Needs> {
    let listed = |list: &[(&str, Needs)]| {
        list.iter()
            .find(|(name, _)| *name == function)
            .map(|(_, n)| *n)
    };
    if satsgate::routes::route_of(function).is_some() {
        return Some(listed(ROUTE_NEEDS).unwrap_or(TABLE));
    }
    listed(JOBS)
}

/// Every function: the route table's functions, then the jobs.
pub fn all() -> impl Iterator<Item = &'static str> {
    satsgate::routes::ROUTES
        .iter()
        .map(|r| r.function)
        .chain(JOBS.iter().map(|(name, _)| *name))
}
