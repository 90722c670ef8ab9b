//! What My Account shows a user: the applications they may launch, and the history of
//! every impersonation of their account.

use crate::entities::{application, audit_event, impersonation_session, role, role_user, user};
use crate::{Result, audit::action};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::BTreeSet;
use uuid::Uuid;

/// The discoverable applications (with an access URL) `user` may use: those of their
/// organization that have no application roles (open to everyone), and those where the
/// user holds one of the application's roles. The system applications are not listed.
pub async fn applications(
    db: &impl ConnectionTrait,
    user: &user::Model,
) -> Result<Vec<application::Model>> {
    let apps = application::Entity::find()
        .filter(application::Column::Discoverable.eq(true))
        .filter(application::Column::Enabled.eq(true))
        .filter(application::Column::System.eq(false))
        .filter(application::Column::AccessUrl.is_not_null())
        .order_by_asc(application::Column::Name)
        .all(db)
        .await?;
    let app_roles = role::Entity::find()
        .filter(role::Column::AudienceType.eq(role::AudienceType::Application))
        .all(db)
        .await?;
    let mine: BTreeSet<Uuid> = role_user::Entity::find()
        .select_only()
        .column(role_user::Column::RoleId)
        .filter(role_user::Column::UserId.eq(user.id))
        .into_tuple::<Uuid>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(apps
        .into_iter()
        .filter(|app| {
            let roles: Vec<&role::Model> = app_roles
                .iter()
                .filter(|r| r.audience_id == app.id)
                .collect();
            roles.is_empty() || roles.iter().any(|r| mine.contains(&r.id))
        })
        .collect())
}

/// One impersonation of a user's account, for its Access history.
#[derive(Clone, Debug)]
pub struct Access {
    pub session: impersonation_session::Model,
    pub impersonator: String,
    /// The applications used in it, by name.
    pub applications: Vec<String>,
}

/// Every impersonation of `user_id`, newest first.
pub async fn access_history(db: &impl ConnectionTrait, user_id: Uuid) -> Result<Vec<Access>> {
    let sessions = impersonation_session::Entity::find()
        .filter(impersonation_session::Column::TargetId.eq(user_id))
        .order_by_desc(impersonation_session::Column::StartedAt)
        .limit(200)
        .all(db)
        .await?;
    let mut history = Vec::new();
    for session in sessions {
        let impersonator = user::Entity::find_by_id(session.impersonator_id)
            .one(db)
            .await?
            .map(|u| u.username)
            .unwrap_or_else(|| format!("{} (deleted since)", session.impersonator_name));
        // Where the session was used: the tokens issued in it and the sign-ins through it.
        let clients: BTreeSet<String> = audit_event::Entity::find()
            .select_only()
            .column(audit_event::Column::ClientId)
            .filter(audit_event::Column::ImpersonationSessionId.eq(session.id))
            .filter(audit_event::Column::Action.is_in([
                action::IMPERSONATED_TOKEN_ISSUED,
                action::IMPERSONATED_SIGN_IN,
            ]))
            .into_tuple::<Option<String>>()
            .all(db)
            .await?
            .into_iter()
            .flatten()
            .collect();
        let mut applications = Vec::new();
        for client in clients {
            let name = application::Entity::find()
                .filter(application::Column::ClientId.eq(client.clone()))
                .one(db)
                .await?
                .map(|a| a.name)
                .unwrap_or(client);
            applications.push(name);
        }
        history.push(Access {
            session,
            impersonator,
            applications,
        });
    }
    Ok(history)
}
