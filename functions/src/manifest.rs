//! What each function's code uses beyond the table. Init builds exactly
//! these adapters (`App::for_lambda`), read as constants so each binary
//! links only those, and a test compares the list with each function's
//! environment and IAM policies in template.yaml.

use satsgate::bootstrap::Needs;

const TABLE: Needs = Needs::TABLE;

/// Reads a chain (Esplora, or the sandbox chain in a sandbox stack).
const CHAIN: Needs = Needs {
    chain: true,
    ..TABLE
};

/// Creates invoices: a fixed-address request asks its chain for the
/// address's history, and the invoice's webhooks are enqueued by fan-out.
const CREATES_INVOICES: Needs = CHAIN;

/// The functions that are not rows of the route table: jobs and the
/// WebSocket routes, with their needs.
pub const JOBS: &[(&str, Needs)] = &[
    ("chain-poller", CHAIN),
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
    // Every /dashboard path; the v1 routes it proxies may enqueue webhooks
    // and read chains (sandbox payments, currencies, quotes).
    (
        "dashboard",
        Needs {
            queue: true,
            chain: true,
            ..TABLE
        },
    ),
    ("ws-connect", TABLE),
    // `create_invoice` over the socket.
    ("ws-default", CREATES_INVOICES),
    ("ws-disconnect", TABLE),
];

/// HTTP routes (rows of the route table) that need more than the table;
/// every other route needs only the table.
pub const ROUTE_NEEDS: &[(&str, Needs)] = &[
    (
        "sandbox-simulate-webhook",
        Needs {
            queue: true,
            chain: true,
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
    // The networks served are listed.
    ("currencies-list", CHAIN),
    // A quote's network fee is the chain's estimate.
    ("quotes-create", CHAIN),
    ("pos-get-rate", CHAIN),
    ("invoices-create", CREATES_INVOICES),
    ("panel-invoices-create", CREATES_INVOICES),
    ("cryptopay-orders-create", CREATES_INVOICES),
    ("pos-start-payment", CREATES_INVOICES),
    ("anypay-request-create", CREATES_INVOICES),
    ("payment-request-create", CREATES_INVOICES),
    // Broadcasts the buyer's transaction.
    ("payment-request-pay", CHAIN),
    ("sandbox-payments", CHAIN),
    ("sandbox-blocks", CHAIN),
    ("sandbox-reorg", CHAIN),
    ("sandbox-double-spend", CHAIN),
];

/// `a == b`, usable in constants.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The entry of `function` in `list`.
const fn listed(list: &[(&str, Needs)], function: &str) -> Option<Needs> {
    let mut i = 0;
    while i < list.len() {
        if same(list[i].0, function) {
            return Some(list[i].1);
        }
        i += 1;
    }
    None
}

/// The needs of the route function `function` (a constant in a binary).
pub const fn route_needs(function: &str) -> Needs {
    match listed(ROUTE_NEEDS, function) {
        Some(needs) => needs,
        None => TABLE,
    }
}

/// The needs of the job `function`; a job that is not listed does not
/// compile.
pub const fn job_needs(function: &str) -> Needs {
    match listed(JOBS, function) {
        Some(needs) => needs,
        None => panic!("a job missing from manifest::JOBS"),
    }
}

/// The needs of `function`, or None when it is neither a route nor a job.
pub fn needs(function: &str) -> Option<Needs> {
    if satsgate::routes::route_of(function).is_some() {
        return Some(route_needs(function));
    }
    listed(JOBS, function)
}

/// Every function: the route table's functions, then the jobs.
pub fn all() -> impl Iterator<Item = &'static str> {
    satsgate::routes::ROUTES
        .iter()
        .map(|r| r.function)
        .chain(JOBS.iter().map(|(name, _)| *name))
}
