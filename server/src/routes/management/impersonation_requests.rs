//! Impersonation requests (ours; issue 14), where the organization asks for approval
//! (`identity::impersonation::approval`):
//!
//! - `GET /api/server/v1/impersonation-requests[?status=&requester=&target=&limit=&offset=]`:
//!   an approver (`internal_impersonation_approve`) sees those of the organizations it
//!   reaches; anyone else, their own requests.
//! - `POST /api/server/v1/impersonation-requests` with `{"target", "reason", "ticket",
//!   "mode": "full"|"readOnly", "durationMinutes"}`: `201` with `id` and `status`. Any
//!   signed-in user; the impersonation rules decide (as for Impersonate User).
//! - `GET …/{id}`: the requester, the user it is about, or an approver reaching it.
//! - `POST …/{id}/approve`, `POST …/{id}/deny` with `{"comment"}`: an approver, never of
//!   their own request or one about them, and holding every privilege the requester holds.
//! - `DELETE …/{id}`: the requester withdraws it.
//!
//! The user decides with their own token (My Account's, or one with `internal_login`):
//! `GET /api/users/v1/me/impersonation-requests`, `POST …/{id}/approve|deny`; and grants
//! standing support access: `GET|POST|DELETE /api/users/v1/me/support-access` (`POST`
//! with `{"hours": 1..72}`). An impersonated token decides nothing and requests nothing.

use super::error::ApiError;
use crate::routes::api_auth::{Caller, Use, authorize};
use crate::routes::impersonation_audit::begin;
use crate::state::AppState;
use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use identity::clock;
use identity::entities::{impersonation_request, support_access, user};
use identity::impersonation::approval::{
    self, DecideError, Decider, Decision, RequestError, RequestQuery, Status, SupportAccessError,
};
use identity::impersonation::policy::Refusal;
use identity::organizations::Reach;
use identity::scopes::IMPERSONATION_APPROVE;
use identity::settings::Mode;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

const BASE: &str = "/api/server/v1/impersonation-requests";
const MINE: &str = "/api/users/v1/me/impersonation-requests";
const SUPPORT_ACCESS: &str = "/api/users/v1/me/support-access";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(BASE, get(list).post(create))
        .route(&format!("{BASE}/{{id}}"), get(read).delete(withdraw))
        .route(&format!("{BASE}/{{id}}/approve"), post(approve))
        .route(&format!("{BASE}/{{id}}/deny"), post(deny))
        .route(MINE, get(list_mine))
        .route(&format!("{MINE}/{{id}}/approve"), post(approve_mine))
        .route(&format!("{MINE}/{{id}}/deny"), post(deny_mine))
        .route(
            SUPPORT_ACCESS,
            get(read_support_access)
                .post(grant_support_access)
                .delete(revoke_support_access),
        )
}

/// How one approval of a request stands.
fn part(asked: bool, approved_at: Option<i64>) -> &'static str {
    match (asked, approved_at) {
        (false, _) => "notAsked",
        (true, Some(_)) => "approved",
        (true, None) => "pending",
    }
}

pub fn view(r: &impersonation_request::Model) -> Value {
    let now = clock::now();
    json!({
        "id": r.id,
        "status": Status::of(r, now).as_str(),
        "requester": r.requester_id,
        "requesterName": r.requester_name,
        "target": r.target_id,
        "reason": r.reason,
        "ticket": r.ticket,
        "mode": if r.read_only { Mode::ReadOnly } else { Mode::Full }.as_str(),
        "durationMinutes": r.duration_minutes,
        "approvals": {
            "user": part(r.needs_user, r.user_approved_at),
            "administrator": part(r.needs_administrator, r.administrator_approved_at),
        },
        "approvedBy": r.administrator_id,
        "createdAt": clock::rfc3339(r.created_at),
        "decideBy": clock::rfc3339(r.decide_by),
        "validUntil": r.valid_until.map(clock::rfc3339),
        "closedBy": r.closed_by,
        "closedAt": r.closed_at.map(clock::rfc3339),
        "comment": r.comment,
        "session": r.session_id,
        "self": format!("{BASE}/{}", r.id),
    })
}

fn support_view(access: Option<&support_access::Model>) -> Value {
    match access {
        Some(a) => json!({
            "granted": true,
            "grantedAt": clock::rfc3339(a.granted_at),
            "expiresAt": clock::rfc3339(a.expires_at),
        }),
        None => json!({ "granted": false }),
    }
}

/// The signed-in user behind `caller`, acting as themselves (not through an impersonated
/// token).
fn acting_user(caller: Caller) -> Result<user::Model, ApiError> {
    if caller.impersonated() {
        return Err(ApiError::Forbidden(
            "An impersonated token cannot request or decide impersonations.".into(),
        ));
    }
    caller.user.ok_or_else(|| {
        ApiError::Forbidden("Impersonation requests are made and decided by users.".into())
    })
}

