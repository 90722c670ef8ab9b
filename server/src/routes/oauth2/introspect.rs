//! `POST /oauth2/introspect` (RFC 7662). The caller must authenticate as a confidential
//! client. Anything not live (unknown, expired, revoked, its user disabled or locked)
//! is `{"active": false}` and nothing more, and so is a live token that is not the
//! caller's: an access token answers only the client it was issued to or its audience,
//! a refresh token only its client (RFC 7662 §4: a token is not to be disclosed to
//! whoever asks).

use super::client_auth::authenticate_client;
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use crate::state::AppState;
use axum::{Form, Json, extract::State, http::HeaderMap};
use identity::oauth::grants;
use serde_json::{Value, json};

pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Json<Value>, OAuthError> {
    let params = Params::from_pairs(pairs)?;
    let reads = state.provider.reads().await?;
    let caller = authenticate_client(&reads, &headers, &params).await?;
    if caller.public_client {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "A public client cannot introspect tokens.",
        ));
    }
    let token = params.require("token")?;
    let hint = params.get("token_type_hint");
    let provider = &state.provider;

    let access_first = hint != Some("refresh_token");
    for kind in if access_first {
        [true, false]
    } else {
        [false, true]
    } {
        if kind {
            if let Some(live) = grants::live_access(provider, token).await? {
                let c = live.claims;
                if c.client_id != caller.client_id && c.aud != caller.client_id {
                    break;
                }
                let mut body = json!({
                    "active": true,
                    "token_type": "Bearer",
                    "scope": c.scope,
                    "client_id": c.client_id,
                    "sub": c.sub,
                    "aud": c.aud,
                    "iss": c.iss,
                    "exp": c.exp,
                    "iat": c.iat,
                    "nbf": c.nbf,
                    "jti": c.jti,
                    "org_id": c.org_id,
                });
                if let Some(user) = live.user {
                    body["username"] = json!(user.username);
                }
                if let Some(act) = c.act {
                    body["act"] = json!({ "sub": act.sub });
                }
                if let Some(session) = c.impersonation_session_id {
                    body["impersonation_session_id"] = json!(session);
                }
                if let Some(mode) = c.impersonation_mode {
                    body["impersonation_mode"] = json!(mode);
                }
                return Ok(Json(body));
            }
        } else if let Some((refresh, user)) = grants::live_refresh(&state.db, token).await? {
            if refresh.application_id != caller.id {
                break;
            }
            let client_id =
                identity::oauth::clients::client_id_of(&state.db, refresh.application_id)
                    .await?
                    .unwrap_or_default();
            return Ok(Json(json!({
                "active": true,
                "token_type": "refresh_token",
                "scope": refresh.scope,
                "client_id": client_id,
                "sub": user.id.to_string(),
                "username": user.username,
                "iss": provider.issuer,
                "exp": refresh.expires_at,
                "iat": refresh.created_at,
            })));
        }
    }
    Ok(Json(json!({ "active": false })))
}
