//! Per-organization settings. The impersonation configuration: email notification
//! (default on, as WSO2), whether a reason is required, and the hard time limit.

use crate::entities::setting;
use crate::{Result, clock};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, sea_query::OnConflict};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const IMPERSONATION: &str = "impersonation";

/// How impersonation behaves in an organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Impersonation {
    /// Mail the user when someone starts impersonating them.
    pub enable_email_notification: bool,
    /// The impersonator must give a reason.
    pub require_reason: bool,
    /// The hard limit of a session.
    pub max_session_duration_minutes: i64,
}

impl Default for Impersonation {
    fn default() -> Self {
        Self {
            enable_email_notification: true,
            require_reason: false,
            max_session_duration_minutes: 60,
        }
    }
}

/// The longest a session may be allowed to last: one day.
pub const MAX_DURATION_MINUTES: i64 = 24 * 60;

/// The impersonation settings of an organization (defaults when never set).
pub async fn impersonation(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
) -> Result<Impersonation> {
    let stored = setting::Entity::find_by_id((organization_id, IMPERSONATION.to_owned()))
        .one(db)
        .await?;
    Ok(stored
        .and_then(|s| serde_json::from_value(s.value).ok())
        .unwrap_or_default())
}

/// [`impersonation`], kept while nothing changes (`crate::store::cache`).
pub async fn impersonation_cached(
    reads: &crate::store::cache::Reads<'_>,
    organization_id: Uuid,
) -> Result<Impersonation> {
    struct Settings;
    impl crate::store::cache::Kind for Settings {
        type Key = Uuid;
        type Value = Impersonation;
    }
    let load = impersonation(reads.db(), organization_id);
    reads.remembered::<Settings>(organization_id, load).await
}

/// Stores the impersonation settings of an organization.
pub async fn set_impersonation(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    value: Impersonation,
) -> Result<()> {
    setting::Entity::insert(setting::ActiveModel {
        organization_id: Set(organization_id),
        key: Set(IMPERSONATION.to_owned()),
        value: Set(serde_json::to_value(value).map_err(anyhow::Error::from)?),
        updated_at: Set(clock::now()),
    })
    .on_conflict(
        OnConflict::columns([setting::Column::OrganizationId, setting::Column::Key])
            .update_columns([setting::Column::Value, setting::Column::UpdatedAt])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Back to the defaults.
pub async fn reset_impersonation(db: &impl ConnectionTrait, organization_id: Uuid) -> Result<()> {
    setting::Entity::delete_by_id((organization_id, IMPERSONATION.to_owned()))
        .exec(db)
        .await?;
    Ok(())
}
