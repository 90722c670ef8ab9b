//! The Console's Impersonate User handoff, through the real protocol (SPEC §2.1, §2.2):
//!
//! 1. `POST /console/impersonate` with `user` and `reason` (the form of the user's page,
//!    opening a new tab; a write, so only from this server's own pages, `super::origin`:
//!    a link or a page of another site cannot start an impersonation) keeps a fresh `state`, `nonce` and PKCE verifier in a short-lived cookie scoped to
//!    the callback, and sends the browser to `/oauth2/authorize` for My Account with
//!    `response_type=id_token subject_token`, `requested_subject`, `response_mode=form_post`.
//! 2. `POST /myaccount/callback` receives the ID token and the subject token, checks
//!    `state` and the ID token's `nonce`, and makes the token exchange as My Account
//!    (`identity::impersonation::exchange`, with the PKCE verifier proving that this is
//!    the one that asked). The exchange
//!    attaches the impersonation session to this browser's IdP session, so My Account
//!    (and every application enabled for impersonation) now signs in as the target. The
//!    tokens stay on the server.

use crate::routes::oauth2::pages;
use crate::state::AppState;
use axum::{
    Form, Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::post,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use identity::impersonation::exchange::{self, ExchangeError};
use identity::oauth::{claims::IdClaims, codes, token_type};
use identity::scopes::MY_ACCOUNT_CLIENT_ID;
use serde::{Deserialize, Serialize};

const COOKIE: &str = "impersonation_handoff";
const CALLBACK: &str = "/myaccount/callback";
/// How long the handoff may take (sign-in prompts included).
const HANDOFF_SECS: i64 = 600;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/impersonate", post(start))
        .route(CALLBACK, post(callback))
}

/// What the callback needs to check the answer, kept in the handoff cookie.
#[derive(Serialize, Deserialize)]
struct Handoff {
    state: String,
    nonce: String,
    verifier: String,
}

#[derive(Deserialize)]
struct Start {
    user: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    ticket: String,
    /// `full` or `readOnly`; empty: the organization's default.
    #[serde(default)]
    mode: String,
    /// How long the session should last, in minutes (empty: as long as allowed).
    #[serde(default)]
    duration_minutes: String,
    /// The impersonator's password again, where the organization asks for a recent one
    /// (a step-up; empty: none given).
    #[serde(default)]
    password: String,
}

/// A step-up in the dialog: the signed-in user's password, checked (and counted toward a
/// lockout like any), moves the sign-in's `auth_time` to now. `Err` is the page to show.
async fn step_up(state: &AppState, headers: &HeaderMap, password: String) -> Result<(), Response> {
    let current = match app::ssr::session_cookie_value(headers, state.session_cookie()) {
        Some(cookie) => identity::sessions::resolve(&state.db, &cookie).await,
        None => Ok(None),
    };
    let current = match current {
        Ok(Some(current)) => current,
        Ok(None) => return Err(refused("Your session has ended. Sign in again.")),
        Err(error) => return Err(crate::error::HttpError::from(error).into_response()),
    };
    let lockout = state.config.lockout();
    match identity::users::authenticate(&state.db, &current.user.username, password, &lockout).await
    {
        Ok(_) => {}
        Err(identity::Error::InvalidCredentials) => {
            let failed = identity::audit::Event {
                action: identity::audit::action::SIGN_IN_FAILED,
                actor_id: Some(current.user.id.to_string()),
                target_id: Some(current.user.id.to_string()),
                reason: "wrong password entered again before an impersonation".into(),
                ..identity::audit::Event::default()
            };
            if let Err(error) = identity::audit::record(&state.db, failed).await {
                return Err(crate::error::HttpError::from(error).into_response());
            }
            return Err(refused(
                "The password is not right: the impersonation did not start.",
            ));
        }
        Err(error) => return Err(crate::error::HttpError::from(error).into_response()),
    }
    if let Err(error) = identity::sessions::reauthenticated(&state.db, current.session.id).await {
        return Err(crate::error::HttpError::from(error).into_response());
    }
    Ok(())
}

