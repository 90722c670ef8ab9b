//! The subject token response of `/oauth2/authorize` (SPEC §2.1, WSO2's impersonation):
//! `response_type=subject_token` or `id_token subject_token`, `requested_subject`, the
//! `internal_user_impersonate` scope. This adapter checks the request's form and answers
//! on the wire; the rules and the token are `identity::impersonation::subject_token`'s.
//! Tokens go only in the fragment or a form post, never in a query.

use super::authorize::{Responder, ResponseMode, to_login};
use super::error::{ErrorCode, subject_token_error};
use super::params::Params;
use crate::state::AppState;
use axum::response::Response;
use identity::entities::application;
use identity::impersonation::policy;
use identity::impersonation::subject_token::{self, IssueError};
use identity::oauth::scope;
use identity::settings::Mode;
use identity::{scopes, sessions};
use uuid::Uuid;

/// Everything the impersonation branch needs from the authorization request.
pub struct Request<'a> {
    pub app: &'a application::Model,
    pub params: &'a Params,
    pub with_id_token: bool,
    pub explicit_mode: Option<ResponseMode>,
    pub current: Option<sessions::Current>,
}

pub async fn authorize(
    state: &AppState,
    request: Request<'_>,
    mut responder: Responder,
) -> Response {
    let Request {
        app,
        params,
        with_id_token,
        explicit_mode,
        current,
    } = request;
    // Tokens never travel in a query string.
    match explicit_mode {
        Some(ResponseMode::Query) => {
            responder.set_mode(ResponseMode::Fragment);
            return responder.error(
                ErrorCode::InvalidRequest,
                "Tokens are never sent in a query; use fragment or form_post.",
            );
        }
        Some(mode) => responder.set_mode(mode),
        None => responder.set_mode(ResponseMode::Fragment),
    }
    let requested = params.get("scope").map(scope::parse).unwrap_or_default();
    let Some(target_id) = params.get("requested_subject") else {
        return responder.error(ErrorCode::InvalidRequest, "requested_subject is missing.");
    };
    if !requested.iter().any(|s| s == scopes::USER_IMPERSONATE) {
        return responder.error(
            ErrorCode::InvalidScope,
            "The scope internal_user_impersonate is required.",
        );
    }
    let nonce = params.get("nonce").map(str::to_owned);
    if with_id_token && nonce.is_none() {
        return responder.error(
            ErrorCode::InvalidRequest,
            "nonce is required when an ID token is requested.",
        );
    }
    let code_challenge = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (Some(c), Some("S256")) => Some(c.to_owned()),
        (Some(_), _) | (None, Some(_)) => {
            return responder.error(
                ErrorCode::InvalidRequest,
                "Only PKCE with S256 is supported.",
            );
        }
        (None, None) if app.public_client => {
            return responder.error(
                ErrorCode::InvalidRequest,
                "PKCE (code_challenge with S256) is required for this application.",
            );
        }
        (None, None) => None,
    };

    let mode = match params.get("mode").map(Mode::parse) {
        None => None,
        Some(Some(mode)) => Some(mode),
        Some(None) => {
            return responder.error(ErrorCode::InvalidRequest, "mode takes full or readOnly.");
        }
    };

    // Ours: how long the session should last, within the organization's limit.
    let duration_minutes = match params.get("duration_minutes").map(str::parse::<i64>) {
        None => None,
        Some(Ok(minutes)) if minutes >= 1 => {
            Some(minutes.min(identity::settings::MAX_DURATION_MINUTES))
        }
        Some(_) => {
            return responder.error(
                ErrorCode::InvalidRequest,
                "duration_minutes takes a whole number of minutes, at least 1.",
            );
        }
    };

    // Check 1 before anything else: an application not enabled for impersonation never
    // sends anybody to sign in.
    if !policy::application_enabled(app) {
        let refused = IssueError::Refused(policy::Refusal::ApplicationNotEnabled);
        let (code, description) = subject_token_error(&refused);
        return responder.error(code, &description);
    }
    // OIDC `max_age` and `prompt=login` ask for a password entered recently, here too (a
    // step-up the client asks for itself).
    let max_age = match params.get("max_age").map(str::parse::<i64>) {
        None => None,
        Some(Ok(age)) if age >= 0 => Some(age),
        Some(_) => {
            return responder.error(
                ErrorCode::InvalidRequest,
                "max_age must be a number of seconds.",
            );
        }
    };
    let prompts: Vec<&str> = params.get("prompt").unwrap_or("").split(' ').collect();
    let current = current.filter(|c| {
        !prompts.contains(&"login")
            && max_age.is_none_or(|age| identity::clock::now() - c.session.auth_time <= age)
    });
    let Some(current) = current else {
        if params.get("prompt") == Some("none") {
            return responder.error(ErrorCode::LoginRequired, "The user is not signed in.");
        }
        return to_login(&params.without("prompt"));
    };
    let issued = subject_token::issue(
        &state.provider,
        subject_token::Request {
            app,
            signed_in: &current,
            requested_subject: target_id,
            scopes: &requested,
            reason: params.get("reason").unwrap_or(""),
            ticket: params.get("ticket").unwrap_or(""),
            mode,
            duration_minutes,
            code_challenge,
            id_token_nonce: if with_id_token { nonce } else { None },
        },
    )
    .await;
    match issued {
        Ok(issued) => {
            let mut fields = Vec::new();
            if let Some(id_token) = issued.id_token {
                fields.push(("id_token", id_token));
            }
            fields.push(("subject_token", issued.subject_token));
            fields.push((
                "session_state",
                session_state(&app.client_id, current.session.id),
            ));
            responder.respond(fields)
        }
        // A step-up: the impersonator signs in again, and the request goes on (as with
        // `max_age`), unless the client asked for no prompt.
        Err(IssueError::Refused(refusal))
            if refusal.check() == policy::Check::StepUp && params.get("prompt") != Some("none") =>
        {
            to_login(&params.without("prompt"))
        }
        Err(error) => {
            let (code, description) = subject_token_error(&error);
            responder.error(code, &description)
        }
    }
}

/// OpenID Connect Session Management's `session_state`: opaque, derived from the client
/// and the session, never the session id itself.
fn session_state(client_id: &str, session: Uuid) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use sha2::{Digest, Sha256};
    let salt = identity::tokens::random_token();
    let digest = Sha256::digest(format!("{client_id} {session} {salt}").as_bytes());
    format!("{}.{}", URL_SAFE_NO_PAD.encode(digest), &salt[..16])
}
