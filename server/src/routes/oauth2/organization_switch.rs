//! `grant_type=organization_switch` (WSO2; SPEC §2.4): an access token for a child
//! organization in exchange for a live access token of the same client, impersonated or
//! not. `act` is kept. Only into organizations the subject belongs to.

use super::error::OAuthError;
use super::params::Params;
use super::token::TokenResponse;
use crate::state::AppState;
use identity::entities::application;
use identity::impersonation::session::Running;
use identity::oauth::{grants, scope};
use uuid::Uuid;

pub async fn switch(
    state: &AppState,
    app: &application::Model,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let token = params.require("token")?;
    let organization = params.require("switching_organization")?;
    let live = grants::live_access(&state.provider, token)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("The token is not active."))?;
    if live.claims.client_id != app.client_id {
        return Err(OAuthError::invalid_grant(
            "The token was issued to another client.",
        ));
    }
    let Some(user) = live.user else {
        return Err(OAuthError::invalid_grant(
            "Only a user's token can switch organizations.",
        ));
    };
    let not_member = || OAuthError::invalid_grant("The user is not a member of that organization.");
    let organization_id = Uuid::parse_str(organization).map_err(|_| not_member())?;
    let org = identity::organizations::find(&state.db, organization_id)
        .await?
        .ok_or_else(not_member)?;
    if !identity::organizations::is_member(&state.db, org.id, &user).await? {
        return Err(not_member());
    }
    let mut held = scope::parse(&live.claims.scope);
    // What the user no longer holds, or the application is no longer authorized for, does
    // not pass into the organization (an impersonated token follows its session instead).
    if live.claims.act.is_none() {
        let still = scope::grantable(&state.db, user.id, app, &held).await?;
        held.retain(|s| still.contains(s));
    }
    let scopes = match params.get("scope").map(scope::parse) {
        Some(requested) => requested.into_iter().filter(|s| held.contains(s)).collect(),
        None => held,
    };
    // An impersonated token's session goes on, and ends the new token with it.
    let impersonation = match live.impersonation_session_id {
        Some(id) => Some(Running::from(
            &identity::impersonation::session::live(&state.db, id)
                .await?
                .ok_or_else(|| OAuthError::invalid_grant("The token is not active."))?,
        )),
        None => None,
    };
    let minted = grants::mint(
        &state.provider,
        &state.db,
        grants::Mint {
            app,
            user: Some(&user),
            scopes,
            grant_scopes: None,
            auth_time: live.claims.auth_time,
            nonce: None,
            idp_session_id: live.idp_session_id,
            code_id: None,
            impersonation,
            organization_id: Some(org.id),
            id_token: false,
            refresh: grants::RefreshPlan::None,
        },
    )
    .await?;
    Ok(minted.into())
}
