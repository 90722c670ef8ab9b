//! Impersonation sessions as a resource (ours; WSO2 has none):
//! `GET /api/server/v1/impersonation-sessions[?impersonator=&target=&active=]`,
//! `GET /api/server/v1/impersonation-sessions/{id}`, and `DELETE` on it to end the session,
//! which revokes every token derived from it at once. Scopes:
//! `internal_impersonation_session_view` / `internal_impersonation_session_delete`.

use super::error::ApiError;
use crate::routes::api_auth::authorize;
use crate::state::AppState;
use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    routing::get,
};
use identity::audit::{self, Event, action};
use identity::entities::impersonation_session;
use identity::{clock, impersonation};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

const BASE: &str = "/api/server/v1/impersonation-sessions";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(BASE, get(list))
        .route(&format!("{BASE}/{{id}}"), get(read).delete(end))
}

fn view(s: &impersonation_session::Model) -> Value {
    let active = s.ended_at.is_none() && s.expires_at > clock::now();
    json!({
        "id": s.id,
        "impersonator": s.impersonator_id,
        "target": s.target_id,
        "applicationId": s.application_id,
        "reason": s.reason,
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
    authorize(
        &state,
        &headers,
        Some("internal_impersonation_session_view"),
    )
    .await?;
    let query = impersonation::SessionQuery {
        impersonator: p.impersonator,
        target: p.target,
        active: p.active,
    };
    let offset = p.offset.unwrap_or(0);
    let (total, page) = impersonation::list(
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

async fn load(state: &AppState, id: &str) -> Result<impersonation_session::Model, ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound("impersonation session"))?;
    impersonation::find(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound("impersonation session"))
}

async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    authorize(
        &state,
        &headers,
        Some("internal_impersonation_session_view"),
    )
    .await?;
    Ok(Json(view(&load(&state, &id).await?)))
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
    let session = load(&state, &id).await?;
    let by = caller.user.as_ref().map(|u| u.id);
    let txn = identity::db::begin_write(&state.db).await?;
    if !impersonation::end(&txn, session.id, by, "ended by an administrator").await? {
        return Err(ApiError::Conflict(
            "This impersonation session has already ended.".into(),
        ));
    }
    audit::record(
        &txn,
        Event {
            action: action::IMPERSONATION_ENDED,
            success: true,
            actor_id: by.map(|u| u.to_string()),
            impersonator_id: Some(session.impersonator_id.to_string()),
            target_id: Some(session.target_id.to_string()),
            impersonation_session_id: Some(session.id),
            reason: "ended by an administrator".into(),
            ..Event::default()
        },
    )
    .await?;
    txn.commit()
        .await
        .map_err(|e| ApiError::from(identity::Error::from(e)))?;
    Ok(StatusCode::NO_CONTENT)
}
