//! `GET|POST /oauth2/userinfo` (OpenID Connect Core §5.3): claims about the user of a live
//! access token that carries the `openid` scope, and `act` when the token is impersonated.

use super::error::{ErrorCode, OAuthError};
use crate::state::AppState;
use axum::{
    Json,
    extract::State,
    http::{HeaderMap, header},
};
use identity::oauth::{claims::Profile, grants, scope};
use serde_json::{Value, json};

/// The bearer token of a request (RFC 6750 §2.1).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub async fn userinfo(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, OAuthError> {
    let token = bearer(&headers)
        .ok_or_else(|| OAuthError::new(ErrorCode::InvalidToken, "An access token is required."))?;
    let live = grants::live_access(&state.provider, token)
        .await?
        .ok_or_else(|| {
            OAuthError::new(ErrorCode::InvalidToken, "The access token is not active.")
        })?;
    let Some(user) = live.user else {
        return Err(OAuthError::new(
            ErrorCode::InvalidToken,
            "The access token does not belong to a user.",
        ));
    };
    let scopes = scope::parse(&live.claims.scope);
    if !scopes.iter().any(|s| s == "openid") {
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "The access token lacks the openid scope.",
        ));
    }
    let mut claims = serde_json::to_value(Profile::of(&user, &scopes)).unwrap_or(json!({}));
    claims["sub"] = json!(user.id.to_string());
    // An impersonated sign-in says who really acts here too.
    if let Some(act) = &live.claims.act {
        claims["act"] = json!(act);
    }
    Ok(Json(claims))
}
