//! Webhook subscriptions: `GET|POST /api/server/v1/webhooks`,
//! `GET|PATCH|DELETE /api/server/v1/webhooks/{id}`,
//! `POST /api/server/v1/webhooks/{id}/rotate-secret`, the delivery log
//! `GET /api/server/v1/webhooks/{id}/deliveries` and
//! `POST /api/server/v1/webhooks/{id}/deliveries/{delivery}/redeliver`, and
//! `GET /api/server/v1/webhooks/event-types`. A subscription receives the events of the
//! caller's organization. The signing secret (`whsec_…`) is shown once: at creation and at
//! rotation. Scopes: `internal_webhook_view` / `internal_webhook_update`.

use super::error::ApiError;
use crate::routes::api_auth::{Caller, authorize};
use crate::routes::impersonation_audit::begin;
use crate::state::AppState;
use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use identity::audit::action;
use identity::entities::{delivery, webhook};
use identity::events::{kind, outbox, webhooks};
use identity::scopes::{WEBHOOK_UPDATE, WEBHOOK_VIEW};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

const BASE: &str = "/api/server/v1/webhooks";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(BASE, get(list).post(create))
        .route(&format!("{BASE}/event-types"), get(event_types))
        .route(
            &format!("{BASE}/{{id}}"),
            get(read).patch(patch).delete(remove),
        )
        .route(&format!("{BASE}/{{id}}/rotate-secret"), post(rotate))
        .route(&format!("{BASE}/{{id}}/deliveries"), get(deliveries))
        .route(
            &format!("{BASE}/{{id}}/deliveries/{{delivery}}/redeliver"),
            post(redeliver),
        )
}

/// A subscription as the API shows it (never its secret).
pub fn view(hook: &webhook::Model) -> Value {
    json!({
        "id": hook.id,
        "url": hook.url,
        "description": hook.description,
        "eventTypes": hook.event_types.0,
        "enabled": hook.enabled,
        "createdAt": identity::clock::rfc3339(hook.created_at),
        "updatedAt": identity::clock::rfc3339(hook.updated_at),
        "self": format!("{BASE}/{}", hook.id),
    })
}

/// A delivery as the delivery log shows it.
pub fn delivery_view(d: &delivery::Model) -> Value {
    json!({
        "id": d.id,
        "eventId": d.event_id,
        "eventType": d.payload.get("type"),
        "status": outbox::status(d),
        "attempts": d.attempts,
        "responseStatus": d.last_status,
        "error": d.last_error,
        "createdAt": identity::clock::rfc3339(d.created_at),
        "lastAttemptAt": d.last_attempt_at.map(identity::clock::rfc3339),
        "deliveredAt": d.delivered_at.map(identity::clock::rfc3339),
    })
}

async fn caller_org(
    state: &AppState,
    headers: &HeaderMap,
    scope: &'static str,
) -> Result<(Caller, Uuid), ApiError> {
    let caller = authorize(state, headers, Some(scope)).await?;
    let org = caller.own_organization(state, scope).await?;
    Ok((caller, org))
}

async fn find(state: &AppState, org: Uuid, id: &str) -> Result<webhook::Model, ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound("webhook"))?;
    webhooks::find(&state.db, org, id)
        .await?
        .ok_or(ApiError::NotFound("webhook"))
}

/// Who acts, as the audit trail names them: the user, or the application's client id.
fn actor(caller: &Caller) -> Option<String> {
    caller
        .user
        .as_ref()
        .map(|u| u.id.to_string())
        .or_else(|| caller.token.as_ref().map(|t| t.sub.clone()))
}

async fn event_types(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    caller_org(&state, &headers, WEBHOOK_VIEW).await?;
    Ok(Json(json!(kind::SUBSCRIBABLE)))
}

