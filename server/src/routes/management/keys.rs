//! Signing keys: list, rotate, remove a retired key. Private keys never leave the server.
//! `GET /api/server/v1/keys`, `POST /api/server/v1/keys/rotate`,
//! `DELETE /api/server/v1/keys/{kid}`. Scopes: `internal_config_view` / `internal_config_update`.

use super::error::ApiError;
use crate::routes::api_auth::authorize_server_wide;
use crate::state::AppState;
use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::{delete, get, post},
};
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/server/v1/keys", get(list))
        .route("/api/server/v1/keys/rotate", post(rotate))
        .route("/api/server/v1/keys/{kid}", delete(remove))
}

async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    authorize_server_wide(&state, &headers, "internal_config_view").await?;
    let keys = state.provider.keys.list().await?;
    Ok(Json(json!({
        "keys": keys.iter().map(|k| json!({
            "kid": k.kid,
            "algorithm": k.algorithm,
            "status": format!("{:?}", k.status).to_lowercase(),
            "createdAt": identity::clock::rfc3339(k.created_at),
            "activatedAt": k.activated_at.map(identity::clock::rfc3339),
            "retiredAt": k.retired_at.map(identity::clock::rfc3339),
        })).collect::<Vec<_>>()
    })))
}

async fn rotate(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authorize_server_wide(&state, &headers, "internal_config_update").await?;
    let kid = state.provider.keys.rotate().await?;
    let keys = &state.provider.keys;
    let by_algorithm: serde_json::Map<String, Value> = identity::keys::SigningAlg::ALL
        .iter()
        .map(|alg| (alg.as_str().to_owned(), json!(keys.active_kid_of(*alg))))
        .collect();
    Ok(Json(
        json!({ "activeKid": kid, "activeKids": by_algorithm }),
    ))
}

async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(kid): Path<String>,
) -> Result<StatusCode, ApiError> {
    authorize_server_wide(&state, &headers, "internal_config_update").await?;
    if state.provider.keys.remove_retired(&kid).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::Conflict(
            "Only a retired key can be removed, and this is none.".into(),
        ))
    }
}
