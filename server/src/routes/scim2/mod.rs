//! SCIM 2.0 (RFC 7643, RFC 7644): `/scim2/Users`, `/scim2/Me`, and Roles v2 at
//! `/scim2/v2/Roles`.

pub mod error;
pub mod filter;
pub mod roles;
pub mod users;

use crate::state::AppState;
use axum::{
    Router,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use error::ScimError;
use serde_json::Value;

/// The SCIM media type (RFC 7644 §3.1).
pub const SCIM_JSON: &str = "application/scim+json";
/// RFC 7644 §3.5.2.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// RFC 7644 §3.4.2.
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// A SCIM response: `body` as `application/scim+json`.
pub fn scim(status: StatusCode, body: Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    response
}

/// A request body as `T`, or `400 invalidSyntax`.
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, ScimError> {
    serde_json::from_str(body).map_err(|e| {
        ScimError::new(
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            format!("The body is not valid JSON for this request: {e}"),
        )
    })
}

pub fn router() -> Router<AppState> {
    users::router().merge(roles::router())
}