async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(start): Form<Start>,
) -> Response {
    if !start.password.is_empty()
        && let Err(page) = step_up(&state, &headers, start.password.clone()).await
    {
        return page;
    }
    let handoff = Handoff {
        state: identity::tokens::random_token(),
        nonce: identity::tokens::random_token(),
        verifier: identity::tokens::random_token(),
    };
    let redirect_uri = format!("{}{CALLBACK}", state.public_url);
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("client_id", MY_ACCOUNT_CLIENT_ID)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("response_type", "id_token subject_token")
        .append_pair("response_mode", "form_post")
        .append_pair("scope", "openid internal_user_impersonate")
        .append_pair("requested_subject", &start.user)
        .append_pair("reason", start.reason.trim())
        .append_pair("ticket", start.ticket.trim())
        .append_pair("state", &handoff.state)
        .append_pair("nonce", &handoff.nonce)
        .append_pair("code_challenge", &codes::pkce_challenge(&handoff.verifier))
        .append_pair("code_challenge_method", "S256");
    if !start.mode.trim().is_empty() {
        query.append_pair("mode", start.mode.trim());
    }
    if !start.duration_minutes.trim().is_empty() {
        query.append_pair("duration_minutes", start.duration_minutes.trim());
    }
    let query = query.finish();
    let value = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&handoff).unwrap_or_default());
    let secure = if state.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE}={value}; Path={CALLBACK}; HttpOnly; SameSite=Lax; Max-Age={HANDOFF_SECS}{secure}"
    );
    let mut response = Redirect::to(&format!("/oauth2/authorize?{query}")).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
struct Answer {
    state: Option<String>,
    id_token: Option<String>,
    subject_token: Option<String>,
    error_description: Option<String>,
}

fn handoff_of(headers: &HeaderMap) -> Option<Handoff> {
    let value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)?
        .1;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(value).ok()?).ok()
}

fn refused(message: &str) -> Response {
    let mut response = pages::error_page(
        StatusCode::BAD_REQUEST,
        "Impersonation did not start",
        message,
    );
    forget_handoff(&mut response);
    response
}

/// Expires the handoff cookie: each handoff is answered once.
fn forget_handoff(response: &mut Response) {
    let expired = format!("{COOKIE}=; Path={CALLBACK}; HttpOnly; SameSite=Lax; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&expired) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(answer): Form<Answer>,
) -> Response {
    let Some(handoff) = handoff_of(&headers) else {
        return refused(
            "This impersonation was not started from this browser, or took too long. Start it again from the Console.",
        );
    };
    if answer.state.as_deref() != Some(handoff.state.as_str()) {
        return refused("The answer does not belong to the impersonation started here.");
    }
    if let Some(description) = answer.error_description {
        return refused(&description);
    }
    let (Some(id_token), Some(subject_token)) = (answer.id_token, answer.subject_token) else {
        return refused("The authorization server sent no subject token.");
    };
    let keys = &state.provider.keys;
    let nonce_matches = keys
        .verify::<IdClaims>(
            &id_token,
            token_type::ID,
            &state.provider.issuer,
            Some(MY_ACCOUNT_CLIENT_ID),
        )
        .await
        .is_ok_and(|claims| claims.nonce.as_deref() == Some(handoff.nonce.as_str()));
    if !nonce_matches {
        return refused("The ID token does not answer the request made here.");
    }
    let reads = match state.provider.reads().await {
        Ok(reads) => reads,
        Err(error) => return crate::error::HttpError::from(error).into_response(),
    };
    let my_account = match identity::oauth::clients::cached(&reads, MY_ACCOUNT_CLIENT_ID).await {
        Ok(Some(app)) => app,
        Ok(None) => return refused("My Account is disabled."),
        Err(error) => return crate::error::HttpError::from(error).into_response(),
    };
    let request = exchange::Request {
        app: &my_account,
        subject_token: &subject_token,
        actor_token: &id_token,
        code_verifier: Some(&handoff.verifier),
    };
    match exchange::exchange(&state.provider, &reads, request).await {
        Ok(_) => {
            let mut response = Redirect::to("/myaccount").into_response();
            forget_handoff(&mut response);
            // The sign-in now impersonates: a cookie value copied before is worthless.
            if let Err(error) = rotate_session_cookie(&state, &headers, &mut response).await {
                return crate::error::HttpError::from(error).into_response();
            }
            response
        }
        Err(ExchangeError::Internal(error)) => crate::error::HttpError::from(error).into_response(),
        Err(error) => refused(&error.to_string()),
    }
}

/// Gives the browser's sign-in a new cookie value, set on `response`.
async fn rotate_session_cookie(
    state: &AppState,
    headers: &HeaderMap,
    response: &mut Response,
) -> identity::Result<()> {
    let Some(cookie) = app::ssr::session_cookie_value(headers, state.session_cookie()) else {
        return Ok(());
    };
    let Some(current) = identity::sessions::resolve(&state.db, &cookie).await? else {
        return Ok(());
    };
    let name = state.session_cookie();
    if let Some(set) = app::ssr::rotated_session_cookie(&state.db, name, &current.session).await? {
        response.headers_mut().append(header::SET_COOKIE, set);
    }
    Ok(())
}
