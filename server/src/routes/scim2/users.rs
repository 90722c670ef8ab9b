//! SCIM 2.0 Users (RFC 7643 §4.1, RFC 7644 §3): `/scim2/Users` and `/scim2/Me`.
//! The password is write-only: it never appears in a response.

use super::error::ScimError;
use super::{LIST_SCHEMA, PATCH_SCHEMA, filter, parse_body, scim};
use crate::routes::api_auth::{Caller, Use, authorize};
use crate::routes::impersonation_audit::begin;
use crate::state::AppState;
use axum::{
    Router,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::Response,
    routing::get,
};
use identity::delegation::Authority;
use identity::entities::user::{self, UserStatus};
use identity::users::{self, Changes, NewUser, UserError};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const WSO2_SCHEMA: &str = "urn:scim:wso2:schema";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/scim2/Users", get(list).post(create))
        .route(
            "/scim2/Users/{id}",
            get(read).put(replace).patch(patch).delete(remove),
        )
        .route("/scim2/Me", get(me).put(replace_me).patch(patch_me))
}

/// The SCIM representation of a user.
pub fn resource(state: &AppState, user: &user::Model) -> Value {
    let location = format!("{}/scim2/Users/{}", state.public_url, user.id);
    let mut name = json!({ "formatted": users::display_name(user) });
    if !user.given_name.is_empty() {
        name["givenName"] = json!(user.given_name);
    }
    if !user.family_name.is_empty() {
        name["familyName"] = json!(user.family_name);
    }
    let emails = if user.email.is_empty() {
        json!([])
    } else {
        json!([{ "value": user.email, "primary": true }])
    };
    json!({
        "schemas": [USER_SCHEMA, WSO2_SCHEMA],
        "id": user.id.to_string(),
        "userName": user.username,
        "name": name,
        "emails": emails,
        "active": user.status != UserStatus::Disabled,
        WSO2_SCHEMA: { "accountLocked": user.status == UserStatus::Locked
            || users::is_throttled(user, identity::clock::now()) },
        "meta": {
            "resourceType": "User",
            "created": identity::clock::rfc3339(user.created_at),
            "lastModified": identity::clock::rfc3339(user.updated_at),
            "location": location,
        },
    })
}

/// The attributes of a User request body that we store.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct UserInput {
    user_name: Option<String>,
    name: Option<NameInput>,
    emails: Option<Vec<EmailInput>>,
    password: Option<String>,
    active: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct NameInput {
    given_name: Option<String>,
    family_name: Option<String>,
}

/// An email as a bare string or as `{"value", "primary", "type"}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum EmailInput {
    Plain(String),
    Object {
        value: String,
        #[serde(default)]
        primary: bool,
    },
}

fn primary_email(emails: &[EmailInput]) -> Option<String> {
    let mut first = None;
    for email in emails {
        match email {
            EmailInput::Object {
                value,
                primary: true,
            } => return Some(value.clone()),
            EmailInput::Object { value, .. } | EmailInput::Plain(value) => {
                first.get_or_insert_with(|| value.clone());
            }
        }
    }
    first
}

fn user_error(error: UserError) -> ScimError {
    match error {
        UserError::DuplicateUsername(name) => {
            ScimError::uniqueness(format!("The userName {name} is already taken."))
        }
        UserError::Invalid(message) => ScimError::invalid_value(message),
        UserError::Refused(refusal) => refusal.into(),
    }
}

/// The user `id` if the caller's `scope` reaches its organization; a user beyond it is as
/// unknown as one that does not exist.
async fn load(
    state: &AppState,
    caller: &Caller,
    scope: &str,
    id: &str,
) -> Result<user::Model, ScimError> {
    let id = Uuid::parse_str(id).map_err(|_| ScimError::not_found())?;
    let reach = caller.reach(state, scope).await?;
    users::find(&state.db, id)
        .await?
        .filter(|user| reach.contains(user.organization_id))
        .ok_or_else(ScimError::not_found)
}

