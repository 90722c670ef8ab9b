use sea_orm::entity::prelude::*;

/// The record of a JWT access token issued to a user, by its `jti`: what introspection,
/// userinfo and revocation consult, so that a revoked token stops working before it
/// expires. A token an application gets for itself has none
/// (`crate::oauth::revocation_list`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub jti: String,
    pub application_id: Uuid,
    pub user_id: Option<Uuid>,
    pub idp_session_id: Option<Uuid>,
    pub code_id: Option<Uuid>,
    pub family_id: Option<Uuid>,
    pub scope: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// The impersonation session this belongs to, if any.
    pub impersonation_session_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
