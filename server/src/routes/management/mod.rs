//! The management API, `/api/server/v1/*`, in the shape of WSO2's where it has one.
//! Every handler starts by authenticating the caller and checking its scope.

pub mod api_resources;
pub mod applications;
pub mod audit;
pub mod configs;
pub mod email_templates;
pub mod error;
pub mod impersonation_requests;
pub mod impersonation_sessions;
pub mod keys;
pub mod organizations;
pub mod webhooks;

use crate::state::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(applications::router())
        .merge(api_resources::router())
        .merge(configs::router())
        .merge(email_templates::router())
        .merge(audit::router())
        .merge(impersonation_requests::router())
        .merge(impersonation_sessions::router())
        .merge(keys::router())
        .merge(organizations::router())
        .merge(webhooks::router())
}
