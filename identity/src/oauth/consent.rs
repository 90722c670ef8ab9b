//! Consent: which scopes a user agreed to share with an application.

use crate::entities::consent;
use crate::{Result, clock};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, sea_query::OnConflict};
use uuid::Uuid;

/// Whether the user already agreed to every scope in `scopes` for this application.
pub async fn covers(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    application_id: Uuid,
    scopes: &[String],
) -> Result<bool> {
    let Some(given) = consent::Entity::find_by_id((user_id, application_id))
        .one(db)
        .await?
    else {
        return Ok(false);
    };
    let given = super::scope::parse(&given.scope);
    Ok(scopes.iter().all(|s| given.contains(s)))
}

/// Records agreement to `scopes` (added to what was agreed before).
pub async fn grant(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    application_id: Uuid,
    scopes: &[String],
) -> Result<()> {
    let mut all = match consent::Entity::find_by_id((user_id, application_id))
        .one(db)
        .await?
    {
        Some(given) => super::scope::parse(&given.scope),
        None => Vec::new(),
    };
    for s in scopes {
        if !all.contains(s) {
            all.push(s.clone());
        }
    }
    consent::Entity::insert(consent::ActiveModel {
        user_id: Set(user_id),
        application_id: Set(application_id),
        scope: Set(super::scope::join(&all)),
        granted_at: Set(clock::now()),
    })
    .on_conflict(
        OnConflict::columns([consent::Column::UserId, consent::Column::ApplicationId])
            .update_columns([consent::Column::Scope, consent::Column::GrantedAt])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}
