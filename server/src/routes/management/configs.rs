//! `GET|PATCH|DELETE /api/server/v1/configs/impersonation`, as WSO2 has it, with settings
//! of ours beside `enableEmailNotification`: `requireReason`, `maxSessionDurationMinutes`,
//! `reauthenticateWithinMinutes`, `ticketRequired`, `ticketPattern`, `defaultMode`,
//! `allowFullMode`, `approval`, `requestExpiryMinutes`, `approvalWindowMinutes` and
//! `rules` (who may impersonate whom, each role and organization one of this tree's)
//! (`identity::settings::Impersonation`, which validates them). PATCH takes
//! `[{"operation":"REPLACE","path":…,"value":…}]`; a value out of range is a 400 naming
//! its field, and nothing is changed.
//! Scopes: `internal_config_view` / `internal_config_update`.

use super::error::ApiError;
use crate::routes::api_auth::authorize;
use crate::routes::impersonation_audit::begin;
use crate::state::AppState;
use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::get,
};
use identity::settings::{self, Impersonation, Mode};
use serde::Deserialize;
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/server/v1/configs/impersonation",
        get(read).patch(patch).delete(reset),
    )
}

async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Impersonation>, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_config_view")).await?;
    let org = caller
        .own_organization(&state, "internal_config_view")
        .await?;
    Ok(Json(settings::impersonation(&state.db, org).await?))
}

#[derive(Deserialize)]
struct Operation {
    operation: String,
    path: String,
    value: Value,
}

async fn patch(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Json<Impersonation>, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_config_update")).await?;
    let org = caller
        .own_organization(&state, "internal_config_update")
        .await?;
    let operations: Vec<Operation> = serde_json::from_str(&body)
        .map_err(|e| ApiError::BadRequest(format!("Expected a list of operations: {e}")))?;
    let mut value = settings::impersonation(&state.db, org).await?;
    for op in operations {
        if !op.operation.eq_ignore_ascii_case("REPLACE") {
            return Err(ApiError::BadRequest(format!(
                "Unsupported operation {}; use REPLACE.",
                op.operation
            )));
        }
        let wrong = |field: &'static str, kind: &str| {
            ApiError::Invalid(vec![(field, format!("{field} takes {kind}."))])
        };
        let boolean = |field| {
            op.value
                .as_bool()
                .ok_or_else(|| wrong(field, "true or false"))
        };
        let minutes = |field| {
            op.value
                .as_i64()
                .ok_or_else(|| wrong(field, "a number of minutes"))
        };
        match op.path.as_str() {
            "/enableEmailNotification" => {
                value.enable_email_notification = boolean("enableEmailNotification")?
            }
            "/requireReason" => value.require_reason = boolean("requireReason")?,
            "/maxSessionDurationMinutes" => {
                value.max_session_duration_minutes = minutes("maxSessionDurationMinutes")?
            }
            "/reauthenticateWithinMinutes" => {
                value.reauthenticate_within_minutes = minutes("reauthenticateWithinMinutes")?
            }
            "/ticketRequired" => value.ticket_required = boolean("ticketRequired")?,
            "/allowFullMode" => value.allow_full_mode = boolean("allowFullMode")?,
            "/defaultMode" => {
                value.default_mode = op
                    .value
                    .as_str()
                    .and_then(Mode::parse)
                    .ok_or_else(|| wrong("defaultMode", "full or readOnly"))?
            }
            "/approval" => {
                value.approval = op
                    .value
                    .as_str()
                    .and_then(settings::Approval::parse)
                    .ok_or_else(|| {
                        wrong(
                            "approval",
                            "none, user, administrator or userAndAdministrator",
                        )
                    })?
            }
            "/requestExpiryMinutes" => {
                value.request_expiry_minutes = minutes("requestExpiryMinutes")?
            }
            "/approvalWindowMinutes" => {
                value.approval_window_minutes = minutes("approvalWindowMinutes")?
            }
            "/rules" => {
                value.rules = serde_json::from_value(op.value.clone()).map_err(|error| {
                    let mut message = format!(
                        "rules takes a list of {{\"impersonatorRole\", \"targetRole\", \"targetOrganization\", \"effect\": \"allow\"|\"deny\"}}: {error}"
                    );
                    identity::text::bound(&mut message, identity::text::ECHO_LIMIT);
                    ApiError::Invalid(vec![("rules", message)])
                })?
            }
            "/ticketPattern" => {
                let pattern = op
                    .value
                    .as_str()
                    .ok_or_else(|| wrong("ticketPattern", "text"))?;
                value.ticket_pattern = pattern.to_owned();
            }
            other => {
                let mut message = format!("Unknown path {other}.");
                identity::text::bound(&mut message, identity::text::ECHO_LIMIT);
                return Err(ApiError::BadRequest(message));
            }
        }
    }
    value
        .validate()
        .map_err(|invalid| ApiError::Invalid(vec![(invalid.field, invalid.message)]))?;
    settings::check_rules(&state.db, org, &value.rules)
        .await?
        .map_err(|invalid| ApiError::Invalid(vec![(invalid.field, invalid.message)]))?;
    let write = begin(&state.db).await?;
    settings::set_impersonation(&*write, org, &value).await?;
    write.commit().await?;
    tracing::info!(?value, "impersonation settings changed");
    Ok(Json(value))
}

async fn reset(State(state): State<AppState>, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_config_update")).await?;
    let org = caller
        .own_organization(&state, "internal_config_update")
        .await?;
    let write = begin(&state.db).await?;
    settings::reset_impersonation(&*write, org).await?;
    write.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
