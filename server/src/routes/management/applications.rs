//! Applications, in the shape of WSO2's application management API v1:
//! `/api/server/v1/applications[/{id}[/inbound-protocols/oidc[/regenerate-secret]]]`.
//! The client secret is shown once: by the first `GET .../inbound-protocols/oidc` after
//! creation (as WSO2 scripts expect), or in the answer to a regeneration.

use super::error::ApiError;
use crate::routes::api_auth::{Caller, authorize};
use crate::routes::impersonation_audit::begin;
use crate::state::AppState;
use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use identity::applications::{self, AppError, Settings};
use identity::entities::application;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

const BASE: &str = "/api/server/v1/applications";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(BASE, get(list).post(create))
        .route(
            &format!("{BASE}/{{id}}"),
            get(read).patch(patch).delete(remove),
        )
        .route(
            &format!("{BASE}/{{id}}/inbound-protocols/oidc"),
            get(read_oidc).put(replace_oidc),
        )
        .route(
            &format!("{BASE}/{{id}}/inbound-protocols/oidc/regenerate-secret"),
            post(regenerate_secret),
        )
}

/// The body of a create request (every field WSO2 scripts send that we support).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ApplicationInput {
    name: Option<String>,
    description: Option<String>,
    is_discoverable: Option<bool>,
    access_url: Option<String>,
    inbound_protocol_configuration: Option<InboundInput>,
    advanced_configurations: Option<AdvancedInput>,
}

