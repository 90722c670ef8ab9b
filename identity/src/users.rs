//! Users: lookup and sign-in.

use crate::entities::user::{self, UserStatus};
use crate::{Error, Result, password};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
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
/// like any other attempt.
#[tracing::instrument(skip(db, password))]
pub async fn authenticate(
    db: &impl ConnectionTrait,
    username: &str,
    password: String,
) -> Result<user::Model> {
    let found = find_by_username(db, username).await?;
    let stored = found.as_ref().map(|u| u.password_hash.clone());
    let verified = password::verify(password, stored).await;
    match found {
        Some(user) if verified && user.status == UserStatus::Active => Ok(user),
        _ => Err(Error::InvalidCredentials),
    }
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
