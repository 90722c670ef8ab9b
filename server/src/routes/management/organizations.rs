//! Organizations: `POST|GET /api/server/v1/organizations`, `GET …/{id}`, and members
//! invited from an ancestor organization: `POST|GET …/{id}/members` (`{"userId": …}`).
//! Scopes: `internal_organization_create`, `…_view`, `…_update`.

use super::error::ApiError;
use crate::routes::api_auth::{Caller, authorize};
use crate::routes::impersonation_audit::begin;
use crate::state::AppState;
use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use identity::entities::organization;
use identity::organizations::{self, OrgError};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

const BASE: &str = "/api/server/v1/organizations";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(BASE, get(list).post(create))
        .route(&format!("{BASE}/{{id}}"), get(read))
        .route(&format!("{BASE}/{{id}}/members"), get(members).post(invite))
}

fn view(o: &organization::Model) -> Value {
    json!({
        "id": o.id,
        "name": o.name,
        "parentId": o.parent_id,
        "created": identity::clock::rfc3339(o.created_at),
        "self": format!("{BASE}/{}", o.id),
    })
}

fn org_error(error: OrgError) -> ApiError {
    match error {
        OrgError::Duplicate(_) | OrgError::AlreadyMember => ApiError::Conflict(error.to_string()),
        other => ApiError::BadRequest(other.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewOrganization {
    name: String,
    parent_id: Option<Uuid>,
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_organization_create")).await?;
    let reach = caller.reach(&state, "internal_organization_create").await?;
    let input: NewOrganization = serde_json::from_str(&body).map_err(ApiError::bad_body)?;
    let parent = match input.parent_id {
        Some(id) => id,
        None => identity::seed::root_organization_id(&state.db).await?,
    };
    // A parent beyond the caller's reach is refused as an unknown one.
    if !reach.contains(parent) {
        return Err(org_error(OrgError::UnknownParent));
    }
    let write = begin(&state.db).await?;
    let created = organizations::create(&*write, parent, &input.name)
        .await?
        .map_err(org_error)?;
    write.commit().await?;
    tracing::info!(organization_id = %created.id, "organization created");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("{BASE}/{}", created.id))],
        Json(view(&created)),
    )
        .into_response())
}

async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_organization_view")).await?;
    let reach = caller.reach(&state, "internal_organization_view").await?;
    let mut all = organizations::list(&state.db).await?;
    all.retain(|org| reach.contains(org.id));
    Ok(Json(
        json!({ "organizations": all.iter().map(view).collect::<Vec<_>>() }),
    ))
}

/// The organization `id` if the caller's `scope` reaches it; one beyond is as unknown as
/// none.
async fn load(
    state: &AppState,
    caller: &Caller,
    scope: &str,
    id: &str,
) -> Result<organization::Model, ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound("organization"))?;
    let reach = caller.reach(state, scope).await?;
    organizations::find(&state.db, id)
        .await?
        .filter(|org| reach.contains(org.id))
        .ok_or(ApiError::NotFound("organization"))
}

async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_organization_view")).await?;
    Ok(Json(view(
        &load(&state, &caller, "internal_organization_view", &id).await?,
    )))
}

async fn members(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_organization_view")).await?;
    let org = load(&state, &caller, "internal_organization_view", &id).await?;
    let members = organizations::members(&state.db, org.id).await?;
    Ok(Json(json!({
        "members": members.iter().map(|u| json!({ "userId": u.id, "userName": u.username })).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Invite {
    user_id: Uuid,
}

async fn invite(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Result<StatusCode, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_organization_update")).await?;
    let org = load(&state, &caller, "internal_organization_update", &id).await?;
    let input: Invite = serde_json::from_str(&body).map_err(ApiError::bad_body)?;
    let user = identity::users::find(&state.db, input.user_id)
        .await?
        .ok_or_else(|| ApiError::BadRequest("No user with this id.".into()))?;
    let write = begin(&state.db).await?;
    organizations::invite(&*write, org.id, &user)
        .await?
        .map_err(org_error)?;
    write.commit().await?;
    Ok(StatusCode::CREATED)
}
