//! `GET /api/server/v1/audit-events`: the audit trail, newest first, with filters
//! `actor`, `target`, `action`, `since`, `until` (Unix seconds) and `limit`/`offset`.
//! Scope: `internal_audit_view`.

use super::error::ApiError;
use crate::routes::api_auth::authorize;
use crate::state::AppState;
use axum::{
    Json, Router,
    extract::{Query, State},
    http::HeaderMap,
    routing::get,
};
use identity::audit;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/server/v1/audit-events", get(list))
}

#[derive(Deserialize)]
struct Params {
    actor: Option<String>,
    target: Option<String>,
    action: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    limit: Option<u64>,
    offset: Option<u64>,
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_audit_view")).await?;
    let reach = caller.reach(&state, "internal_audit_view").await?;
    let query = audit::Query {
        actor: p.actor,
        target: p.target,
        action: p.action,
        any_action: Vec::new(),
        since: p.since,
        until: p.until,
        within: Some(reach),
    };
    let limit = p.limit.unwrap_or(50).clamp(1, 500);
    let offset = p.offset.unwrap_or(0);
    let (total, page) = audit::search(&state.db, &query, offset, limit).await?;
    Ok(Json(json!({
        "totalResults": total,
        "offset": offset,
        "count": page.len(),
        "events": page.iter().map(|e| json!({
            "id": e.id,
            "time": identity::clock::rfc3339(e.created_at),
            "action": e.action,
            "outcome": e.outcome,
            "actor": e.actor_id,
            "impersonator": e.impersonator_id,
            "target": e.target_id,
            "clientId": e.client_id,
            "impersonationSession": e.impersonation_session_id,
            "scope": e.scope,
            "method": e.method,
            "path": e.path,
            "reason": e.reason,
        })).collect::<Vec<_>>(),
    })))
}
