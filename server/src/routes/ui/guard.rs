//! Pages behind sign-in: a request for the Console or My Account without a live session is sent to the
//! login page, which brings the browser back afterwards.

use crate::state::AppState;
use app::ssr::session_cookie_value;
use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};

/// Path prefixes that need a signed-in user.
const PROTECTED: &[&str] = &["/console", "/myaccount"];

pub async fn require_session(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let protected = PROTECTED
        .iter()
        .any(|prefix| path == *prefix || path.starts_with(&format!("{prefix}/")));
    if !protected {
        return next.run(request).await;
    }
    let live = match session_cookie_value(request.headers(), state.session_cookie()) {
        Some(cookie) => match identity::sessions::resolve(&state.db, &cookie).await {
            Ok(found) => found.is_some(),
            Err(error) => return crate::error::HttpError::from(error).into_response(),
        },
        None => false,
    };
    if live {
        return next.run(request).await;
    }
    let return_to = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/console");
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    Redirect::to(&format!("/login?{query}")).into_response()
}
