//! SCIM errors (RFC 7644 §3.12): `application/scim+json` with `schemas`, `status`,
//! `scimType`, `detail`.

use crate::routes::api_auth::AuthError;
use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

#[derive(Debug)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
    /// The user refused, for the audit record of a delegation refusal.
    pub actor: Option<uuid::Uuid>,
}

impl ScimError {
    /// The detail may quote the caller: it is cut at [`identity::text::ECHO_LIMIT`].
    pub fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        let mut detail = detail.into();
        identity::text::bound(&mut detail, identity::text::ECHO_LIMIT);
        Self {
            status,
            scim_type,
            detail,
            actor: None,
        }
    }
    /// Names the user refused, for the `request-rejected` record.
    pub fn by(mut self, actor: uuid::Uuid) -> Self {
        self.actor = Some(actor);
        self
    }
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
    }
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidFilter"), detail)
    }
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, None, "No user with this id.")
    }
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, Some("uniqueness"), detail)
    }
}

impl From<AuthError> for ScimError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Unauthenticated => Self::new(
                StatusCode::UNAUTHORIZED,
                None,
                "Authentication is required.",
            ),
            AuthError::Forbidden(scope, actor) => {
                let mut refused = Self::new(
                    StatusCode::FORBIDDEN,
                    None,
                    format!("The caller lacks the scope {scope}."),
                );
                refused.actor = actor;
                refused
            }
            AuthError::Busy => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "Too many sign-ins at once; try again in a moment.",
            ),
            AuthError::Internal => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "The server could not complete the request.",
            ),
        }
    }
}

impl From<identity::delegation::Refusal> for ScimError {
    fn from(refusal: identity::delegation::Refusal) -> Self {
        let mut error = Self::new(
            StatusCode::FORBIDDEN,
            None,
            format!("Not allowed: {refusal}."),
        );
        error.actor = refusal.actor;
        error
    }
}

impl From<identity::Error> for ScimError {
    fn from(error: identity::Error) -> Self {
        tracing::error!("SCIM: {error:#}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "The server could not complete the request.",
        )
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let error = self.scim_type.unwrap_or("error");
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(kind) = self.scim_type {
            body["scimType"] = json!(kind);
        }
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(super::SCIM_JSON),
        );
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="scim", Bearer realm="scim""#),
            );
        }
        crate::routes::rejections::mark_by(response, error, &self.detail, self.actor)
    }
}
