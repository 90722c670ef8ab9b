//! `POST /oauth2/token` (RFC 6749 §3.2): the authorization code, refresh token and client
//! credentials grants. Every answer carries `Cache-Control: no-store`.

use super::client_auth::authenticate_client;
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use crate::state::AppState;
use axum::{
    Form, Json,
    extract::State,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use identity::entities::application;
use identity::oauth::{
    clients, code_grant,
    grant_type::{
        AUTHORIZATION_CODE, CLIENT_CREDENTIALS, ORGANIZATION_SWITCH, REFRESH_TOKEN, TOKEN_EXCHANGE,
    },
    grants::{self, Minted, RefreshError, RefreshPlan},
    scope,
};
use identity::store::cache::Reads;
use serde::Serialize;

/// The successful token response (RFC 6749 §5.1).
#[derive(Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
}

impl From<Minted> for TokenResponse {
    fn from(minted: Minted) -> Self {
        Self {
            access_token: minted.access_token,
            token_type: "Bearer",
            expires_in: minted.expires_in,
            scope: minted.scope,
            id_token: minted.id_token,
            refresh_token: minted.refresh_token,
            issued_token_type: None,
        }
    }
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let mut response = Json(self).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        response
    }
}

/// `POST /oauth2/token`
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<TokenResponse, OAuthError> {
    let params = Params::from_pairs(pairs)?;
    let grant_type = params.require("grant_type")?.to_owned();
    let reads = state.provider.reads().await?;
    let app = authenticate_client(&reads, &headers, &params).await?;
    let known = [
        AUTHORIZATION_CODE,
        REFRESH_TOKEN,
        CLIENT_CREDENTIALS,
        TOKEN_EXCHANGE,
        ORGANIZATION_SWITCH,
    ];
    if !known.contains(&grant_type.as_str()) {
        return Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            format!("The grant type {grant_type} is not supported."),
        ));
    }
    if !clients::allows_grant(&app, &grant_type) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            format!("This application may not use the {grant_type} grant."),
        ));
    }
    let issued = match grant_type.as_str() {
        AUTHORIZATION_CODE => authorization_code(&state, &reads, &app, &params).await,
        REFRESH_TOKEN => refresh_token(&state, &reads, &app, &params).await,
        TOKEN_EXCHANGE => super::exchange::exchange(&state, &reads, &app, &params).await,
        ORGANIZATION_SWITCH => super::organization_switch::switch(&state, &app, &params).await,
        _ => client_credentials(&state, &reads, &app, &params).await,
    };
    if issued.is_ok() {
        crate::metrics::token_issued(&grant_type);
    }
    issued
}

/// RFC 6749 §4.1.3, with PKCE (RFC 7636 §4.5): `identity::oauth::code_grant`.
async fn authorization_code(
    state: &AppState,
    reads: &Reads<'_>,
    app: &application::Model,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let redemption = code_grant::Redemption {
        app,
        code: params.require("code")?,
        redirect_uri: params.get("redirect_uri"),
        code_verifier: params.get("code_verifier"),
        refresh: refresh_plan(app),
    };
    match code_grant::redeem(&state.provider, reads, redemption).await? {
        Ok(minted) => Ok(minted.into()),
        Err(reason) => {
            tracing::info!(client_id = %app.client_id, %reason, "authorization code refused");
            Err(OAuthError::invalid_grant(reason.to_string()))
        }
    }
}

/// RFC 6749 §6, with rotation and reuse detection (RFC 9700 §4.14.2).
async fn refresh_token(
    state: &AppState,
    reads: &Reads<'_>,
    app: &application::Model,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let presented = params.require("refresh_token")?;
    let requested = params.get("scope").map(scope::parse);
    let result = grants::refresh(
        &state.provider,
        reads,
        presented,
        app,
        requested,
        state.config.refresh_family_lifetime_secs,
    )
    .await?;
    match result {
        Ok(minted) => Ok(minted.into()),
        Err(RefreshError::Scope) => Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "The requested scope exceeds what was originally granted.",
        )),
        Err(reason) => {
            tracing::info!(client_id = %app.client_id, %reason, "refresh token refused");
            Err(OAuthError::invalid_grant(reason.to_string()))
        }
    }
}

/// RFC 6749 §4.4: a confidential application acting for itself. It is granted only the
/// API scopes it is authorized for (authorized APIs).
async fn client_credentials(
    state: &AppState,
    reads: &Reads<'_>,
    app: &application::Model,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    if app.public_client {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "A public client cannot use the client_credentials grant.",
        ));
    }
    let requested = params.get("scope").map(scope::parse).unwrap_or_default();
    let authorized = identity::api_resources::authorized_scopes_cached(reads, app.id).await?;
    if let Some(extra) = requested.iter().find(|s| !authorized.contains(s)) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("The application is not authorized for the scope {extra}."),
        ));
    }
    // No write: the token is live while the application may use the grant and its `jti`
    // is not revoked (`identity::oauth::revocation_list`).
    let minted = grants::for_application(&state.provider, reads, app, requested).await?;
    Ok(minted.into())
}

/// A refresh token goes with a user's grant when the application may refresh.
fn refresh_plan(app: &application::Model) -> RefreshPlan {
    if clients::allows_grant(app, REFRESH_TOKEN) {
        RefreshPlan::NewFamily
    } else {
        RefreshPlan::None
    }
}
