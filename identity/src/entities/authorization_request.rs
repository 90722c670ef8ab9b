use sea_orm::entity::prelude::*;

/// A validated authorization request waiting for the user's consent.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "authorization_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub handle_hash: String,
    pub user_id: Uuid,
    pub idp_session_id: Uuid,
    pub application_id: Uuid,
    #[sea_orm(column_type = "Json")]
    pub params: Json,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