async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let (_, org) = caller_org(&state, &headers, WEBHOOK_VIEW).await?;
    let hooks = webhooks::list(&state.db, org).await?;
    Ok(Json(json!({
        "totalResults": hooks.len(),
        "webhooks": hooks.iter().map(view).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Input {
    url: Option<String>,
    description: Option<String>,
    event_types: Option<Vec<String>>,
    enabled: Option<bool>,
}

impl Input {
    fn apply(self, to: &mut webhooks::Subscription) {
        if let Some(url) = self.url {
            to.url = url;
        }
        if let Some(description) = self.description {
            to.description = description;
        }
        if let Some(types) = self.event_types {
            to.event_types = types;
        }
        if let Some(enabled) = self.enabled {
            to.enabled = enabled;
        }
    }
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (caller, org) = caller_org(&state, &headers, WEBHOOK_UPDATE).await?;
    let input: Input = serde_json::from_str(&body).map_err(ApiError::bad_body)?;
    let mut wanted = webhooks::Subscription {
        enabled: true,
        ..Default::default()
    };
    input.apply(&mut wanted);
    let write = begin(&state.db).await?;
    let (hook, secret) = webhooks::create(&*write, org, wanted, &state.config.outbound)
        .await?
        .map_err(ApiError::Invalid)?;
    webhooks::record_change(&*write, action::WEBHOOK_CREATED, actor(&caller), &hook).await?;
    write.commit().await?;
    let mut body = view(&hook);
    body["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(body)))
}

async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (_, org) = caller_org(&state, &headers, WEBHOOK_VIEW).await?;
    Ok(Json(view(&find(&state, org, &id).await?)))
}

async fn patch(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Result<Json<Value>, ApiError> {
    let (caller, org) = caller_org(&state, &headers, WEBHOOK_UPDATE).await?;
    let input: Input = serde_json::from_str(&body).map_err(ApiError::bad_body)?;
    let hook = find(&state, org, &id).await?;
    let mut wanted = webhooks::settings_of(&hook);
    input.apply(&mut wanted);
    let write = begin(&state.db).await?;
    let hook = webhooks::update(&*write, hook, wanted, &state.config.outbound)
        .await?
        .map_err(ApiError::Invalid)?;
    webhooks::record_change(&*write, action::WEBHOOK_UPDATED, actor(&caller), &hook).await?;
    write.commit().await?;
    Ok(Json(view(&hook)))
}

async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (caller, org) = caller_org(&state, &headers, WEBHOOK_UPDATE).await?;
    let hook = find(&state, org, &id).await?;
    let write = begin(&state.db).await?;
    webhooks::delete(&*write, &hook).await?;
    webhooks::record_change(&*write, action::WEBHOOK_DELETED, actor(&caller), &hook).await?;
    write.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rotate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (caller, org) = caller_org(&state, &headers, WEBHOOK_UPDATE).await?;
    let hook = find(&state, org, &id).await?;
    let write = begin(&state.db).await?;
    let (hook, secret) = webhooks::rotate_secret(&*write, hook).await?;
    webhooks::record_change(
        &*write,
        action::WEBHOOK_SECRET_ROTATED,
        actor(&caller),
        &hook,
    )
    .await?;
    write.commit().await?;
    let mut body = view(&hook);
    body["secret"] = json!(secret);
    Ok(Json(body))
}

#[derive(Deserialize)]
struct Page {
    limit: Option<u64>,
}

async fn deliveries(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(page): Query<Page>,
) -> Result<Json<Value>, ApiError> {
    let (_, org) = caller_org(&state, &headers, WEBHOOK_VIEW).await?;
    let hook = find(&state, org, &id).await?;
    let limit = page.limit.unwrap_or(50).clamp(1, 200);
    let found = webhooks::deliveries(&state.db, hook.id, limit).await?;
    Ok(Json(json!({
        "deliveries": found.iter().map(delivery_view).collect::<Vec<_>>(),
    })))
}

async fn redeliver(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (caller, org) = caller_org(&state, &headers, WEBHOOK_UPDATE).await?;
    let hook = find(&state, org, &id).await?;
    let delivery_id = Uuid::parse_str(&delivery_id).map_err(|_| ApiError::NotFound("delivery"))?;
    let write = begin(&state.db).await?;
    if !outbox::redeliver(&*write, hook.id, delivery_id).await? {
        return Err(ApiError::NotFound("delivery"));
    }
    webhooks::record_change(&*write, action::WEBHOOK_REDELIVERED, actor(&caller), &hook).await?;
    write.commit().await?;
    Ok(StatusCode::ACCEPTED)
}
