//! The token exchange grant (RFC 8693) as WSO2's impersonation uses it (SPEC §2.2): a
//! subject token from `/oauth2/authorize` and the impersonator's ID token as actor token
//! become an access token for the target with `act: {sub: impersonator}`, inside a new
//! impersonation session. This adapter checks the request's form; the use case is
//! `identity::impersonation::exchange`, and its errors map in `super::error`.

use super::error::OAuthError;
use super::params::Params;
use super::token::TokenResponse;
use crate::state::AppState;
use identity::entities::application;
use identity::impersonation;
use identity::store::cache::Reads;

pub const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

fn invalid(description: impl Into<String>) -> OAuthError {
    OAuthError::invalid_request(description.into())
}

pub async fn exchange(
    state: &AppState,
    reads: &Reads<'_>,
    app: &application::Model,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let subject_token = params.require("subject_token")?;
    if params.require("subject_token_type")? != JWT {
        return Err(invalid(format!("subject_token_type must be {JWT}.")));
    }
    let actor_token = params.require("actor_token")?;
    if params.require("actor_token_type")? != ID_TOKEN {
        return Err(invalid(format!("actor_token_type must be {ID_TOKEN}.")));
    }
    if let Some(requested) = params.get("requested_token_type")
        && requested != ACCESS_TOKEN
    {
        return Err(invalid(format!("Only {ACCESS_TOKEN} can be issued.")));
    }
    let request = impersonation::exchange::Request {
        app,
        subject_token,
        actor_token,
        code_verifier: params.get("code_verifier"),
    };
    let exchanged = impersonation::exchange::exchange(&state.provider, reads, request).await?;
    let mut response = TokenResponse::from(exchanged.tokens);
    response.issued_token_type = Some(ACCESS_TOKEN);
    Ok(response)
}
