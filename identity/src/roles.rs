//! Roles and what they grant.

use crate::Result;
use crate::entities::{
    role::{self, AudienceType},
    role_scope, role_user,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};
use uuid::Uuid;

/// Whether `user_id` holds `scope` through a role whose audience is an organization.
pub async fn holds_organization_scope(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    scope: &str,
) -> Result<bool> {
    let role_ids: Vec<Uuid> = role_user::Entity::find()
        .select_only()
        .column(role_user::Column::RoleId)
        .filter(role_user::Column::UserId.eq(user_id))
        .into_tuple()
        .all(db)
        .await?;
    if role_ids.is_empty() {
        return Ok(false);
    }
    let organization_roles: Vec<Uuid> = role::Entity::find()
        .select_only()
        .column(role::Column::Id)
        .filter(role::Column::Id.is_in(role_ids))
        .filter(role::Column::AudienceType.eq(AudienceType::Organization))
        .into_tuple()
        .all(db)
        .await?;
    if organization_roles.is_empty() {
        return Ok(false);
    }
    let granting = role_scope::Entity::find()
        .filter(role_scope::Column::RoleId.is_in(organization_roles))
        .filter(role_scope::Column::Scope.eq(scope))
        .count(db)
        .await?;
    Ok(granting > 0)
}
