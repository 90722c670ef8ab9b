//! SCIM 2.0 (RFC 7643, RFC 7644): `/scim2/Users`, `/scim2/Me`, and Roles v2 at
//! `/scim2/v2/Roles`.

pub mod error;
pub mod filter;
pub mod roles;
pub mod users;

use crate::state::AppState;
use axum::Router;

/// The SCIM media type (RFC 7644 §3.1).
pub const SCIM_JSON: &str = "application/scim+json";

pub fn router() -> Router<AppState> {
    users::router().merge(roles::router())
}
