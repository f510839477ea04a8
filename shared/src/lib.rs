//! satsgate: the domain, the ports and every adapter of the gateway.

pub mod account;
pub mod app;
pub mod auth;
pub mod chain;
pub mod clock;
pub mod dashboard;
pub mod dispatch;
pub mod edge;
pub mod error;
pub mod events;
pub mod faces;
pub mod handlers;
pub mod http;
pub mod ids;
pub mod invoice;
pub mod metrics;
pub mod money;
pub mod network;
pub mod openapi;
pub mod prices;
pub mod push;
pub mod queue;
pub mod ratelimit;
pub mod records;
pub mod routes;
pub mod schema;
pub mod store;
pub mod table;
pub mod telemetry;
pub mod users;
pub mod wallet;
pub mod webhooks;
pub mod ws;

pub use app::App;
pub use error::{ApiError, ErrorCode};
pub use network::Network;
