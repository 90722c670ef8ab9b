//! SCIM 2.0 Roles v2, as WSO2 exposes them at `/scim2/v2/Roles`: `displayName`,
//! `audience {type, value}`, `permissions [{value}]`, `users [{value}]`. The built-in
//! Impersonator and Administrator roles keep their name and permissions; only their users
//! change.

use super::error::ScimError;
use super::{LIST_SCHEMA, PATCH_SCHEMA, filter, parse_body, scim};
use crate::routes::api_auth::{Caller, authorize};
use crate::routes::impersonation_audit::begin;
use crate::state::AppState;
use axum::{
    Router,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::Response,
    routing::get,
};
use identity::entities::role::AudienceType;
use identity::roles::{self, RoleChange, RoleError, RoleView};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

pub const ROLE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:2.0:Role";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/scim2/v2/Roles", get(list).post(create))
        .route(
            "/scim2/v2/Roles/{id}",
            get(read).patch(patch).delete(remove),
        )
}

fn resource(state: &AppState, view: &RoleView) -> Value {
    let audience_type = match view.role.audience_type {
        AudienceType::Application => "application",
        AudienceType::Organization => "organization",
    };
    json!({
        "schemas": [ROLE_SCHEMA],
        "id": view.role.id.to_string(),
        "displayName": view.role.name,
        "audience": { "type": audience_type, "value": view.role.audience_id.to_string() },
        "permissions": view.scopes.iter().map(|s| json!({ "value": s, "display": s })).collect::<Vec<_>>(),
        "users": view.users.iter().map(|u| json!({
            "value": u.id.to_string(),
            "display": u.username,
            "$ref": format!("{}/scim2/Users/{}", state.public_url, u.id),
        })).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Role",
            "created": identity::clock::rfc3339(view.role.created_at),
            "location": format!("{}/scim2/v2/Roles/{}", state.public_url, view.role.id),
        },
        "urn:ietf:params:scim:schemas:extension:wso2:2.0:Role": { "builtIn": view.role.builtin },
    })
}

fn role_error(error: RoleError) -> ScimError {
    match error {
        RoleError::Builtin => {
            ScimError::new(StatusCode::FORBIDDEN, Some("mutability"), error.to_string())
        }
        RoleError::Duplicate(_) => ScimError::uniqueness(error.to_string()),
        RoleError::Refused(refusal) => refusal.into(),
        other => ScimError::invalid_value(other.to_string()),
    }
}

#[derive(Deserialize)]
struct ValueRef {
    value: String,
}

#[derive(Deserialize)]
struct AudienceInput {
    r#type: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleInput {
    display_name: Option<String>,
    audience: Option<AudienceInput>,
    #[serde(default)]
    permissions: Vec<ValueRef>,
    #[serde(default)]
    users: Vec<ValueRef>,
}

fn uuids(values: &[ValueRef]) -> Result<Vec<Uuid>, ScimError> {
    values
        .iter()
        .map(|v| {
            Uuid::parse_str(&v.value)
                .map_err(|_| ScimError::invalid_value(format!("No user with the id {}.", v.value)))
        })
        .collect()
}

