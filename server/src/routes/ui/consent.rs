//! The target of the consent form (`/consent`, rendered by the app): approve or deny a
//! pending authorization request of this browser's session, exactly once.

use crate::routes::oauth2::{
    authorize::{issue_code, responder_for},
    error::ErrorCode,
    pages,
};
use crate::state::AppState;
use app::ssr::session_cookie_value;
use axum::{
    Form, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::post,
};
use identity::oauth::{clients, consent, pending};
use identity::sessions;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/consent", post(decide))
}

#[derive(Deserialize)]
struct Decision {
    request: String,
    decision: String,
}

/// `POST /consent`: `decision` is `approve` or `deny`.
async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<Decision>,
) -> Response {
    let current = match session_cookie_value(&headers, state.session_cookie()) {
        Some(cookie) => sessions::resolve(&state.db, &cookie).await.ok().flatten(),
        None => None,
    };
    let Some(current) = current else {
        return Redirect::to("/login").into_response();
    };
    let expired = || {
        pages::error_page(
            StatusCode::BAD_REQUEST,
            "This request has expired",
            "Go back to the application and sign in again.",
        )
    };
    let Ok(Some((_, request))) = pending::take(&state.db, &form.request, current.session.id).await
    else {
        return expired();
    };
    let Ok(Some(app)) = clients::find(&state.db, &request.client_id).await else {
        return expired();
    };
    let responder = responder_for(&state, &request);
    if form.decision != "approve" {
        return responder.error(ErrorCode::AccessDenied, "The user did not allow access.");
    }
    if let Err(error) = consent::grant(&state.db, current.user.id, app.id, &request.scopes).await {
        tracing::error!("recording consent: {error}");
        return responder.error(
            ErrorCode::ServerError,
            "The server could not complete the request.",
        );
    }
    issue_code(&state, &app, &current, &request, &responder, None).await
}
