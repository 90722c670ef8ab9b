//! `POST /oauth2/revoke` (RFC 7009). Revoking a refresh token revokes its whole family
//! and the access tokens minted in it. An unknown or dead token is a success (§2.2).

use super::client_auth::authenticate_client;
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use crate::state::AppState;
use axum::{
    Form,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use identity::oauth::grants::{self, Revoked};

pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, OAuthError> {
    let params = Params::from_pairs(pairs)?;
    let reads = state.provider.reads().await?;
    let app = authenticate_client(&reads, &headers, &params).await?;
    let token = params.require("token")?;
    if let Some(hint) = params.get("token_type_hint")
        && !matches!(hint, "access_token" | "refresh_token")
    {
        return Err(OAuthError::new(
            ErrorCode::UnsupportedTokenType,
            "token_type_hint must be access_token or refresh_token.",
        ));
    }
    match grants::revoke(&state.provider, token, &app).await? {
        Revoked::Done => {
            let mut response = StatusCode::OK.into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
        Revoked::OtherClient => Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "The token was issued to another client.",
        )),
    }
}
