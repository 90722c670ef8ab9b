use sea_orm::entity::prelude::*;

/// An API that applications can be authorized for, e.g. "User Impersonation"
/// (`system:impersonation`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_resources")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub identifier: String,
    pub description: String,
    /// Built in: cannot be changed or deleted.
    pub system: bool,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
