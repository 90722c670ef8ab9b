//! The targets of the login and logout forms. Sign-in starts a new IdP session (a fresh
//! id every time) and sets its cookie: HttpOnly, SameSite=Lax, Secure on https.

use crate::{error::HttpError, state::AppState};
use app::{
    pages::login::{DEFAULT_RETURN_TO, is_local_path},
    ssr::{session_cookie_name, session_cookie_value},
};
use axum::{
    Form, Router,
    extract::State,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Redirect, Response},
    routing::post,
};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", post(sign_in))
        .route("/logout", post(sign_out))
}

/// The fields of the login form.
#[derive(Deserialize)]
struct SignInForm {
    username: String,
    password: String,
    #[serde(default)]
    return_to: String,
}

/// `POST /login`: checks the credentials; on success starts a session and redirects to
/// `return_to`, otherwise back to the form with one message for every kind of failure.
async fn sign_in(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, HttpError> {
    let return_to = if is_local_path(&form.return_to) {
        form.return_to
    } else {
        DEFAULT_RETURN_TO.to_owned()
    };
    let user = match identity::users::authenticate(
        &state.db,
        &form.username,
        form.password,
        &state.config.lockout(),
    )
    .await
    {
        Ok(user) => user,
        Err(identity::Error::Busy) => {
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("error", "busy")
                .append_pair("return_to", &return_to)
                .finish();
            let mut response = Redirect::to(&format!("/login?{query}")).into_response();
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
            return Ok(response);
        }
        Err(identity::Error::InvalidCredentials) => {
            tracing::info!("sign-in refused: invalid credentials");
            // Like refusals of anonymous requests, at most so many records a minute per
            // source address; the rest are counted (`/health/ready`).
            let address = crate::routes::rejections::source_address(&extensions);
            if state.rejections.admit(address, identity::clock::now()) {
                let known = identity::users::find_by_username(&state.db, &form.username).await?;
                identity::audit::record(
                    &state.db,
                    identity::audit::Event {
                        action: identity::audit::action::SIGN_IN_FAILED,
                        target_id: known.map(|u| u.id.to_string()),
                        reason: "wrong credentials, or a locked or disabled account".into(),
                        ..identity::audit::Event::default()
                    },
                )
                .await?;
            }
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("error", "invalid_credentials")
                .append_pair("return_to", &return_to)
                .finish();
            return Ok(Redirect::to(&format!("/login?{query}")).into_response());
        }
        Err(other) => return Err(other.into()),
    };
    // A session id that existed before sign-in is never reused.
    if let Some(previous) = session_cookie_value(&headers, state.session_cookie()) {
        identity::impersonation::session::sign_out(&state.db, &previous).await?;
    }
    let lifetime = state.config.session_lifetime_secs;
    let started = identity::sessions::start(&state.db, user.id, lifetime).await?;
    tracing::info!(user_id = %user.id, "signed in");
    identity::audit::record(
        &state.db,
        identity::audit::Event {
            action: identity::audit::action::SIGNED_IN,
            success: true,
            actor_id: Some(user.id.to_string()),
            target_id: Some(user.id.to_string()),
            ..identity::audit::Event::default()
        },
    )
    .await?;
    let cookie = session_cookie(&started.cookie_value, lifetime, state.secure_cookies());
    Ok(with_cookie(Redirect::to(&return_to), cookie))
}

/// `POST /logout`: ends this browser's session and returns to the login page.
async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    if let Some(cookie) = session_cookie_value(&headers, state.session_cookie())
        && let Some(ended) = identity::impersonation::session::sign_out(&state.db, &cookie).await?
    {
        let user_id = ended.user_id;
        identity::audit::record(
            &state.db,
            identity::audit::Event {
                action: identity::audit::action::SIGNED_OUT,
                success: true,
                actor_id: Some(user_id.to_string()),
                target_id: Some(user_id.to_string()),
                ..identity::audit::Event::default()
            },
        )
        .await?;
    }
    let cleared = session_cookie("", 0, state.secure_cookies());
    Ok(with_cookie(Redirect::to("/login"), cleared))
}

/// The `Set-Cookie` value of the session cookie (`max_age` 0 clears it).
pub fn session_cookie(value: &str, max_age: i64, secure: bool) -> String {
    app::ssr::session_set_cookie(session_cookie_name(secure), value, max_age)
}

fn with_cookie(redirect: Redirect, cookie: String) -> Response {
    let mut response = redirect.into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
