use sea_orm::entity::prelude::*;

/// A refresh token. Used once (rotation); a second use revokes its whole family.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub token_hash: String,
    pub family_id: Uuid,
    pub application_id: Uuid,
    pub user_id: Uuid,
    pub idp_session_id: Option<Uuid>,
    pub code_id: Option<Uuid>,
    pub scope: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The impersonation session this belongs to, if any.
    pub impersonation_session_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
