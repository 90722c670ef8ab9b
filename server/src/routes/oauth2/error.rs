//! OAuth 2.0 errors exactly as the wire wants them: RFC 6749 §5.2 (token endpoint), §4.1.2.1
//! (authorization redirects), RFC 6750 §3.1 (bearer resources), RFC 7009 and RFC 8693 codes.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use identity::impersonation::exchange::ExchangeError;
use identity::impersonation::policy::Check;
use identity::impersonation::subject_token::IssueError;
use serde::Serialize;
use std::borrow::Cow;

/// An error code of the OAuth specifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    ServerError,
    /// RFC 8693 §2.2.2.
    InvalidTarget,
    /// RFC 7009 §2.2.1.
    UnsupportedTokenType,
    /// OpenID Connect Core §3.1.2.6.
    LoginRequired,
    ConsentRequired,
    RequestNotSupported,
    RequestUriNotSupported,
    /// RFC 6750 §3.1.
    InvalidToken,
    InsufficientScope,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::InvalidTarget => "invalid_target",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
        }
    }
}

/// An error answered as `{"error", "error_description"}` with `Cache-Control: no-store`.
#[derive(Debug)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: Cow<'static, str>,
    /// Set when the client tried HTTP Basic: the answer is then 401 with a challenge.
    pub basic_challenge: bool,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'static str,
    error_description: &'a str,
}

impl OAuthError {
    /// The description may quote the caller: it is cut at [`identity::text::ECHO_LIMIT`].
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        let mut description = description.into();
        if let Cow::Owned(text) = &mut description {
            identity::text::bound(text, identity::text::ECHO_LIMIT);
        }
        Self {
            code,
            description,
            basic_challenge: false,
        }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    /// `invalid_client`; 401 with `WWW-Authenticate: Basic` when Basic was used.
    pub fn invalid_client(basic: bool) -> Self {
        Self {
            code: ErrorCode::InvalidClient,
            description: "Client authentication failed.".into(),
            basic_challenge: basic,
        }
    }

    /// A server fault: the cause is logged, the client learns nothing of it.
    pub fn server(error: impl std::fmt::Display) -> Self {
        tracing::error!("token endpoint failure: {error}");
        Self::new(
            ErrorCode::ServerError,
            "The server could not complete the request.",
        )
    }

    fn status(&self) -> StatusCode {
        match self.code {
            ErrorCode::InvalidClient if self.basic_challenge => StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
            ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<identity::Error> for OAuthError {
    fn from(error: identity::Error) -> Self {
        Self::server(error)
    }
}

/// The token exchange's failures (SPEC §2.2): `invalid_target` for a subject token of
/// another client, a server error for a fault, `invalid_request` for everything else.
impl From<ExchangeError> for OAuthError {
    fn from(error: ExchangeError) -> Self {
        match error {
            ExchangeError::Internal(error) => Self::server(error),
            ExchangeError::OtherClient => Self::new(ErrorCode::InvalidTarget, error.to_string()),
            other => Self::invalid_request(other.to_string()),
        }
    }
}

/// The subject token's failures (SPEC §2.1), as the error redirect of the authorization
/// endpoint sends them: the code, and a description that names the failing rule only when
/// that tells the impersonator nothing about the requested user.
pub fn subject_token_error(error: &IssueError) -> (ErrorCode, Cow<'static, str>) {
    let IssueError::Refused(refusal) = error else {
        tracing::error!("subject token: {error}");
        return (
            ErrorCode::ServerError,
            "The server could not complete the request.".into(),
        );
    };
    match refusal.check() {
        Check::Application => (
            ErrorCode::UnauthorizedClient,
            "This application is not enabled for impersonation (subject token and token exchange)."
                .into(),
        ),
        Check::Pair => (
            ErrorCode::AccessDenied,
            "The requested user cannot be impersonated by you through this application.".into(),
        ),
        Check::SignIn => (
            ErrorCode::AccessDenied,
            format!("Impersonation refused: {refusal}.").into(),
        ),
        Check::Approval | Check::StepUp | Check::Reason | Check::Ticket | Check::Mode => {
            let code = match refusal.check() {
                Check::Approval => ErrorCode::AccessDenied,
                Check::StepUp => ErrorCode::LoginRequired,
                _ => ErrorCode::InvalidRequest,
            };
            (code, refusal.requirement().unwrap_or_default().into())
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (
            status,
            Json(Body {
                error: self.code.as_str(),
                error_description: &self.description,
            }),
        )
            .into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.code == ErrorCode::InvalidClient {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="oauth2", charset="UTF-8""#),
            );
        }
        if matches!(
            self.code,
            ErrorCode::InvalidToken | ErrorCode::InsufficientScope
        ) {
            let challenge = format!(
                r#"Bearer realm="oauth2", error="{}", error_description="{}""#,
                self.code.as_str(),
                self.description.replace('"', "'")
            );
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                headers.insert(header::WWW_AUTHENTICATE, value);
            }
        }
        crate::routes::rejections::mark(response, self.code.as_str(), &self.description)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    async fn parts(error: OAuthError) -> (StatusCode, axum::http::HeaderMap, String) {
        let response = error.into_response();
        let status = response.status();
        let headers = response.headers().clone();
        let body = to_bytes(response.into_body(), 1 << 16).await.unwrap();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn an_error_is_exactly_the_rfc_6749_json_and_never_cached() {
        let (status, headers, body) =
            parts(OAuthError::invalid_grant("The code was already used.")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            r#"{"error":"invalid_grant","error_description":"The code was already used."}"#
        );
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    }

    #[tokio::test]
    async fn invalid_client_through_basic_is_a_401_with_a_challenge() {
        let (status, headers, body) = parts(OAuthError::invalid_client(true)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            headers[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        assert!(body.starts_with(r#"{"error":"invalid_client""#));
    }

    #[tokio::test]
    async fn a_bad_bearer_token_gets_a_bearer_challenge() {
        let (status, headers, _) = parts(OAuthError::new(
            ErrorCode::InvalidToken,
            "The access token is not active.",
        ))
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            headers[header::WWW_AUTHENTICATE],
            r#"Bearer realm="oauth2", error="invalid_token", error_description="The access token is not active.""#
        );
    }
}
