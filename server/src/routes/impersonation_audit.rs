//! Every request to our own APIs made with an impersonated access token (one with `act`)
//! is audited with WSO2's action names: `resource-creation-via-impersonation` (POST),
//! `resource-modification-via-impersonation` (PUT, PATCH), `resource-deletion-via-impersonation`
//! (DELETE), `resource-access-via-impersonation` otherwise; the outcome follows the status.

use crate::routes::oauth2::userinfo::bearer;
use crate::state::AppState;
use axum::{
    extract::{Request, State},
    http::Method,
    middleware::Next,
    response::Response,
};
use identity::audit::{self, Event, action};
use identity::oauth::{claims::AccessClaims, token_type};

pub async fn audit_impersonated(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let token = bearer(request.headers()).map(str::to_owned);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let Some(token) = token else {
        return response;
    };
    let Ok(claims) = state
        .provider
        .keys
        .verify::<AccessClaims>(&token, token_type::ACCESS, &state.provider.issuer, None)
        .await
    else {
        return response;
    };
    let Some(act) = claims.act else {
        return response;
    };
    let name = match method {
        Method::POST => action::RESOURCE_CREATION,
        Method::PUT | Method::PATCH => action::RESOURCE_MODIFICATION,
        Method::DELETE => action::RESOURCE_DELETION,
        _ => action::RESOURCE_ACCESS,
    };
    let session = identity::oauth::grants::impersonation_session_of(&state.db, &claims.jti)
        .await
        .ok()
        .flatten();
    let event = Event {
        action: name,
        success: response.status().is_success(),
        actor_id: Some(claims.sub.clone()),
        impersonator_id: Some(act.sub),
        target_id: Some(claims.sub),
        client_id: Some(claims.client_id),
        impersonation_session_id: session,
        scope: Some(claims.scope),
        method: Some(method.to_string()),
        path: Some(path),
        reason: String::new(),
    };
    if let Err(error) = audit::record(&state.db, event).await {
        tracing::error!("auditing an impersonated request failed: {error}");
    }
    response
}
