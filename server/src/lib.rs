//! The identity server: configuration, the HTTP surface (OAuth 2.0 / OpenID Connect
//! endpoints, management API, server-rendered pages) and its start-up and shutdown.
//! The domain lives in the `identity` crate and the pages in `app`; this crate wires them.

pub mod config;
pub mod deliverer;
pub mod error;
pub mod mailer;
pub mod metrics;
pub mod operator;
pub mod routes;
pub mod shutdown;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use config::Config;
pub use startup::Application;
