//! Who is calling the management API and SCIM: HTTP Basic with a user's username and
//! password (as in WSO2's own curl examples), or a Bearer access token. Either way the
//! caller must hold the endpoint's `internal_*` scope: through an organization role for
//! Basic, in the token's `scope` for Bearer.

use crate::routes::oauth2::{client_auth::basic_credentials, userinfo::bearer};
use crate::state::AppState;
use axum::http::HeaderMap;
use identity::delegation::Authority;
use identity::entities::user;
use identity::oauth::{claims::AccessClaims, grants, scope};
use identity::organizations::Reach;

/// An authenticated caller of an API.
pub struct Caller {
    /// The user acting (`None` for an application's own token).
    pub user: Option<user::Model>,
    /// The access token's claims, when the caller used one.
    pub token: Option<AccessClaims>,
}

impl Caller {
    /// What the caller holds now, for the delegation rule ([`identity::delegation`]): a
    /// user's roles, narrowed to the token's scopes for a Bearer caller; an application's
    /// own token holds its scopes.
    pub async fn authority(&self, state: &AppState) -> Result<Authority, AuthError> {
        let user_id = self.user.as_ref().map(|u| u.id);
        let authority = match (&self.token, user_id) {
            (Some(token), _) => {
                let carried: Vec<String> = scope::parse(&token.scope)
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect();
                Authority::of_token(&state.db, user_id, &carried).await
            }
            (None, Some(user_id)) => Authority::of_user(&state.db, user_id).await,
            (None, None) => return Err(AuthError::Internal),
        };
        authority.map_err(|error| {
            tracing::error!("reading the caller's authority: {error}");
            AuthError::Internal
        })
    }

    /// Where the caller's `scope` reaches ([`Reach`]): for a user, the organizations of the
    /// organization roles granting it, and below; for an application's own token, its
    /// organization and below.
    pub async fn reach(&self, state: &AppState, scope: &str) -> Result<Reach, AuthError> {
        let reach = match (&self.user, &self.token) {
            (Some(user), _) => Reach::of_user(&state.db, user.id, scope).await,
            (None, Some(token)) => {
                let app = identity::oauth::clients::find(&state.db, &token.client_id)
                    .await
                    .map_err(|_| AuthError::Internal)?
                    .ok_or(AuthError::Unauthenticated)?;
                Reach::of(&state.db, &[app.organization_id]).await
            }
            (None, None) => return Err(AuthError::Internal),
        };
        reach.map_err(|error| {
            tracing::error!("reading the caller's reach: {error}");
            AuthError::Internal
        })
    }

    /// The organization whose settings the caller's calls act on: the user's own (the
    /// root for an application's token), when the caller's `scope` reaches it; a caller
    /// holding `scope` only for a sub-organization is refused (403) at its home's settings.
    pub async fn own_organization(
        &self,
        state: &AppState,
        scope: &'static str,
    ) -> Result<uuid::Uuid, AuthError> {
        let organization = match &self.user {
            Some(user) => user.organization_id,
            None => identity::seed::root_organization_id(&state.db)
                .await
                .map_err(|_| AuthError::Internal)?,
        };
        if self.reach(state, scope).await?.contains(organization) {
            Ok(organization)
        } else {
            Err(AuthError::Forbidden(
                scope,
                self.user.as_ref().map(|u| u.id),
            ))
        }
    }
}

/// Whether a call about the caller's own account reads or changes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    Read,
    Write,
}

impl Caller {
    /// The caller's own user, for a self-service call (`/scim2/Me`, `/api/users/v1/me/…`):
    /// a user's password, or a token of My Account or carrying the self-service scope
    /// (not any application's token). An impersonated token (one with `act`) may read but
    /// never change the account, as in My Account. The refusal's text otherwise.
    pub fn own_account(
        self,
        purpose: Use,
    ) -> Result<user::Model, (&'static str, Option<uuid::Uuid>)> {
        let Some(user) = self.user else {
            return Err(("This needs a user's credentials.", None));
        };
        if let Some(token) = &self.token {
            let self_service = token.client_id == identity::scopes::MY_ACCOUNT_CLIENT_ID
                || scope::parse(&token.scope)
                    .iter()
                    .any(|s| s == identity::scopes::SELF_SERVICE);
            if !self_service {
                return Err((
                    "This needs a token of My Account or with the internal_login scope.",
                    Some(user.id),
                ));
            }
            if purpose == Use::Write && token.act.is_some() {
                return Err((
                    "An impersonated token cannot change the account; stop impersonating first.",
                    Some(user.id),
                ));
            }
        }
        Ok(user)
    }

