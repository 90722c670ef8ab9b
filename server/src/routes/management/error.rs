//! Errors of the management API (`/api/server/v1/*`), in the shape of WSO2's:
//! `{"code", "message", "description"}`, plus `fields` for validation problems.

use crate::routes::api_auth::AuthError;
use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

#[derive(Debug)]
pub enum ApiError {
    Unauthenticated,
    Forbidden(String),
    /// The caller lacks the endpoint's scope (403, recorded naming the user refused).
    Lacks(&'static str, Option<uuid::Uuid>),
    /// The delegation rule refused the change (403, recorded naming the caller).
    Refused(identity::delegation::Refusal),
    NotFound(&'static str),
    Conflict(String),
    Invalid(Vec<(&'static str, String)>),
    BadRequest(String),
    /// Too many password checks at once: 503 with `Retry-After`.
    Busy,
    Internal,
}

impl ApiError {
    /// A body that does not parse as the endpoint's JSON (400).
    pub fn bad_body(error: impl std::fmt::Display) -> Self {
        Self::BadRequest(format!("The body is not valid: {error}"))
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Unauthenticated => Self::Unauthenticated,
            AuthError::Forbidden(scope, actor) => Self::Lacks(scope, actor),
            AuthError::Busy => Self::Busy,
            AuthError::Internal => Self::Internal,
        }
    }
}

impl From<identity::delegation::Refusal> for ApiError {
    fn from(refusal: identity::delegation::Refusal) -> Self {
        Self::Refused(refusal)
    }
}

impl From<identity::Error> for ApiError {
    fn from(error: identity::Error) -> Self {
        tracing::error!("management API: {error:#}");
        Self::Internal
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let actor = match &self {
            Self::Refused(refusal) => refusal.actor,
            Self::Lacks(_, actor) => *actor,
            _ => None,
        };
        let (status, code, message, description, fields) = match self {
            Self::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "AUT-10001",
                "Unauthorized",
                "Authenticate with HTTP Basic or a Bearer access token.".to_owned(),
                None,
            ),
            Self::Forbidden(d) => (StatusCode::FORBIDDEN, "AUT-10002", "Forbidden", d, None),
            Self::Lacks(scope, _) => (
                StatusCode::FORBIDDEN,
                "AUT-10002",
                "Forbidden",
                format!("The caller lacks the scope {scope}."),
                None,
            ),
            Self::Refused(refusal) => (
                StatusCode::FORBIDDEN,
                "AUT-10002",
                "Forbidden",
                format!("Not allowed: {refusal}."),
                None,
            ),
            Self::NotFound(what) => (
                StatusCode::NOT_FOUND,
                "API-60004",
                "Resource not found",
                format!("No {what} with this id."),
                None,
            ),
            Self::Conflict(d) => (StatusCode::CONFLICT, "API-60007", "Conflict", d, None),
            Self::BadRequest(d) => (
                StatusCode::BAD_REQUEST,
                "API-60001",
                "Invalid request",
                d,
                None,
            ),
            Self::Invalid(problems) => {
                let description = problems
                    .iter()
                    .map(|(_, m)| m.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                let fields: Vec<_> = problems
                    .iter()
                    .map(|(f, m)| json!({ "field": f, "message": m }))
                    .collect();
                (
                    StatusCode::BAD_REQUEST,
                    "API-60001",
                    "Invalid request",
                    description,
                    Some(fields),
                )
            }
            Self::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "API-65003",
                "Busy",
                "Too many sign-ins at once; try again in a moment.".to_owned(),
                None,
            ),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "API-65001",
                "Server error",
                "The server could not complete the request.".to_owned(),
                None,
            ),
        };
        // Whatever the caller sent and we quote stays within the echo limit.
        let mut description = description;
        identity::text::bound(&mut description, identity::text::ECHO_LIMIT);
        let fields = fields.map(|fields| {
            fields
                .into_iter()
                .map(|mut field| {
                    if let Some(message) = field["message"].as_str() {
                        field["message"] =
                            json!(identity::text::at_most(message, identity::text::ECHO_LIMIT));
                    }
                    field
                })
                .collect::<Vec<_>>()
        });
        let mut body = json!({ "code": code, "message": message, "description": &description });
        if let Some(fields) = fields {
            body["fields"] = json!(fields);
        }
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="management", Bearer realm="management""#),
            );
        }
        crate::routes::rejections::mark_by(response, code, &description, actor)
    }
}
