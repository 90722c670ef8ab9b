//! Probes for orchestrators: `/health/live` (the process answers) and `/health/ready`
//! (the database answers too).

use crate::state::AppState;
use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
}

/// `GET /health/live`: 200 while the process serves requests.
async fn live() -> Json<Value> {
    Json(json!({ "status": "up" }))
}

/// `GET /health/ready`: 200 when the database answers and its schema is this server's,
/// 503 with the reason otherwise (`database unreachable`, `migrations pending: …`,
/// `database schema is newer than this server: …`); with the counts of what floods cost:
/// refusals not recorded, password checks refused as busy.
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let not_ready = |reason: String| {
        tracing::warn!("readiness: {reason}");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "down", "reason": reason })),
        )
    };
    if let Err(error) = state.db.ping().await {
        tracing::warn!("readiness: the database does not answer: {error}");
        return not_ready("database unreachable".to_owned());
    }
    match identity::store::db::schema_state(&state.db).await {
        Err(error) => return not_ready(format!("database unreachable: {error}")),
        Ok(schema) if !schema.unknown.is_empty() => {
            return not_ready(format!(
                "database schema is newer than this server: {}",
                schema.unknown.join(", ")
            ));
        }
        Ok(schema) if !schema.pending.is_empty() => {
            return not_ready(format!("migrations pending: {}", schema.pending.join(", ")));
        }
        Ok(_) => {}
    }
    (
        StatusCode::OK,
        Json(json!({
            "status": "up",
            "rejections_not_recorded": state.rejections.dropped(),
            "password_checks_refused": identity::password::gate().refused(),
        })),
    )
}
