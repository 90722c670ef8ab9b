//! Users: lookup and sign-in.

use crate::entities::user::{self, UserStatus};
use crate::{Error, Result, password};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

/// Finds a user by id.
pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id).one(db).await?)
}

/// Finds a user by username (exact match).
pub async fn find_by_username(
    db: &impl ConnectionTrait,
    username: &str,
) -> Result<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(db)
        .await?)
}

/// Checks a username and password. Every failure, including a disabled or locked account,
/// is [`Error::InvalidCredentials`], and an unknown username costs one argon2 verification
/// like any other attempt. A wrong password counts one failure (an atomic increment, exact
/// under concurrent attempts); at `lockout_threshold` failures the account locks.
#[tracing::instrument(skip(db, password))]
pub async fn authenticate(
    db: &impl ConnectionTrait,
    username: &str,
    password: String,
    lockout_threshold: i32,
) -> Result<user::Model> {
    let found = find_by_username(db, username).await?;
    let stored = found.as_ref().map(|u| u.password_hash.clone());
    let verified = password::verify(password, stored).await;
    match found {
        Some(user) if user.status == UserStatus::Active && verified => {
            if user.failed_logins != 0 {
                user::Entity::update_many()
                    .col_expr(user::Column::FailedLogins, Expr::value(0))
                    .filter(user::Column::Id.eq(user.id))
                    .exec(db)
                    .await?;
            }
            Ok(user)
        }
        Some(user) if user.status == UserStatus::Active => {
            record_failure(db, user.id, lockout_threshold).await?;
            Err(Error::InvalidCredentials)
        }
        _ => Err(Error::InvalidCredentials),
    }
}

/// Counts a failed sign-in and locks the account at the threshold.
async fn record_failure(db: &impl ConnectionTrait, user_id: Uuid, threshold: i32) -> Result<()> {
    user::Entity::update_many()
        .col_expr(
            user::Column::FailedLogins,
            Expr::col(user::Column::FailedLogins).add(1),
        )
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    let locked = user::Entity::update_many()
        .col_expr(user::Column::Status, Expr::value(UserStatus::Locked))
        .col_expr(user::Column::UpdatedAt, Expr::value(crate::clock::now()))
        .filter(user::Column::Id.eq(user_id))
        .filter(user::Column::Status.eq(UserStatus::Active))
        .filter(user::Column::FailedLogins.gte(threshold))
        .exec(db)
        .await?;
    if locked.rows_affected == 1 {
        tracing::warn!(%user_id, "account locked after repeated sign-in failures");
    }
    Ok(())
}

/// The name to show for a user: "Given Family", or the username when both are empty.
pub fn display_name(user: &user::Model) -> String {
    let full = format!("{} {}", user.given_name, user.family_name);
    let full = full.trim();
    if full.is_empty() {
        user.username.clone()
    } else {
        full.to_owned()
    }
}

/// What it takes to create a user.
pub struct NewUser<'a> {
    pub organization_id: Uuid,
    pub username: &'a str,
    pub email: &'a str,
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub password: &'a str,
}

/// Creates an active user with a hashed password.
pub async fn create(db: &impl ConnectionTrait, new: NewUser<'_>) -> Result<user::Model> {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let now = crate::clock::now();
    Ok(user::ActiveModel {
        id: Set(Uuid::new_v4()),
        organization_id: Set(new.organization_id),
        username: Set(new.username.to_owned()),
        email: Set(new.email.to_owned()),
        given_name: Set(new.given_name.to_owned()),
        family_name: Set(new.family_name.to_owned()),
        password_hash: Set(password::hash(new.password.to_owned()).await?),
        status: Set(UserStatus::Active),
        failed_logins: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}
