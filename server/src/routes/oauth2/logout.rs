//! `GET|POST /oidc/logout`: OpenID Connect RP-Initiated Logout 1.0. The
//! `post_logout_redirect_uri` must be registered exactly; an `id_token_hint` must verify.
//! A request from another site never signs anyone out silently: without a valid hint from
//! an application that skips logout consent, the user confirms on our own page.

use super::pages;
use super::params::Params;
use crate::routes::ui::{is_same_origin, session_cookie};
use crate::state::AppState;
use app::ssr::session_cookie_value;
use axum::{
    Form,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use identity::oauth::{claims::IdClaims, clients, token_type};
use identity::sessions;

pub async fn logout_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    logout(&state, &headers, pairs, false).await
}

pub async fn logout_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    logout(&state, &headers, pairs, true).await
}

fn bad(message: &str) -> Response {
    pages::error_page(StatusCode::BAD_REQUEST, "Cannot sign out", message)
}

async fn logout(
    state: &AppState,
    headers: &HeaderMap,
    pairs: Vec<(String, String)>,
    post: bool,
) -> Response {
    let params = match Params::from_pairs(pairs) {
        Ok(params) => params,
        Err(error) => return bad(&error.description),
    };
    let hint = match params.get("id_token_hint") {
        Some(token) => match state
            .provider
            .keys
            .verify_hint::<IdClaims>(token, token_type::ID, &state.provider.issuer)
            .await
        {
            Ok(claims) => Some(claims),
            Err(_) => return bad("The id_token_hint is not a valid ID token of this server."),
        },
        None => None,
    };
    let client_id = match (
        hint.as_ref().map(|h| h.aud.as_str()),
        params.get("client_id"),
    ) {
        (Some(aud), Some(id)) if aud != id => {
            return bad("The client_id differs from the audience of the id_token_hint.");
        }
        (Some(aud), _) => Some(aud.to_owned()),
        (None, id) => id.map(str::to_owned),
    };
    let app = match &client_id {
        Some(id) => match clients::find(&state.db, id).await {
            Ok(Some(app)) => Some(app),
            Ok(None) => return bad("No application with this client_id is registered here."),
            Err(error) => {
                tracing::error!("logout: {error}");
                return pages::error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Try again later.",
                );
            }
        },
        None => None,
    };
    let redirect = params.get("post_logout_redirect_uri");
    if let Some(uri) = redirect {
        let registered = app
            .as_ref()
            .is_some_and(|app| app.post_logout_redirect_uris.0.iter().any(|r| r == uri));
        if !registered {
            return bad("This post_logout_redirect_uri is not registered for the application.");
        }
    }

    let cookie = session_cookie_value(headers, state.session_cookie());
    let current = match &cookie {
        Some(cookie) => sessions::resolve(&state.db, cookie).await.ok().flatten(),
        None => None,
    };
    if let Some(current) = &current {
        let confirmed = post
            && params.get("confirm") == Some("yes")
            && is_same_origin(headers, &state.public_url);
        let silent = hint
            .as_ref()
            .is_some_and(|h| h.sub == current.user.id.to_string())
            && app.as_ref().is_some_and(|a| a.skip_logout_consent);
        if !confirmed && !silent {
            let mut query = form_urlencoded::Serializer::new(String::new());
            for (k, v) in params.without("confirm").pairs() {
                query.append_pair(k, v);
            }
            return Redirect::to(&format!("/logout?{}", query.finish())).into_response();
        }
        if let Some(cookie) = &cookie
            && let Err(error) = identity::impersonation::session::sign_out(&state.db, cookie).await
        {
            tracing::error!("logout: {error}");
        }
        tracing::info!(user_id = %current.user.id, "signed out (RP-initiated)");
    }
    let target = match redirect {
        Some(uri) => {
            let mut url = uri.to_owned();
            if let Some(s) = params.get("state") {
                let pair: String = form_urlencoded::Serializer::new(String::new())
                    .append_pair("state", s)
                    .finish();
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&pair);
            }
            url
        }
        None => "/login?signed_out=1".to_owned(),
    };
    let mut response = Redirect::to(&target).into_response();
    if let Ok(value) = HeaderValue::from_str(&session_cookie("", 0, state.secure_cookies())) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