#[derive(Deserialize, Default)]
struct InboundInput {
    oidc: Option<OidcInput>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AdvancedInput {
    skip_login_consent: Option<bool>,
    skip_logout_consent: Option<bool>,
    /// Ours: a browser that impersonates signs in here as the impersonated user.
    enable_impersonation: Option<bool>,
    /// Ours: what a read-only impersonation session may be granted here, beside `openid
    /// profile email`.
    read_only_scopes: Option<Vec<String>>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
struct OidcInput {
    grant_types: Option<Vec<String>>,
    #[serde(rename = "callbackURLs")]
    callback_urls: Option<Vec<String>>,
    #[serde(rename = "postLogoutRedirectURLs")]
    post_logout_urls: Option<Vec<String>>,
    public_client: Option<bool>,
    access_token: Option<AccessTokenInput>,
    refresh_token: Option<RefreshTokenInput>,
    id_token: Option<IdTokenInput>,
    subject_token: Option<SubjectTokenInput>,
    logout: Option<LogoutInput>,
}

/// WSO2's `logout` block; `backChannelLogoutSessionRequired` is ours.
#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
struct LogoutInput {
    back_channel_logout_url: Option<String>,
    back_channel_logout_session_required: Option<bool>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
struct AccessTokenInput {
    r#type: Option<String>,
    user_access_token_expiry_in_seconds: Option<i32>,
    application_access_token_expiry_in_seconds: Option<i32>,
    /// Ours: RS256 (the default), ES256 or EdDSA.
    access_token_signed_response_alg: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
struct RefreshTokenInput {
    expiry_in_seconds: Option<i32>,
    /// Refresh tokens for impersonated grants (ours; WSO2 has no such switch).
    enable_for_impersonation: Option<bool>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
struct IdTokenInput {
    expiry_in_seconds: Option<i32>,
    /// RS256 (the default), ES256 or EdDSA.
    id_token_signed_response_alg: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
struct SubjectTokenInput {
    enable: Option<bool>,
    application_subject_token_expiry_in_seconds: Option<i32>,
}

/// Applies an OIDC configuration onto settings; refuses what we do not support, and a
/// back-channel logout URL the server may not send to (`Outbound`).
fn apply_oidc(
    settings: &mut Settings,
    oidc: OidcInput,
    outbound: &identity::events::webhooks::Outbound,
) -> Result<(), ApiError> {
    if let Some(grants) = oidc.grant_types {
        settings.grant_types = grants;
    }
    if let Some(urls) = oidc.callback_urls {
        if urls.iter().any(|u| u.starts_with("regexp=")) {
            return Err(ApiError::Invalid(vec![(
                "callbackURLs",
                "Callback URLs are matched exactly; regular expressions are not accepted.".into(),
            )]));
        }
        settings.redirect_uris = urls;
    }
    settings.post_logout_redirect_uris = match oidc.post_logout_urls {
        Some(urls) => urls,
        None => settings.redirect_uris.clone(),
    };
    if let Some(public) = oidc.public_client {
        settings.public_client = public;
    }
    if let Some(token) = oidc.access_token {
        if let Some(kind) = token.r#type
            && !kind.eq_ignore_ascii_case("JWT")
        {
            return Err(ApiError::Invalid(vec![(
                "accessToken",
                "Only JWT access tokens are issued.".into(),
            )]));
        }
        if let Some(secs) = token.user_access_token_expiry_in_seconds {
            settings.access_token_lifetime_secs = secs;
        }
        if let Some(alg) = token.access_token_signed_response_alg {
            settings.access_token_signed_response_alg = alg;
        }
        if token.application_access_token_expiry_in_seconds.is_some()
            && token.user_access_token_expiry_in_seconds.is_none()
        {
            settings.access_token_lifetime_secs = token
                .application_access_token_expiry_in_seconds
                .unwrap_or(3600);
        }
    }
    if let Some(refresh) = oidc.refresh_token {
        if let Some(secs) = refresh.expiry_in_seconds {
            settings.refresh_token_lifetime_secs = secs;
        }
        if let Some(on) = refresh.enable_for_impersonation {
            settings.refresh_for_impersonation = on;
        }
    }
    if let Some(id_token) = oidc.id_token {
        if let Some(secs) = id_token.expiry_in_seconds {
            settings.id_token_lifetime_secs = secs;
        }
        if let Some(alg) = id_token.id_token_signed_response_alg {
            settings.id_token_signed_response_alg = alg;
        }
    }
    if let Some(logout) = oidc.logout {
        if let Some(url) = logout.back_channel_logout_url {
            settings.backchannel_logout_uri = Some(url).filter(|u| !u.is_empty());
        }
        if let Some(url) = &settings.backchannel_logout_uri
            && let Err(why) = outbound.check_url(url)
        {
            return Err(ApiError::Invalid(vec![("backchannelLogoutUrl", why)]));
        }
        if let Some(on) = logout.back_channel_logout_session_required {
            settings.backchannel_logout_session_required = on;
        }
    }
    if let Some(subject) = oidc.subject_token {
        if let Some(on) = subject.enable {
            settings.subject_token_enabled = on;
        }
        if let Some(secs) = subject.application_subject_token_expiry_in_seconds {
            settings.subject_token_expiry_secs = secs;
        }
    }
    Ok(())
}

fn apply_top(settings: &mut Settings, input: &ApplicationInput) {
    if let Some(name) = &input.name {
        settings.name = name.clone();
    }
    if let Some(description) = &input.description {
        settings.description = description.clone();
    }
    if let Some(on) = input.is_discoverable {
        settings.discoverable = on;
    }
    if let Some(url) = &input.access_url {
        settings.access_url = Some(url.clone()).filter(|u| !u.is_empty());
    }
    if let Some(advanced) = &input.advanced_configurations {
        if let Some(on) = advanced.skip_login_consent {
            settings.skip_login_consent = on;
        }
        if let Some(on) = advanced.skip_logout_consent {
            settings.skip_logout_consent = on;
        }
        if let Some(on) = advanced.enable_impersonation {
            settings.impersonation_enabled = on;
        }
        if let Some(scopes) = &advanced.read_only_scopes {
            settings.read_only_scopes = scopes.clone();
        }
    }
}

fn summary(state: &AppState, app: &application::Model) -> Value {
    json!({
        "id": app.id,
        "name": app.name,
        "description": app.description,
        "clientId": app.client_id,
        "issuer": state.provider.issuer,
        "accessUrl": app.access_url,
        "isDiscoverable": app.discoverable,
        "isSystemApplication": app.system,
        "self": format!("{BASE}/{}", app.id),
    })
}

fn detail(state: &AppState, app: &application::Model) -> Value {
    let mut body = summary(state, app);
    body["inboundProtocols"] = json!([{
        "type": "oidc",
        "self": format!("{BASE}/{}/inbound-protocols/oidc", app.id),
    }]);
    body["advancedConfigurations"] = json!({
        "skipLoginConsent": app.skip_login_consent,
        "skipLogoutConsent": app.skip_logout_consent,
        "enableImpersonation": app.impersonation_enabled,
        "readOnlyScopes": app.read_only_scopes.0,
    });
    body
}

fn oidc_config(app: &application::Model, secret: Option<String>) -> Value {
    let mut body = json!({
        "clientId": app.client_id,
        "state": if app.enabled { "ACTIVE" } else { "REVOKED" },
        "grantTypes": app.grant_types.0,
        "callbackURLs": app.redirect_uris.0,
        "postLogoutRedirectURLs": app.post_logout_redirect_uris.0,
        "publicClient": app.public_client,
        "pkce": { "mandatory": app.public_client, "supportPlainTransformAlgorithm": false },
        "accessToken": {
            "type": "JWT",
            "userAccessTokenExpiryInSeconds": app.access_token_lifetime_secs,
            "applicationAccessTokenExpiryInSeconds": app.access_token_lifetime_secs,
            "accessTokenSignedResponseAlg": app.access_token_signed_response_alg,
        },
        "refreshToken": {
            "expiryInSeconds": app.refresh_token_lifetime_secs,
            "renewRefreshToken": true,
            "enableForImpersonation": app.refresh_for_impersonation,
        },
        "idToken": {
            "expiryInSeconds": app.id_token_lifetime_secs,
            "idTokenSignedResponseAlg": app.id_token_signed_response_alg,
        },
        "subjectToken": {
            "enable": app.subject_token_enabled,
            "applicationSubjectTokenExpiryInSeconds": app.subject_token_expiry_secs,
        },
        "logout": {
            "backChannelLogoutUrl": app.backchannel_logout_uri,
            "backChannelLogoutSessionRequired": app.backchannel_logout_session_required,
        },
    });
    if let Some(secret) = secret {
        body["clientSecret"] = json!(secret);
    }
    body
}

fn app_error(error: AppError) -> ApiError {
    match error {
        AppError::Invalid(problems) => ApiError::Invalid(problems),
        AppError::DuplicateName(name) => {
            ApiError::Conflict(format!("An application named {name} already exists."))
        }
        AppError::System => {
            ApiError::Forbidden("The system applications cannot be deleted.".into())
        }
        AppError::Refused(refusal) => ApiError::Refused(refusal),
    }
}

/// The application `id` if the caller's `scope` reaches its organization; one beyond it
/// (the root's, for a sub-organization's administrator) is as unknown as none.
pub(super) async fn load(
    state: &AppState,
    caller: &Caller,
    scope: &str,
    id: &str,
) -> Result<application::Model, ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound("application"))?;
    let reach = caller.reach(state, scope).await?;
    applications::find(&state.db, id)
        .await?
        .filter(|app| reach.contains(app.organization_id))
        .ok_or(ApiError::NotFound("application"))
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, ApiError> {
    serde_json::from_str(body).map_err(ApiError::bad_body)
}

/// `POST /api/server/v1/applications` → 201 with `Location`. Scope:
/// `internal_application_mgt_create`.
async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_application_mgt_create")).await?;
    let input: ApplicationInput = parse_body(&body)?;
    let mut settings = Settings::default();
    apply_top(&mut settings, &input);
    match input.inbound_protocol_configuration.and_then(|i| i.oidc) {
        Some(oidc) => apply_oidc(&mut settings, oidc, &state.config.outbound)?,
        None => settings.grant_types.clear(),
    }
    let organization_id = match &caller.user {
        Some(user) => user.organization_id,
        None => identity::seed::root_organization_id(&state.db).await?,
    };
    let write = begin(&state.db).await?;
    let created = applications::create(&*write, organization_id, settings)
        .await?
        .map_err(app_error)?;
    write.commit().await?;
    let app = created.application;
    tracing::info!(application_id = %app.id, name = %app.name, "application created");
    let location = format!("{BASE}/{}", app.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(detail(&state, &app)),
    )
        .into_response())
}

#[derive(Deserialize)]
struct ListQuery {
    filter: Option<String>,
    limit: Option<u64>,
    offset: Option<u64>,
}

/// `GET /api/server/v1/applications[?filter=name eq X&limit=&offset=]`. Scope:
/// `internal_application_mgt_view`.
async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_application_mgt_view")).await?;
    let reach = caller
        .reach(&state, "internal_application_mgt_view")
        .await?;
    let name = match &query.filter {
        None => None,
        Some(filter) => {
            let value = filter.strip_prefix("name eq ").ok_or_else(|| {
                ApiError::BadRequest("Only the filter `name eq <name>` is supported.".into())
            })?;
            Some(value.trim().trim_matches('"').to_owned())
        }
    };
    let limit = query.limit.unwrap_or(30).clamp(1, 100);
    let offset = query.offset.unwrap_or(0);
    let (total, page) =
        applications::list(&state.db, &reach, name.as_deref(), offset, limit).await?;
    Ok(Json(json!({
        "totalResults": total,
        "startIndex": offset + 1,
        "count": page.len(),
        "applications": page.iter().map(|a| summary(&state, a)).collect::<Vec<_>>(),
    })))
}

/// `GET /api/server/v1/applications/{id}`. Scope: `internal_application_mgt_view`.
async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_application_mgt_view")).await?;
    let app = load(&state, &caller, "internal_application_mgt_view", &id).await?;
    Ok(Json(detail(&state, &app)))
}

/// `PATCH /api/server/v1/applications/{id}`: name, description, isDiscoverable,
/// accessUrl, advancedConfigurations. Scope: `internal_application_mgt_update`.
async fn patch(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Result<StatusCode, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_application_mgt_update")).await?;
    let by = caller.authority(&state).await?;
    let app = load(&state, &caller, "internal_application_mgt_update", &id).await?;
    let input: ApplicationInput = parse_body(&body)?;
    if input.inbound_protocol_configuration.is_some() {
        return Err(ApiError::BadRequest(
            "Change the OIDC settings with PUT .../inbound-protocols/oidc.".into(),
        ));
    }
    let mut settings = Settings::of(&app);
    apply_top(&mut settings, &input);
    let write = begin(&state.db).await?;
    applications::update(&*write, &by, app, settings)
        .await?
        .map_err(app_error)?;
    write.commit().await?;
    Ok(StatusCode::OK)
}

/// `DELETE /api/server/v1/applications/{id}` → 204. Scope: `internal_application_mgt_delete`.
async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_application_mgt_delete")).await?;
    let app = load(&state, &caller, "internal_application_mgt_delete", &id).await?;
    let write = begin(&state.db).await?;
    applications::delete(&*write, &app)
        .await?
        .map_err(app_error)?;
    write.commit().await?;
    tracing::info!(application_id = %app.id, "application deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET .../inbound-protocols/oidc`: the client id, and the secret the first time after
/// it was created. Scope: `internal_application_mgt_view`.
async fn read_oidc(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_application_mgt_view")).await?;
    let app = load(&state, &caller, "internal_application_mgt_view", &id).await?;
    let write = begin(&state.db).await?;
    let secret = applications::reveal_secret(&*write, &app).await?;
    write.commit().await?;
    Ok(Json(oidc_config(&app, secret)))
}

/// `PUT .../inbound-protocols/oidc`: replaces the OIDC settings. Scope:
/// `internal_application_mgt_update`.
async fn replace_oidc(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_application_mgt_update")).await?;
    let by = caller.authority(&state).await?;
    let app = load(&state, &caller, "internal_application_mgt_update", &id).await?;
    let input: OidcInput = parse_body(&body)?;
    let mut settings = Settings::of(&app);
    apply_oidc(&mut settings, input, &state.config.outbound)?;
    let write = begin(&state.db).await?;
    let updated = applications::update(&*write, &by, app, settings)
        .await?
        .map_err(app_error)?;
    let secret = applications::reveal_secret(&*write, &updated).await?;
    write.commit().await?;
    Ok(Json(oidc_config(&updated, secret)))
}

/// `POST .../inbound-protocols/oidc/regenerate-secret`: a new secret, shown in this answer
/// only; the old one stops working. Scope: `internal_application_mgt_update`.
async fn regenerate_secret(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&state, &headers, Some("internal_application_mgt_update")).await?;
    let app = load(&state, &caller, "internal_application_mgt_update", &id).await?;
    let write = begin(&state.db).await?;
    let secret = applications::regenerate_secret(&*write, &app)
        .await?
        .ok_or_else(|| ApiError::BadRequest("A public client has no secret.".into()))?;
    write.commit().await?;
    tracing::info!(application_id = %app.id, "client secret regenerated");
    Ok(Json(oidc_config(&app, Some(secret))))
}
