//! After the exchange (SPEC §2.3): the impersonator's browser signs in to business
//! applications as the target. [`sign_in`] answers who an authorization request of a
//! signed-in browser is for: its own user, the target of the impersonation its sign-in
//! carries (where the application allows impersonation), or a refusal. The Console is
//! always its real user.

use super::session::{self, Running};
use crate::audit::{self, Event, action};
use crate::entities::{application, user};
use crate::{Result, scopes, sessions};
use sea_orm::ConnectionTrait;

/// Why an impersonating browser may not sign in to an application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error(
        "This application does not allow impersonation; stop impersonating to use it as yourself."
    )]
    NotEnabled,
    #[error("The impersonated user can no longer sign in.")]
    TargetInactive,
}

/// Whom a sign-in to `app` is for.
pub enum SignIn {
    /// The browser's own user.
    Own(sessions::Current),
    /// The impersonated user, inside the running session.
    AsTarget(sessions::Current, Running),
}

/// Who `current` signs in to `app` as; an impersonated sign-in is audited
/// (`impersonated-sign-in`).
pub async fn sign_in(
    db: &impl ConnectionTrait,
    app: &application::Model,
    current: sessions::Current,
) -> Result<std::result::Result<SignIn, Refused>> {
    let Some(id) = current.session.impersonation_session_id else {
        return Ok(Ok(SignIn::Own(current)));
    };
    if app.client_id == scopes::CONSOLE_CLIENT_ID {
        return Ok(Ok(SignIn::Own(current)));
    }
    let Some(running) = session::live(db, id).await? else {
        return Ok(Ok(SignIn::Own(current)));
    };
    if !app.impersonation_enabled {
        return Ok(Err(Refused::NotEnabled));
    }
    let target = crate::users::find(db, running.target_id)
        .await?
        .filter(|u| u.status == user::UserStatus::Active);
    let Some(target) = target else {
        return Ok(Err(Refused::TargetInactive));
    };
    let event = Event {
        action: action::IMPERSONATED_SIGN_IN,
        success: true,
        actor_id: Some(target.id.to_string()),
        impersonator_id: Some(running.impersonator_id.to_string()),
        target_id: Some(target.id.to_string()),
        client_id: Some(app.client_id.clone()),
        impersonation_session_id: Some(running.id),
        ..Event::default()
    };
    audit::record(db, event).await?;
    let as_target = sessions::Current {
        session: current.session,
        user: target,
    };
    Ok(Ok(SignIn::AsTarget(as_target, Running::from(&running))))
}
