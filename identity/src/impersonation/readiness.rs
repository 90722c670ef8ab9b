//! Impersonation readiness of an application (SPEC §6.6): every prerequisite, met or not,
//! with where to fix it. Two roles an application can play:
//!
//! - impersonating *from* it (it asks for the subject token and exchanges it, as My
//!   Account does): the token exchange grant, the subject token, authorization for the
//!   User Impersonation API, and a role of the application granting
//!   `internal_user_impersonate` to someone;
//! - being used *while* impersonating (single sign-on as the user, SPEC §2.3): impersonated
//!   sign-in enabled, and discoverable with an access URL so that My Account lists it.

use crate::entities::{application, role};
use crate::oauth::grant_type;
use crate::{Result, api_resources, roles, scopes};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

/// Which part of impersonation a prerequisite serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    From,
    While,
}

/// One prerequisite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub part: Part,
    pub label: &'static str,
    pub met: bool,
    /// Where to fix it: an anchor on the application's page, or another page.
    pub fix: String,
}

/// Every prerequisite of `app`.
pub async fn check(db: &impl ConnectionTrait, app: &application::Model) -> Result<Vec<Check>> {
    let page = format!("/console/applications/{}", app.id);
    let authorized = api_resources::authorized_scopes(db, app.id).await?;
    let app_roles = role::Entity::find()
        .filter(role::Column::AudienceType.eq(role::AudienceType::Application))
        .filter(role::Column::AudienceId.eq(app.id))
        .all(db)
        .await?;
    let mut granting = Vec::new();
    for r in app_roles {
        let view = roles::view(db, r).await?;
        if view.scopes.iter().any(|s| s == scopes::USER_IMPERSONATE) {
            granting.push(view);
        }
    }
    let with_users = granting.iter().find(|v| !v.users.is_empty());
    let role_fix = match (granting.first(), with_users) {
        (_, Some(v)) | (Some(v), None) => format!("/console/roles/{}", v.role.id),
        (None, None) => "/console/roles".to_owned(),
    };
    let has_grant = app
        .grant_types
        .0
        .iter()
        .any(|g| g == grant_type::TOKEN_EXCHANGE);
    Ok(vec![
        Check {
            part: Part::From,
            label: "The token exchange grant is allowed",
            met: has_grant,
            fix: format!("{page}#protocol"),
        },
        Check {
            part: Part::From,
            label: "The subject token is enabled",
            met: app.subject_token_enabled,
            fix: format!("{page}#protocol"),
        },
        Check {
            part: Part::From,
            label: "Authorized for the User Impersonation API (internal_user_impersonate)",
            met: authorized.iter().any(|s| s == scopes::USER_IMPERSONATE),
            fix: format!("{page}#authorized-apis"),
        },
        Check {
            part: Part::From,
            label: "A role of this application grants internal_user_impersonate",
            met: !granting.is_empty(),
            fix: role_fix.clone(),
        },
        Check {
            part: Part::From,
            label: "Someone holds that role",
            met: with_users.is_some(),
            fix: role_fix,
        },
        Check {
            part: Part::While,
            label: "Impersonated sign-in is enabled",
            met: app.impersonation_enabled,
            fix: format!("{page}#impersonation"),
        },
        Check {
            part: Part::While,
            label: "Discoverable in My Account, with an access URL",
            met: app.discoverable && app.access_url.is_some(),
            fix: format!("{page}#discovery"),
        },
    ])
}