/// `POST /scim2/Users` → 201. Scope: `internal_user_mgt_create`.
async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, ScimError> {
    let caller = authorize(&state, &headers, Some("internal_user_mgt_create")).await?;
    let input: UserInput = parse_body(&body)?;
    let username = input
        .user_name
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| ScimError::invalid_value("userName is required."))?;
    let password = input
        .password
        .ok_or_else(|| ScimError::invalid_value("password is required."))?;
    let email = input
        .emails
        .as_deref()
        .and_then(primary_email)
        .unwrap_or_default();
    let name = input.name.unwrap_or_default();
    let organization_id = match &caller.user {
        Some(user) => user.organization_id,
        None => identity::seed::root_organization_id(&state.db).await?,
    };
    let write = begin(&state.db).await?;
    let created = users::register(
        &*write,
        NewUser {
            organization_id,
            username: &username,
            email: &email,
            given_name: name.given_name.as_deref().unwrap_or(""),
            family_name: name.family_name.as_deref().unwrap_or(""),
            password: &password,
        },
    )
    .await?
    .map_err(user_error)?;
    let created = if input.active == Some(false) {
        users::update(
            &*write,
            &Authority::owner(created.id),
            created,
            Changes {
                status: Some(UserStatus::Disabled),
                ..Changes::default()
            },
        )
        .await?
        .map_err(user_error)?
    } else {
        created
    };
    write.commit().await?;
    tracing::info!(user_id = %created.id, "user created through SCIM");
    let mut response = scim(StatusCode::CREATED, resource(&state, &created));
    if let Ok(location) =
        HeaderValue::from_str(&format!("{}/scim2/Users/{}", state.public_url, created.id))
    {
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

/// The most a page holds.
const MAX_COUNT: i64 = 500;

/// `GET /scim2/Users?filter=&startIndex=&count=`. Scope: `internal_user_mgt_list`.
async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, ScimError> {
    let caller = authorize(&state, &headers, Some("internal_user_mgt_list")).await?;
    let reach = caller.reach(&state, "internal_user_mgt_list").await?;
    let filter = match query.filter.as_deref() {
        Some(text) => Some(filter::parse(text).map_err(|reason| {
            ScimError::invalid_filter(format!("The filter is not valid: {reason}."))
        })?),
        None => None,
    };
    // RFC 7644 §3.4.2.4: startIndex below 1 means 1; a negative count means 0.
    let start = query.start_index.unwrap_or(1).max(1);
    let count = query.count.unwrap_or(100).clamp(0, MAX_COUNT);
    let (total, page) = users::search(
        &state.db,
        &reach,
        filter.as_ref(),
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
            "Resources": page.iter().map(|u| resource(&state, u)).collect::<Vec<_>>(),
        }),
    ))
}

/// `GET /scim2/Users/{id}`. Scope: `internal_user_mgt_view`.
async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let caller = authorize(&state, &headers, Some("internal_user_mgt_view")).await?;
    let user = load(&state, &caller, "internal_user_mgt_view", &id).await?;
    Ok(scim(StatusCode::OK, resource(&state, &user)))
}

/// The changes a full representation (PUT) makes.
fn changes_from(input: UserInput, allow_username: bool) -> Result<Changes, ScimError> {
    let mut changes = Changes::default();
    if let Some(username) = input.user_name {
        if !allow_username {
            return Err(ScimError::new(
                StatusCode::BAD_REQUEST,
                Some("mutability"),
                "userName cannot be changed here.",
            ));
        }
        changes.username = Some(username);
    }
    let name = input.name.unwrap_or_default();
    changes.given_name = Some(name.given_name.unwrap_or_default());
    changes.family_name = Some(name.family_name.unwrap_or_default());
    changes.email = Some(
        input
            .emails
            .as_deref()
            .and_then(primary_email)
            .unwrap_or_default(),
    );
    changes.password = input.password;
    if let Some(active) = input.active {
        changes.status = Some(if active {
            UserStatus::Active
        } else {
            UserStatus::Disabled
        });
    }
    Ok(changes)
}

