//! The HTTP layer's error type for the browser-facing routes, mapped to a response in one
//! place. Unexpected errors are logged with their cause and answered with a generic 500.
//! (OAuth endpoints get their own wire-exact error type.)

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};

/// Everything a browser-facing handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A state-changing request from another origin (cross-site request forgery).
    #[error("cross-origin request refused")]
    CrossOrigin,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<identity::Error> for HttpError {
    fn from(error: identity::Error) -> Self {
        Self::Unexpected(anyhow::Error::new(error))
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        match self {
            Self::CrossOrigin => (
                StatusCode::FORBIDDEN,
                "This request came from another site and was refused.",
            )
                .into_response(),
            Self::Unexpected(error) => {
                tracing::error!("unexpected error: {error:#}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on the server. Try again later.",
                )
                    .into_response()
            }
        }
    }
}