/// `POST /scim2/v2/Roles` → 201. Scope: `internal_role_mgt_create`.
async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, ScimError> {
    let caller = authorize(&state, &headers, Some("internal_role_mgt_create")).await?;
    let input: RoleInput = parse_body(&body)?;
    let name = input
        .display_name
        .ok_or_else(|| ScimError::invalid_value("displayName is required."))?;
    let organization_id = match &caller.user {
        Some(user) => user.organization_id,
        None => identity::seed::root_organization_id(&state.db).await?,
    };
    let audience = match input.audience {
        None => (AudienceType::Organization, organization_id),
        Some(a) => {
            let kind = match a.r#type.to_ascii_lowercase().as_str() {
                "application" => AudienceType::Application,
                "organization" => AudienceType::Organization,
                _ => {
                    return Err(ScimError::invalid_value(
                        "audience.type must be application or organization.",
                    ));
                }
            };
            let id = Uuid::parse_str(&a.value)
                .map_err(|_| ScimError::invalid_value("audience.value is not an id."))?;
            (kind, id)
        }
    };
    let scopes: Vec<String> = input.permissions.into_iter().map(|p| p.value).collect();
    let users = uuids(&input.users)?;
    let write = begin(&state.db).await?;
    let by = caller.authority(&state).await?;
    let view = roles::create(
        &*write,
        &by,
        organization_id,
        &name,
        audience,
        &scopes,
        &users,
    )
    .await?
    .map_err(role_error)?;
    write.commit().await?;
    tracing::info!(role_id = %view.role.id, name = %view.role.name, "role created");
    let mut response = scim(StatusCode::CREATED, resource(&state, &view));
    if let Ok(location) = HeaderValue::from_str(&format!(
        "{}/scim2/v2/Roles/{}",
        state.public_url, view.role.id
    )) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
}

/// `GET /scim2/v2/Roles[?filter=displayName eq "…" | audience.value eq "…"]`. Scope:
/// `internal_role_mgt_view`.
async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, ScimError> {
    let caller = authorize(&state, &headers, Some("internal_role_mgt_view")).await?;
    let mut name = None;
    let mut audience = None;
    if let Some(text) = &query.filter {
        if text.len() > filter::MAX_BYTES {
            return Err(ScimError::invalid_filter(format!(
                "The filter is longer than {} bytes.",
                filter::MAX_BYTES
            )));
        }
        for clause in text.split(" and ") {
            let (attr, value) = clause.split_once(" eq ").ok_or_else(|| {
                ScimError::invalid_filter(
                    "Roles can be filtered with eq on displayName and audience.value.",
                )
            })?;
            let value = value.trim().trim_matches('"');
            match attr.trim().to_ascii_lowercase().as_str() {
                "displayname" => name = Some(value.to_owned()),
                "audience.value" => {
                    audience =
                        Some(Uuid::parse_str(value).map_err(|_| {
                            ScimError::invalid_filter("audience.value is not an id.")
                        })?)
                }
                other => {
                    return Err(ScimError::invalid_filter(format!(
                        "Filtering roles on {} is not supported.",
                        filter::quoted(other)
                    )));
                }
            }
        }
    }
    let start = query.start_index.unwrap_or(1).max(1);
    let count = query.count.unwrap_or(100).clamp(0, 500);
    let reach = caller.reach(&state, "internal_role_mgt_view").await?;
    let (total, page) = roles::list(
        &state.db,
        &reach,
        name.as_deref(),
        audience,
        (start - 1) as u64,
        count as u64,
    )
    .await?;
    Ok(scim(
        StatusCode::OK,
        json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": page.len(),
            "Resources": page.iter().map(|v| resource(&state, v)).collect::<Vec<_>>(),
        }),
    ))
}

/// The role `id` if the caller's `scope` reaches its organization: a role beyond it (the
/// root's Administrator, for a sub-organization's administrator) is as unknown as one that
/// does not exist.
async fn load(
    state: &AppState,
    caller: &Caller,
    scope: &str,
    id: &str,
) -> Result<RoleView, ScimError> {
    let not_found = || ScimError::new(StatusCode::NOT_FOUND, None, "No role with this id.");
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    let reach = caller.reach(state, scope).await?;
    roles::find(&state.db, id)
        .await?
        .filter(|view| reach.contains(identity::roles::organization_of(&view.role)))
        .ok_or_else(not_found)
}

/// `GET /scim2/v2/Roles/{id}`. Scope: `internal_role_mgt_view`.
async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let caller = authorize(&state, &headers, Some("internal_role_mgt_view")).await?;
    Ok(scim(
        StatusCode::OK,
        resource(
            &state,
            &load(&state, &caller, "internal_role_mgt_view", &id).await?,
        ),
    ))
}

#[derive(Deserialize)]
struct PatchRequest {
    schemas: Vec<String>,
    #[serde(rename = "Operations")]
    operations: Vec<PatchOperation>,
}

