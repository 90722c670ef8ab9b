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

/// `GET /health/ready`: 200 when the database answers, 503 otherwise; with the counts of
/// what floods cost: refusals not recorded, password checks refused as busy.
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.db.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({
                "status": "up",
                "rejections_not_recorded": state.rejections.dropped(),
                "password_checks_refused": identity::password::gate().refused(),
            })),
        ),
        Err(error) => {
            tracing::warn!("readiness: database unreachable: {error}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "down", "reason": "database unreachable" })),
            )
        }
    }
}
