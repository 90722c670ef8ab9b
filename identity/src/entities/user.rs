use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organization_id: Uuid,
    pub username: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    /// argon2id PHC string; never leaves the `identity` crate.
    pub password_hash: String,
    pub status: UserStatus,
    pub failed_logins: i32,
    /// Password sign-in is refused until then (seconds since the epoch), after a streak of
    /// failed passwords; `None` or past: not throttled.
    pub locked_until: Option<i64>,
    /// Locks in the current failed-password streak (each lasts twice the one before).
    pub lock_count: i32,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Whether a user may sign in and be impersonated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum UserStatus {
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "disabled")]
    Disabled,
    #[sea_orm(string_value = "locked")]
    Locked,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
