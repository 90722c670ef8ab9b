//! API resources and authorized APIs, in the shape of WSO2's APIs:
//! `GET /api/server/v1/api-resources[?filter=identifier eq …]`,
//! `GET /api/server/v1/api-resources/{id}`, and
//! `POST|GET /api/server/v1/applications/{id}/authorized-apis`,
//! `DELETE /api/server/v1/applications/{id}/authorized-apis/{apiId}`.

use super::error::ApiError;
use crate::routes::api_auth::authorize;
use crate::routes::impersonation_audit::begin;
use crate::state::AppState;
use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    routing::{delete, get},
};
use identity::api_resources::{self, AuthorizeError, Resource};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

const BASE: &str = "/api/server/v1/api-resources";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(BASE, get(list))
        .route(&format!("{BASE}/{{id}}"), get(read))
        .route(
            "/api/server/v1/applications/{id}/authorized-apis",
            get(list_authorized).post(authorize_api),
        )
        .route(
            "/api/server/v1/applications/{id}/authorized-apis/{api_id}",
            delete(deauthorize),
        )
}

fn kind(resource: &identity::entities::api_resource::Model) -> &'static str {
    if resource.system {
        "SYSTEM"
    } else {
        "BUSINESS"
    }
}

fn summary(resource: &identity::entities::api_resource::Model) -> Value {
    json!({
        "id": resource.id,
        "name": resource.name,
        "identifier": resource.identifier,
        "type": kind(resource),
        "requiresAuthorization": true,
        "self": format!("{BASE}/{}", resource.id),
    })
}

fn detail(resource: &Resource) -> Value {
    let mut body = summary(&resource.resource);
    body["description"] = json!(resource.resource.description);
    body["scopes"] = json!(resource
        .scopes
        .iter()
        .map(|s| json!({ "id": s.name, "name": s.name, "displayName": s.display_name, "description": s.description }))
        .collect::<Vec<_>>());
    body
}

#[derive(Deserialize)]
struct ListQuery {
    filter: Option<String>,
    limit: Option<u64>,
    offset: Option<u64>,
}

/// `GET /api/server/v1/api-resources`. Scope: `internal_api_resource_view`.
async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, Some("internal_api_resource_view")).await?;
    let identifier = match &query.filter {
        None => None,
        Some(filter) => Some(
            filter
                .strip_prefix("identifier eq ")
                .map(|v| v.trim().trim_matches('"').to_owned())
                .ok_or_else(|| {
                    ApiError::BadRequest(
                        "Only the filter `identifier eq <identifier>` is supported.".into(),
                    )
                })?,
        ),
    };
    let limit = query.limit.unwrap_or(30).clamp(1, 100);
    let (total, page) = api_resources::list(
        &state.db,
        identifier.as_deref(),
        query.offset.unwrap_or(0),
        limit,
    )
    .await?;
    Ok(Json(json!({
        "totalResults": total,
        "apiResources": page.iter().map(|r| summary(&r.resource)).collect::<Vec<_>>(),
        "links": [],
    })))
}

async fn load(state: &AppState, id: &str) -> Result<Resource, ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound("API resource"))?;
    api_resources::find(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound("API resource"))
}

/// `GET /api/server/v1/api-resources/{id}`. Scope: `internal_api_resource_view`.
async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, Some("internal_api_resource_view")).await?;
    Ok(Json(detail(&load(&state, &id).await?)))
}

/// `GET …/applications/{id}/authorized-apis`. Scope: `internal_application_mgt_view`.
async fn list_authorized(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_application_mgt_view")).await?;
    let app =
        super::applications::load(&state, &caller, "internal_application_mgt_view", &id).await?;
    let authorized = api_resources::authorized(&state.db, app.id).await?;
    Ok(Json(json!(authorized
        .iter()
        .map(|(resource, scopes)| json!({
            "id": resource.id,
            "identifier": resource.identifier,
            "displayName": resource.name,
            "policyId": "RBAC",
            "type": kind(resource),
            "authorizedScopes": scopes.iter().map(|s| json!({ "id": s, "name": s, "displayName": s })).collect::<Vec<_>>(),
        }))
        .collect::<Vec<_>>())))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthorizeInput {
    id: String,
    policy_identifier: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

/// `POST …/applications/{id}/authorized-apis` with `{id, policyIdentifier: "RBAC", scopes}`.
/// Scope: `internal_application_mgt_update`.
async fn authorize_api(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Result<StatusCode, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_application_mgt_update")).await?;
    let by = caller.authority(&state).await?;
    let app =
        super::applications::load(&state, &caller, "internal_application_mgt_update", &id).await?;
    let input: AuthorizeInput = serde_json::from_str(&body).map_err(ApiError::bad_body)?;
    if input
        .policy_identifier
        .as_deref()
        .is_some_and(|p| p != "RBAC")
    {
        return Err(ApiError::BadRequest(
            "The only authorization policy is RBAC.".into(),
        ));
    }
    let resource = load(&state, &input.id)
        .await
        .map_err(|_| ApiError::BadRequest("No API resource with this id.".into()))?;
    let write = begin(&state.db).await?;
    match api_resources::authorize(&*write, &by, &app, &resource, &input.scopes).await? {
        Ok(()) => {
            write.commit().await?;
            tracing::info!(application_id = %app.id, api = %resource.resource.identifier, "application authorized for an API");
            Ok(StatusCode::OK)
        }
        Err(AuthorizeError::Refused(refusal)) => Err(refusal.into()),
        Err(AuthorizeError::ForeignScope(scope)) => Err(ApiError::Invalid(vec![(
            "scopes",
            format!(
                "The scope {scope} does not belong to {}.",
                resource.resource.identifier
            ),
        )])),
    }
}

/// `DELETE …/applications/{id}/authorized-apis/{apiId}` → 204. Scope:
/// `internal_application_mgt_update`.
async fn deauthorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, api_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_application_mgt_update")).await?;
    let by = caller.authority(&state).await?;
    let app =
        super::applications::load(&state, &caller, "internal_application_mgt_update", &id).await?;
    let resource = load(&state, &api_id).await?;
    let write = begin(&state.db).await?;
    if api_resources::deauthorize(&*write, &by, &app, resource.resource.id).await?? {
        write.commit().await?;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(
            "authorization of this application for this API",
        ))
    }
}