    /// Whether the caller acts through an impersonated token.
    pub fn impersonated(&self) -> bool {
        self.token.as_ref().is_some_and(|t| t.act.is_some())
    }
}

/// Authenticates the caller for something that concerns the whole server (the signing
/// keys): `required` must reach every organization, i.e. be held in the root's.
pub async fn authorize_server_wide(
    state: &AppState,
    headers: &HeaderMap,
    required: &'static str,
) -> Result<Caller, AuthError> {
    let caller = authorize(state, headers, Some(required)).await?;
    match caller.reach(state, required).await? {
        Reach::Everywhere => Ok(caller),
        Reach::Within(_) => Err(AuthError::Forbidden(
            required,
            caller.user.as_ref().map(|u| u.id),
        )),
    }
}

/// Why a call was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthError {
    /// No credentials, or wrong ones: 401.
    Unauthenticated,
    /// Authenticated, without the scope: 403, recorded naming the user refused (if any).
    Forbidden(&'static str, Option<uuid::Uuid>),
    /// Too many password checks at once: 503 with `Retry-After`, nothing checked.
    Busy,
    /// The check itself failed: 500.
    Internal,
}

/// Authenticates the caller and checks `required` (a scope; `None`: any signed-in user).
pub async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    required: Option<&'static str>,
) -> Result<Caller, AuthError> {
    if let Some(credentials) = basic_credentials(headers) {
        // A browser keeps Basic credentials and sends them with any site's request: a
        // request another site's page made counts as unauthenticated (API clients send
        // no Origin; our own pages use their session, not Basic).
        let from_a_browser_elsewhere = headers.contains_key(axum::http::header::ORIGIN)
            && !crate::routes::ui::origin::is_same_origin(headers, &state.public_url)
            || headers
                .get("sec-fetch-site")
                .is_some_and(|v| v.as_bytes() == b"cross-site");
        if from_a_browser_elsewhere {
            return Err(AuthError::Unauthenticated);
        }
        let (username, password) = credentials.map_err(|_| AuthError::Unauthenticated)?;
        let user = match identity::users::authenticate(
            &state.db,
            &username,
            password,
            &state.config.lockout(),
        )
        .await
        {
            Ok(user) => user,
            Err(identity::Error::InvalidCredentials) => return Err(AuthError::Unauthenticated),
            Err(identity::Error::Busy) => return Err(AuthError::Busy),
            Err(error) => {
                tracing::error!("API authentication: {error}");
                return Err(AuthError::Internal);
            }
        };
        if let Some(required) = required {
            let holds = identity::roles::holds_organization_scope(&state.db, user.id, required)
                .await
                .map_err(|_| AuthError::Internal)?;
            if !holds {
                return Err(AuthError::Forbidden(required, Some(user.id)));
            }
        }
        return Ok(Caller {
            user: Some(user),
            token: None,
        });
    }
    let Some(token) = bearer(headers) else {
        return Err(AuthError::Unauthenticated);
    };
    let live = grants::live_access(&state.provider, token)
        .await
        .map_err(|_| AuthError::Internal)?
        .ok_or(AuthError::Unauthenticated)?;
    if let Some(required) = required {
        if !scope::parse(&live.claims.scope)
            .iter()
            .any(|s| s == required)
        {
            return Err(AuthError::Forbidden(
                required,
                live.user.as_ref().map(|u| u.id),
            ));
        }
        // A token counts only while its application would still grant the scope: a role
        // taken away from the user, or an API scope from the application (for its own
        // token), ends the token's rights at once, not when it expires. An impersonated
        // token follows its session instead.
        if live.impersonation_session_id.is_none() {
            let reads = state
                .provider
                .reads()
                .await
                .map_err(|_| AuthError::Internal)?;
            let app = identity::oauth::clients::cached(&reads, &live.claims.client_id)
                .await
                .map_err(|_| AuthError::Internal)?
                .ok_or(AuthError::Unauthenticated)?;
            let holds = match &live.user {
                Some(user) => {
                    identity::oauth::scope::grantable_cached(&reads, user.id, &app, required).await
                }
                None => identity::api_resources::authorized_scopes_cached(&reads, app.id)
                    .await
                    .map(|authorized| authorized.iter().any(|s| s == required)),
            }
            .map_err(|_| AuthError::Internal)?;
            if !holds {
                return Err(AuthError::Forbidden(
                    required,
                    live.user.as_ref().map(|u| u.id),
                ));
            }
        }
    }
    Ok(Caller {
        user: live.user,
        token: Some(live.claims),
    })
}