/// Where the caller may decide requests: `None` when nowhere (a token without the scope,
/// or no role granting it).
async fn approver_reach(state: &AppState, caller: &Caller) -> Result<Option<Reach>, ApiError> {
    if let Some(token) = &caller.token
        && !identity::oauth::scope::parse(&token.scope)
            .iter()
            .any(|s| *s == IMPERSONATION_APPROVE)
    {
        return Ok(None);
    }
    let reach = caller.reach(state, IMPERSONATION_APPROVE).await?;
    Ok((!reach.is_nowhere()).then_some(reach))
}

#[derive(Deserialize)]
struct Params {
    status: Option<String>,
    requester: Option<Uuid>,
    target: Option<Uuid>,
    limit: Option<u64>,
    offset: Option<u64>,
}

fn status_filter(status: Option<&str>) -> Result<Option<Status>, ApiError> {
    status
        .map(|text| {
            Status::parse(text).ok_or_else(|| {
                ApiError::Invalid(vec![(
                    "status",
                    "status takes pending, approved, denied, expired, withdrawn or used.".into(),
                )])
            })
        })
        .transpose()
}

async fn page(state: &AppState, query: RequestQuery, p: &Params) -> Result<Json<Value>, ApiError> {
    let offset = p.offset.unwrap_or(0);
    let limit = p.limit.unwrap_or(50).clamp(1, 500);
    let (total, page) = approval::list(&state.db, &query, offset, limit).await?;
    Ok(Json(json!({
        "totalResults": total,
        "offset": offset,
        "requests": page.iter().map(view).collect::<Vec<_>>(),
    })))
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&state, &headers, None).await?;
    let status = status_filter(p.status.as_deref())?;
    let mut query = RequestQuery {
        status,
        requester: p.requester,
        target: p.target,
        ..RequestQuery::default()
    };
    match approver_reach(&state, &caller).await? {
        Some(reach) => query.within = Some(reach),
        None => {
            let me = caller
                .user
                .as_ref()
                .ok_or(ApiError::Lacks(IMPERSONATION_APPROVE, None))?;
            query.requester = Some(me.id);
        }
    }
    page(&state, query, &p).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewRequest {
    target: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    ticket: String,
    mode: Option<String>,
    duration_minutes: Option<i64>,
}

fn request_error(error: RequestError) -> ApiError {
    match error {
        RequestError::Internal(error) => error.into(),
        RequestError::Invalid { field, message } => ApiError::Invalid(vec![(field, message)]),
        RequestError::Refused(Refusal::UnknownTarget) => ApiError::Invalid(vec![(
            "target",
            "target is not a user you may impersonate.".into(),
        )]),
        RequestError::Refused(refusal) => {
            let text = refusal
                .requirement()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("This impersonation is not allowed: {refusal}."));
            ApiError::Forbidden(text)
        }
        RequestError::AlreadyOpen
        | RequestError::TooMany
        | RequestError::NotNeeded
        | RequestError::RecentlyDenied
        | RequestError::TooOften => ApiError::Conflict(error.to_string()),
    }
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let caller = authorize(&state, &headers, None).await?;
    let requester = acting_user(caller)?;
    let input: NewRequest = serde_json::from_str(&body).map_err(ApiError::bad_body)?;
    let mode = match input.mode.as_deref() {
        None => None,
        Some(text) => Some(Mode::parse(text).ok_or_else(|| {
            ApiError::Invalid(vec![("mode", "mode takes full or readOnly.".into())])
        })?),
    };
    let url = format!("{}/myaccount/access-requests", state.public_url);
    let write = begin(&state.db).await?;
    let created = approval::create(
        &*write,
        approval::NewRequest {
            requester: &requester,
            target: &input.target,
            reason: &input.reason,
            ticket: &input.ticket,
            mode,
            duration_minutes: input.duration_minutes,
            access_requests_url: &url,
        },
    )
    .await
    .map_err(request_error)?;
    write.commit().await?;
    Ok((StatusCode::CREATED, Json(view(&created))))
}

fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::NotFound("impersonation request"))
}

async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&state, &headers, None).await?;
    let found = approval::find(&state.db, parse_id(&id)?)
        .await?
        .ok_or(ApiError::NotFound("impersonation request"))?;
    let me = caller.user.as_ref().map(|u| u.id);
    let party = me.is_some_and(|me| me == found.requester_id || me == found.target_id);
    let approver = approver_reach(&state, &caller)
        .await?
        .is_some_and(|reach| reach.contains(found.organization_id));
    if !party && !approver {
        return Err(ApiError::NotFound("impersonation request"));
    }
    Ok(Json(view(&found)))
}

