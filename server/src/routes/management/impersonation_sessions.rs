//! Impersonation sessions as a resource (ours; WSO2 has none):
//! `GET /api/server/v1/impersonation-sessions[?impersonator=&target=&active=]`,
//! `GET /api/server/v1/impersonation-sessions/{id}`, and `DELETE` on it to end the session,
//! which revokes every token derived from it at once. Scopes:
//! `internal_impersonation_session_view` / `internal_impersonation_session_delete`.
//!
//! And Stop for the impersonator: `DELETE /api/users/v1/me/impersonation-session` with an
//! impersonated access token ends the session that token belongs to (no scope needed: the
//! token itself proves the session).

use super::error::ApiError;
use crate::routes::api_auth::{Caller, authorize};
use crate::routes::impersonation_audit::begin;
use crate::state::AppState;
use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    routing::{delete, get},
};
use identity::entities::impersonation_session;
use identity::settings::Mode;
use identity::{clock, impersonation};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

const BASE: &str = "/api/server/v1/impersonation-sessions";
pub const MINE: &str = "/api/users/v1/me/impersonation-session";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(BASE, get(list))
        .route(&format!("{BASE}/{{id}}"), get(read).delete(end))
        .route(MINE, delete(stop))
}

fn view(s: &impersonation_session::Model) -> Value {
    let active = s.ended_at.is_none() && s.expires_at > clock::now();
    json!({
        "id": s.id,
        "impersonator": s.impersonator_id,
        "impersonatorName": s.impersonator_name,
        "target": s.target_id,
        "applicationId": s.application_id,
        "reason": s.reason,
        "ticket": s.ticket,
        "mode": if s.read_only { Mode::ReadOnly } else { Mode::Full }.as_str(),
        "active": active,
        "startedAt": clock::rfc3339(s.started_at),
        "expiresAt": clock::rfc3339(s.expires_at),
        "endedAt": s.ended_at.map(clock::rfc3339),
        "endedBy": s.ended_by,
        "endReason": s.end_reason.as_deref().or(if s.ended_at.is_none() && !active { Some("expired") } else { None }),
        "self": format!("{BASE}/{}", s.id),
    })
}

#[derive(Deserialize)]
struct Params {
    impersonator: Option<Uuid>,
    target: Option<Uuid>,
    active: Option<bool>,
    limit: Option<u64>,
    offset: Option<u64>,
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(
        &state,
        &headers,
        Some("internal_impersonation_session_view"),
    )
    .await?;
    let reach = caller
        .reach(&state, "internal_impersonation_session_view")
        .await?;
    let query = impersonation::session::SessionQuery {
        impersonator: p.impersonator,
        target: p.target,
        active: p.active,
        within: Some(reach),
    };
    let offset = p.offset.unwrap_or(0);
    let (total, page) = impersonation::session::list(
        &state.db,
        &query,
        offset,
        p.limit.unwrap_or(50).clamp(1, 500),
    )
    .await?;
    Ok(Json(json!({
        "totalResults": total,
        "offset": offset,
        "sessions": page.iter().map(view).collect::<Vec<_>>(),
    })))
}

/// The session `id` if the caller's `scope` reaches its organization; one beyond is as
/// unknown as none.
async fn load(
    state: &AppState,
    caller: &Caller,
    scope: &str,
    id: &str,
) -> Result<impersonation_session::Model, ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound("impersonation session"))?;
    let reach = caller.reach(state, scope).await?;
    impersonation::session::find(&state.db, id)
        .await?
        .filter(|session| reach.contains(session.organization_id))
        .ok_or(ApiError::NotFound("impersonation session"))
}

async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(
        &state,
        &headers,
        Some("internal_impersonation_session_view"),
    )
    .await?;
    let session = load(&state, &caller, "internal_impersonation_session_view", &id).await?;
    Ok(Json(view(&session)))
}

/// Ends the session: every code, access token and refresh token derived from it stops
/// working in the same transaction, and the end is audited. Ending twice is a 409.
async fn end(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let caller = authorize(
        &state,
        &headers,
        Some("internal_impersonation_session_delete"),
    )
    .await?;
    let session = load(
        &state,
        &caller,
        "internal_impersonation_session_delete",
        &id,
    )
    .await?;
    let by = caller.user.as_ref().map(|u| u.id);
    let txn = begin(&state.db).await?;
    let reason = impersonation::session::end_reason::ENDED_BY_ADMINISTRATOR;
    if !impersonation::session::end(&*txn, &session, by, reason).await? {
        return Err(ApiError::Conflict(
            "This impersonation session has already ended.".into(),
        ));
    }
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stop: the impersonator ends the session their impersonated token belongs to.
async fn stop(State(state): State<AppState>, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    let caller = authorize(&state, &headers, None).await?;
    let not_impersonated =
        || ApiError::BadRequest("This request is not made with an impersonated token.".into());
    let claims = caller.token.ok_or_else(not_impersonated)?;
    let act = claims.act.ok_or_else(not_impersonated)?;
    let session = identity::oauth::grants::impersonation_session_of(&state.db, &claims.jti)
        .await?
        .ok_or_else(not_impersonated)?;
    let session = impersonation::session::find(&state.db, session)
        .await?
        .ok_or(ApiError::NotFound("impersonation session"))?;
    let impersonator = Uuid::parse_str(&act.sub).ok();
    let txn = begin(&state.db).await?;
    let reason = impersonation::session::end_reason::STOPPED;
    if !impersonation::session::end(&*txn, &session, impersonator, reason).await? {
        return Err(ApiError::Conflict(
            "This impersonation session has already ended.".into(),
        ));
    }
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
