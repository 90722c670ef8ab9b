//! The subject token response of `/oauth2/authorize` (SPEC §2.1, WSO2's impersonation):
//! `response_type=subject_token` or `id_token subject_token`, `requested_subject`, the
//! `internal_user_impersonate` scope. The checks run in order; the first failure is an
//! error redirect and an audit record with its reason. Tokens go only in the fragment or
//! a form post, never in a query.

use super::authorize::{Responder, ResponseMode, to_login};
use super::error::ErrorCode;
use super::params::Params;
use crate::state::AppState;
use axum::response::Response;
use identity::audit::{self, Event, action};
use identity::entities::application;
use identity::impersonation::{self, SubjectClaims};
use identity::oauth::{claims::Actor, clients, grant_type, grants, scope, token_type};
use identity::{clock, scopes, sessions};
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

    // Check 1: the application may do this at all.
    if !app.subject_token_enabled || !clients::allows_grant(app, grant_type::TOKEN_EXCHANGE) {
        return responder.error(
            ErrorCode::UnauthorizedClient,
            "This application is not enabled for impersonation (subject token and token exchange).",
        );
    }
    let Some(current) = current else {
        if params.get("prompt") == Some("none") {
            return responder.error(ErrorCode::LoginRequired, "The user is not signed in.");
        }
        return to_login(&params.without("prompt"));
    };
    let org = current.user.organization_id;
    let settings = match identity::settings::impersonation(&state.db, org).await {
        Ok(settings) => settings,
        Err(error) => return responder.error(ErrorCode::ServerError, &fault(error)),
    };
    let reason = params.get("reason").unwrap_or("").trim().to_owned();

    let deny = |denied: String| {
        let event = Event {
            action: action::IMPERSONATION_DENIED,
            success: false,
            actor_id: Some(current.user.id.to_string()),
            target_id: Some(target_id.to_owned()),
            client_id: Some(app.client_id.clone()),
            reason: denied,
            ..Event::default()
        };
        let db = state.db.clone();
        async move {
            if let Err(error) = audit::record(&db, event).await {
                tracing::error!("audit: {error}");
            }
        }
    };
    // Checks 2 to 4: permission, target, privilege.
    let target = match impersonation::check_pair(&state.db, app, &current.user, target_id).await {
        Ok(Ok(target)) => target,
        Ok(Err(denied)) => {
            deny(denied.to_string()).await;
            return responder.error(
                ErrorCode::AccessDenied,
                "The requested user cannot be impersonated by you through this application.",
            );
        }
        Err(error) => return responder.error(ErrorCode::ServerError, &fault(error)),
    };
    // Check 5: no chaining, one at a time.
    match impersonation::check_session(&state.db, &current.session).await {
        Ok(Ok(())) => {}
        Ok(Err(denied)) => {
            deny(denied.to_string()).await;
            return responder.error(
                ErrorCode::AccessDenied,
                &format!("Impersonation refused: {denied}."),
            );
        }
        Err(error) => return responder.error(ErrorCode::ServerError, &fault(error)),
    }
    if settings.require_reason && reason.is_empty() {
        deny("no reason given".into()).await;
        return responder.error(
            ErrorCode::InvalidRequest,
            "A reason is required to impersonate a user.",
        );
    }
    // Check 6: what the target may be granted here.
    let wanted: Vec<String> = requested
        .iter()
        .filter(|s| *s != scopes::USER_IMPERSONATE)
        .cloned()
        .collect();
    let granted = match scope::grantable(&state.db, target.id, app, &wanted).await {
        Ok(granted) => granted,
        Err(error) => return responder.error(ErrorCode::ServerError, &fault(error)),
    };

    let now = clock::now();
    let claims = SubjectClaims {
        iss: state.provider.issuer.clone(),
        sub: target.id.to_string(),
        aud: app.client_id.clone(),
        azp: app.client_id.clone(),
        client_id: app.client_id.clone(),
        scope: scope::join(&granted),
        may_act: Actor {
            sub: current.user.id.to_string(),
        },
        iat: now,
        nbf: now,
        exp: now + i64::from(app.subject_token_expiry_secs),
        jti: identity::db::new_record_id().to_string(),
        sid: current.session.id.to_string(),
        reason: reason.clone(),
        code_challenge,
    };
    let subject_token = match state.provider.keys.sign(token_type::SUBJECT, &claims) {
        Ok(token) => token,
        Err(error) => return responder.error(ErrorCode::ServerError, &fault(error)),
    };
    let mut fields = Vec::new();
    if with_id_token {
        match grants::id_token(
            &state.provider,
            app,
            &current.user,
            &requested,
            current.session.auth_time,
            nonce,
            Some(current.session.id),
        ) {
            Ok(id_token) => fields.push(("id_token", id_token)),
            Err(error) => return responder.error(ErrorCode::ServerError, &fault(error)),
        }
    }
    fields.push(("subject_token", subject_token));
    fields.push((
        "session_state",
        session_state(&app.client_id, current.session.id),
    ));
    let issued = Event {
        action: action::SUBJECT_TOKEN_ISSUED,
        success: true,
        actor_id: Some(current.user.id.to_string()),
        impersonator_id: Some(current.user.id.to_string()),
        target_id: Some(target.id.to_string()),
        client_id: Some(app.client_id.clone()),
        scope: Some(claims.scope.clone()),
        reason,
        ..Event::default()
    };
    if let Err(error) = audit::record(&state.db, issued).await {
        return responder.error(ErrorCode::ServerError, &fault(error));
    }
    responder.respond(fields)
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

fn fault(error: impl std::fmt::Display) -> String {
    tracing::error!("subject token: {error}");
    "The server could not complete the request.".to_owned()
}