/// `PUT /scim2/Users/{id}`: replaces the user's attributes. Scope: `internal_user_mgt_update`.
async fn replace(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Result<Response, ScimError> {
    let caller = authorize(&state, &headers, Some("internal_user_mgt_update")).await?;
    let by = caller.authority(&state).await?;
    let user = load(&state, &caller, "internal_user_mgt_update", &id).await?;
    let changes = changes_from(parse_body(&body)?, true)?;
    let write = begin(&state.db).await?;
    let updated = users::update(&*write, &by, user, changes)
        .await?
        .map_err(user_error)?;
    write.commit().await?;
    Ok(scim(StatusCode::OK, resource(&state, &updated)))
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

/// Turns PatchOp operations (RFC 7644 §3.5.2) into changes.
fn changes_from_patch(request: PatchRequest, allow_privileged: bool) -> Result<Changes, ScimError> {
    if !request.schemas.iter().any(|s| s == PATCH_SCHEMA) {
        return Err(ScimError::invalid_value(format!(
            "A PATCH body must have the schema {PATCH_SCHEMA}."
        )));
    }
    let mut changes = Changes::default();
    for operation in request.operations {
        let op = operation.op.to_ascii_lowercase();
        if !matches!(op.as_str(), "add" | "replace" | "remove") {
            return Err(ScimError::invalid_value(format!(
                "Unknown operation {}.",
                operation.op
            )));
        }
        let mut pairs: Vec<(String, Value)> = Vec::new();
        match (&operation.path, operation.value) {
            (Some(path), value) => {
                pairs.push((path.to_ascii_lowercase(), value.unwrap_or(Value::Null)))
            }
            (None, Some(Value::Object(map))) => {
                for (key, value) in map {
                    match (key.to_ascii_lowercase().as_str(), value) {
                        ("name", Value::Object(name)) => {
                            for (k, v) in name {
                                pairs.push((format!("name.{}", k.to_ascii_lowercase()), v));
                            }
                        }
                        (k, v) => pairs.push((k.to_owned(), v)),
                    }
                }
            }
            (None, _) => {
                return Err(ScimError::new(
                    StatusCode::BAD_REQUEST,
                    Some("noTarget"),
                    "An operation without a path needs an object value.",
                ));
            }
        }
        for (path, value) in pairs {
            let text = |v: &Value| -> Result<String, ScimError> {
                match (op.as_str(), v) {
                    ("remove", _) => Ok(String::new()),
                    (_, Value::String(s)) => Ok(s.clone()),
                    _ => Err(ScimError::invalid_value(format!("{path} needs a string."))),
                }
            };
            match path.as_str() {
                "name.givenname" => changes.given_name = Some(text(&value)?),
                "name.familyname" => changes.family_name = Some(text(&value)?),
                "emails" | "emails.value" | "emails[primary eq true].value" => {
                    changes.email = Some(match (&value, op.as_str()) {
                        (_, "remove") => String::new(),
                        (Value::String(s), _) => s.clone(),
                        (Value::Array(_), _) => {
                            let emails: Vec<EmailInput> = serde_json::from_value(value.clone())
                                .map_err(|_| ScimError::invalid_value("emails is malformed."))?;
                            primary_email(&emails).unwrap_or_default()
                        }
                        _ => return Err(ScimError::invalid_value("emails is malformed.")),
                    })
                }
                "username" if allow_privileged => changes.username = Some(text(&value)?),
                "password" if allow_privileged => changes.password = Some(text(&value)?),
                "active" if allow_privileged => match value {
                    Value::Bool(active) => {
                        changes.status = Some(if active {
                            UserStatus::Active
                        } else {
                            UserStatus::Disabled
                        })
                    }
                    _ => return Err(ScimError::invalid_value("active needs true or false.")),
                },
                "username" | "password" | "active" => {
                    return Err(ScimError::new(
                        StatusCode::BAD_REQUEST,
                        Some("mutability"),
                        format!("{path} cannot be changed here."),
                    ));
                }
                "schemas" => {}
                other => {
                    return Err(ScimError::new(
                        StatusCode::BAD_REQUEST,
                        Some("invalidPath"),
                        format!("The attribute {other} is not supported."),
                    ));
                }
            }
        }
    }
    Ok(changes)
}

/// `PATCH /scim2/Users/{id}`. Scope: `internal_user_mgt_update`.
async fn patch(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Result<Response, ScimError> {
    let caller = authorize(&state, &headers, Some("internal_user_mgt_update")).await?;
    let by = caller.authority(&state).await?;
    let user = load(&state, &caller, "internal_user_mgt_update", &id).await?;
    let changes = changes_from_patch(parse_body(&body)?, true)?;
    let write = begin(&state.db).await?;
    let updated = users::update(&*write, &by, user, changes)
        .await?
        .map_err(user_error)?;
    write.commit().await?;
    Ok(scim(StatusCode::OK, resource(&state, &updated)))
}

/// `DELETE /scim2/Users/{id}` → 204. Scope: `internal_user_mgt_delete`. Nobody deletes
/// their own account this way.
async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ScimError> {
    let caller = authorize(&state, &headers, Some("internal_user_mgt_delete")).await?;
    let user = load(&state, &caller, "internal_user_mgt_delete", &id).await?;
    if caller.user.as_ref().is_some_and(|c| c.id == user.id) {
        return Err(ScimError::new(
            StatusCode::BAD_REQUEST,
            Some("mutability"),
            "You cannot delete your own account.",
        ));
    }
    let by = caller.authority(&state).await?;
    let write = begin(&state.db).await?;
    users::delete(&*write, &by, user.id).await??;
    write.commit().await?;
    tracing::info!(user_id = %user.id, "user deleted through SCIM");
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's own user, for `/scim2/Me` ([`Caller::own_account`]); the refusal is
/// recorded naming the user (for an impersonated token: as an impersonated modification
/// that failed).
fn own(caller: Caller, purpose: Use) -> Result<user::Model, ScimError> {
    caller.own_account(purpose).map_err(|(message, user)| {
        let refused = ScimError::new(StatusCode::FORBIDDEN, None, message);
        match user {
            Some(user) => refused.by(user),
            None => refused,
        }
    })
}

/// `GET /scim2/Me`: the caller's own user. Any signed-in user.
async fn me(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ScimError> {
    let user = own(authorize(&state, &headers, None).await?, Use::Read)?;
    Ok(scim(StatusCode::OK, resource(&state, &user)))
}

/// `PUT /scim2/Me`: one's own name and email (not the username, status or password).
async fn replace_me(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, ScimError> {
    let user = own(authorize(&state, &headers, None).await?, Use::Write)?;
    let mut input: UserInput = parse_body(&body)?;
    if input.user_name.as_deref() == Some(user.username.as_str()) {
        input.user_name = None;
    }
    if input.password.is_some() || input.active.is_some() {
        return Err(ScimError::new(
            StatusCode::BAD_REQUEST,
            Some("mutability"),
            "password and active cannot be changed here.",
        ));
    }
    let changes = changes_from(input, false)?;
    let write = begin(&state.db).await?;
    let updated = users::update(&*write, &Authority::owner(user.id), user, changes)
        .await?
        .map_err(user_error)?;
    write.commit().await?;
    Ok(scim(StatusCode::OK, resource(&state, &updated)))
}

/// `PATCH /scim2/Me`: one's own name and email.
async fn patch_me(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, ScimError> {
    let user = own(authorize(&state, &headers, None).await?, Use::Write)?;
    let changes = changes_from_patch(parse_body(&body)?, false)?;
    let write = begin(&state.db).await?;
    let updated = users::update(&*write, &Authority::owner(user.id), user, changes)
        .await?
        .map_err(user_error)?;
    write.commit().await?;
    Ok(scim(StatusCode::OK, resource(&state, &updated)))
}