fn decide_error(error: DecideError) -> ApiError {
    match error {
        DecideError::Internal(error) => error.into(),
        DecideError::NotFound => ApiError::NotFound("impersonation request"),
        DecideError::Closed(_) | DecideError::AlreadyApproved => {
            ApiError::Conflict(error.to_string())
        }
        DecideError::OwnRequest
        | DecideError::UserNotAsked
        | DecideError::AdministratorNotAsked
        | DecideError::UnderPrivileged => ApiError::Forbidden(error.to_string()),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Denial {
    #[serde(default)]
    comment: String,
}

fn denial(body: &str) -> Result<Decision, ApiError> {
    let denial: Denial = if body.trim().is_empty() {
        Denial::default()
    } else {
        serde_json::from_str(body).map_err(ApiError::bad_body)?
    };
    Ok(Decision::Deny {
        comment: denial.comment,
    })
}

/// An approver decides: the request must be where their scope reaches (elsewhere it is
/// as unknown as none).
async fn decide_as_administrator(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    decision: Decision,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(state, headers, Some(IMPERSONATION_APPROVE)).await?;
    let reach = caller.reach(state, IMPERSONATION_APPROVE).await?;
    let approver = acting_user(caller)?;
    let id = parse_id(id)?;
    approval::find(&state.db, id)
        .await?
        .filter(|r| reach.contains(r.organization_id))
        .ok_or(ApiError::NotFound("impersonation request"))?;
    let write = begin(&state.db).await?;
    let decided = approval::decide(&*write, id, Decider::Administrator(&approver), decision)
        .await
        .map_err(decide_error)?;
    write.commit().await?;
    Ok(Json(view(&decided)))
}

async fn approve(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    decide_as_administrator(&state, &headers, &id, Decision::Approve).await
}

async fn deny(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Result<Json<Value>, ApiError> {
    decide_as_administrator(&state, &headers, &id, denial(&body)?).await
}

async fn withdraw(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&state, &headers, None).await?;
    let requester = acting_user(caller)?;
    let write = begin(&state.db).await?;
    let withdrawn = approval::withdraw(&*write, parse_id(&id)?, &requester)
        .await
        .map_err(decide_error)?;
    write.commit().await?;
    Ok(Json(view(&withdrawn)))
}

/// The caller's own account, for a self-service call. Consent (deciding a request,
/// granting or revoking support access) is given only with one's password or My
/// Account's own token: a token any application may obtain with `internal_login` reads,
/// but does not let others in.
async fn own(state: &AppState, headers: &HeaderMap, purpose: Use) -> Result<user::Model, ApiError> {
    let caller = authorize(state, headers, None).await?;
    let through_another_application = caller
        .token
        .as_ref()
        .is_some_and(|t| t.client_id != identity::scopes::MY_ACCOUNT_CLIENT_ID);
    let impersonated = caller.impersonated();
    let user = caller
        .own_account(purpose)
        .map_err(|(message, _)| ApiError::Forbidden(message.to_owned()))?;
    if purpose == Use::Write && through_another_application && !impersonated {
        return Err(ApiError::Forbidden(
            "Only you decide who may act as you: use My Account or your password.".into(),
        ));
    }
    Ok(user)
}

async fn list_mine(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let me = own(&state, &headers, Use::Read).await?;
    let query = RequestQuery {
        status: status_filter(p.status.as_deref())?,
        target: Some(me.id),
        ..RequestQuery::default()
    };
    page(&state, query, &p).await
}

async fn decide_as_user(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    decision: Decision,
) -> Result<Json<Value>, ApiError> {
    let me = own(state, headers, Use::Write).await?;
    let write = begin(&state.db).await?;
    let decided = approval::decide(&*write, parse_id(id)?, Decider::User(&me), decision)
        .await
        .map_err(decide_error)?;
    write.commit().await?;
    Ok(Json(view(&decided)))
}

async fn approve_mine(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    decide_as_user(&state, &headers, &id, Decision::Approve).await
}

async fn deny_mine(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Result<Json<Value>, ApiError> {
    decide_as_user(&state, &headers, &id, denial(&body)?).await
}

async fn read_support_access(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let me = own(&state, &headers, Use::Read).await?;
    let access = approval::live_support_access(&state.db, me.id, clock::now()).await?;
    Ok(Json(support_view(access.as_ref())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Grant {
    hours: i64,
}

async fn grant_support_access(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let me = own(&state, &headers, Use::Write).await?;
    let grant: Grant = serde_json::from_str(&body).map_err(ApiError::bad_body)?;
    let write = begin(&state.db).await?;
    let access = approval::grant_support_access(&*write, &me, grant.hours)
        .await
        .map_err(|error| match error {
            SupportAccessError::Internal(error) => error.into(),
            SupportAccessError::Hours => ApiError::Invalid(vec![("hours", error.to_string())]),
            SupportAccessError::AlreadyGranted => ApiError::Conflict(error.to_string()),
        })?;
    write.commit().await?;
    Ok((StatusCode::CREATED, Json(support_view(Some(&access)))))
}

async fn revoke_support_access(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let me = own(&state, &headers, Use::Write).await?;
    let write = begin(&state.db).await?;
    if !approval::revoke_support_access(&*write, &me).await? {
        return Err(ApiError::NotFound("support access"));
    }
    write.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