#[derive(Deserialize)]
struct PatchOperation {
    op: String,
    path: Option<String>,
    value: Option<Value>,
}

/// The values of a `[{"value": …}]` array.
fn values(value: Option<Value>) -> Result<Vec<String>, ScimError> {
    let refs: Vec<ValueRef> = serde_json::from_value(value.unwrap_or(Value::Array(vec![])))
        .map_err(|_| ScimError::invalid_value("Expected a list of {\"value\": …}."))?;
    Ok(refs.into_iter().map(|r| r.value).collect())
}

/// `users[value eq "id"]` → the id.
fn filtered_value(path: &str, attribute: &str) -> Option<String> {
    let inner = path
        .strip_prefix(attribute)?
        .strip_prefix('[')?
        .strip_suffix(']')?;
    let (_, value) = inner.split_once(" eq ")?;
    Some(value.trim().trim_matches('"').to_owned())
}

/// `PATCH /scim2/v2/Roles/{id}`: add or remove users and permissions, replace the name.
/// Scope: `internal_role_mgt_update`.
async fn patch(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Result<Response, ScimError> {
    let caller = authorize(&state, &headers, Some("internal_role_mgt_update")).await?;
    let by = caller.authority(&state).await?;
    let view = load(&state, &caller, "internal_role_mgt_update", &id).await?;
    let request: PatchRequest = parse_body(&body)?;
    if !request.schemas.iter().any(|s| s == PATCH_SCHEMA) {
        return Err(ScimError::invalid_value(format!(
            "A PATCH body must have the schema {PATCH_SCHEMA}."
        )));
    }
    let mut change = RoleChange::default();
    for operation in request.operations {
        let op = operation.op.to_ascii_lowercase();
        let path = operation.path.unwrap_or_default();
        let as_uuid = |v: String| {
            Uuid::parse_str(&v)
                .map_err(|_| ScimError::invalid_value(format!("No user with the id {v}.")))
        };
        match (op.as_str(), path.as_str()) {
            ("add", "users") => {
                for v in values(operation.value)? {
                    change.add_users.push(as_uuid(v)?);
                }
            }
            ("remove", "users") => {
                for v in values(operation.value)? {
                    change.remove_users.push(as_uuid(v)?);
                }
            }
            ("remove", p) if filtered_value(p, "users").is_some() => {
                change
                    .remove_users
                    .push(as_uuid(filtered_value(p, "users").unwrap_or_default())?);
            }
            ("add", "permissions") => change.add_scopes.extend(values(operation.value)?),
            ("remove", "permissions") => change.remove_scopes.extend(values(operation.value)?),
            ("remove", p) if filtered_value(p, "permissions").is_some() => {
                change
                    .remove_scopes
                    .push(filtered_value(p, "permissions").unwrap_or_default());
            }
            ("replace", "displayName") => match operation.value {
                Some(Value::String(name)) => change.rename = Some(name),
                _ => return Err(ScimError::invalid_value("displayName needs a string.")),
            },
            _ => {
                return Err(ScimError::new(
                    StatusCode::BAD_REQUEST,
                    Some("invalidPath"),
                    format!("The operation {op} on {path:?} is not supported."),
                ));
            }
        }
    }
    let write = begin(&state.db).await?;
    let updated = roles::change(&*write, &by, view.role, change)
        .await?
        .map_err(role_error)?;
    write.commit().await?;
    Ok(scim(StatusCode::OK, resource(&state, &updated)))
}

/// `DELETE /scim2/v2/Roles/{id}` → 204. Scope: `internal_role_mgt_delete`.
async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ScimError> {
    let caller = authorize(&state, &headers, Some("internal_role_mgt_delete")).await?;
    let by = caller.authority(&state).await?;
    let view = load(&state, &caller, "internal_role_mgt_delete", &id).await?;
    let write = begin(&state.db).await?;
    roles::delete(&*write, &by, &view.role)
        .await?
        .map_err(role_error)?;
    write.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
