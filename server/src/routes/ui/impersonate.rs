//! The Console's Impersonate User handoff, through the real protocol (SPEC §2.1, §2.2):
//!
//! 1. `GET /console/impersonate?user=…&reason=…` (opened in a new tab by the user's page)
//!    keeps a fresh `state`, `nonce` and PKCE verifier in a short-lived cookie scoped to
//!    the callback, and sends the browser to `/oauth2/authorize` for My Account with
//!    `response_type=id_token subject_token`, `requested_subject`, `response_mode=form_post`.
//! 2. `POST /myaccount/callback` receives the ID token and the subject token, checks
//!    `state` and the ID token's `nonce`, and makes the token exchange as My Account (a
//!    public client, so the PKCE verifier proves it is the one that asked). The exchange
//!    attaches the impersonation session to this browser's IdP session, so My Account
//!    (and every application enabled for impersonation) now signs in as the target. The
//!    tokens stay on the server.

use crate::routes::oauth2::{exchange, pages, params::Params};
use crate::state::AppState;
use axum::{
    Form, Router,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use identity::oauth::{claims::IdClaims, codes, token_type};
use identity::scopes::MY_ACCOUNT_CLIENT_ID;
use serde::{Deserialize, Serialize};

const COOKIE: &str = "impersonation_handoff";
const CALLBACK: &str = "/myaccount/callback";
/// How long the handoff may take (sign-in prompts included).
const HANDOFF_SECS: i64 = 600;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/impersonate", get(start))
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
}

async fn start(State(state): State<AppState>, Query(start): Query<Start>) -> Response {
    let handoff = Handoff {
        state: identity::tokens::random_token(),
        nonce: identity::tokens::random_token(),
        verifier: identity::tokens::random_token(),
    };
    let redirect_uri = format!("{}{CALLBACK}", state.public_url);
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", MY_ACCOUNT_CLIENT_ID)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("response_type", "id_token subject_token")
        .append_pair("response_mode", "form_post")
        .append_pair("scope", "openid internal_user_impersonate")
        .append_pair("requested_subject", &start.user)
        .append_pair("reason", start.reason.trim())
        .append_pair("state", &handoff.state)
        .append_pair("nonce", &handoff.nonce)
        .append_pair("code_challenge", &codes::pkce_challenge(&handoff.verifier))
        .append_pair("code_challenge_method", "S256")
        .finish();
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
    let my_account = match reads.client(MY_ACCOUNT_CLIENT_ID).await {
        Ok(Some(app)) => app,
        Ok(None) => return refused("My Account is disabled."),
        Err(error) => return crate::error::HttpError::from(error).into_response(),
    };
    let params = Params::from_pairs(vec![
        (
            "grant_type".into(),
            identity::oauth::grant_type::TOKEN_EXCHANGE.into(),
        ),
        ("subject_token".into(), subject_token),
        ("subject_token_type".into(), exchange::JWT.into()),
        ("actor_token".into(), id_token),
        ("actor_token_type".into(), exchange::ID_TOKEN.into()),
        ("code_verifier".into(), handoff.verifier),
    ]);
    let exchanged = match params {
        Ok(params) => exchange::exchange(&state, &reads, &my_account, &params).await,
        Err(error) => Err(error),
    };
    match exchanged {
        Ok(_) => {
            let mut response = Redirect::to("/myaccount").into_response();
            forget_handoff(&mut response);
            response
        }
        Err(error) => refused(&error.description),
    }
}
