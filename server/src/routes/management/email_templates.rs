//! Email templates, after WSO2's email template API:
//! `GET /api/server/v1/email/template-types`,
//! `GET|PUT|DELETE /api/server/v1/email/template-types/{type}/templates/{locale}`
//! (`{"subject", "body" (HTML), "textBody"}`; `DELETE` returns to the built-in template).
//! The types are `ImpersonationEmailNotification` and
//! `ImpersonationRequestEmailNotification`. Scopes:
//! `internal_email_template_view` / `internal_email_template_update`.

use super::error::ApiError;
use crate::routes::api_auth::authorize;
use crate::routes::impersonation_audit::begin;
use crate::state::AppState;
use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::get,
};
use identity::mail::{self, Template};
use serde::Deserialize;
use serde_json::{Value, json};

const BASE: &str = "/api/server/v1/email/template-types";

pub fn router() -> Router<AppState> {
    Router::new().route(BASE, get(types)).route(
        &format!("{BASE}/{{kind}}/templates/{{locale}}"),
        get(read).put(write).delete(reset),
    )
}

fn known(kind: &str, locale: &str) -> Result<(), ApiError> {
    if !mail::KINDS.iter().any(|(known, _)| *known == kind) {
        return Err(ApiError::NotFound("email template type"));
    }
    let well_formed = (2..=16).contains(&locale.len())
        && locale
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !well_formed {
        return Err(ApiError::BadRequest(
            "The locale must look like en_US.".into(),
        ));
    }
    Ok(())
}

async fn types(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, Some("internal_email_template_view")).await?;
    let types: Vec<Value> = mail::KINDS
        .iter()
        .map(|(kind, name)| {
            json!({
                "id": kind,
                "displayName": name,
                "placeholders": mail::placeholders(kind),
                "self": format!("{BASE}/{kind}"),
            })
        })
        .collect();
    Ok(Json(Value::Array(types)))
}

fn view(kind: &str, locale: &str, template: &Template) -> Value {
    json!({
        "id": locale,
        "contentType": "text/html",
        "subject": template.subject,
        "body": template.html,
        "textBody": template.text,
        "placeholders": mail::placeholders(kind),
    })
}

async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((kind, locale)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_email_template_view")).await?;
    known(&kind, &locale)?;
    let org = caller
        .own_organization(&state, "internal_email_template_view")
        .await?;
    Ok(Json(view(
        &kind,
        &locale,
        &mail::template(&state.db, org, &kind, &locale).await?,
    )))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Input {
    subject: String,
    body: String,
    text_body: Option<String>,
}

async fn write(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((kind, locale)): Path<(String, String)>,
    body: String,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_email_template_update")).await?;
    known(&kind, &locale)?;
    let input: Input = serde_json::from_str(&body).map_err(ApiError::bad_body)?;
    if input.subject.trim().is_empty() || input.body.trim().is_empty() {
        return Err(ApiError::Invalid(vec![(
            "subject",
            "A subject and a body are required.".into(),
        )]));
    }
    let template = Template {
        text: input.text_body.unwrap_or_else(|| input.body.clone()),
        subject: input.subject,
        html: input.body,
    };
    let org = caller
        .own_organization(&state, "internal_email_template_update")
        .await?;
    let write = begin(&state.db).await?;
    mail::set_template(&*write, org, &kind, &locale, &template).await?;
    write.commit().await?;
    Ok(Json(view(&kind, &locale, &template)))
}

async fn reset(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((kind, locale)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_email_template_update")).await?;
    known(&kind, &locale)?;
    let org = caller
        .own_organization(&state, "internal_email_template_update")
        .await?;
    let write = begin(&state.db).await?;
    mail::reset_template(&*write, org, &kind, &locale).await?;
    write.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
