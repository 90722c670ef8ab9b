use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "roles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub audience_type: AudienceType,
    /// The organization's id or the application's id, after `audience_type`.
    pub audience_id: Uuid,
    /// Built-in roles (Administrator, Impersonator) cannot be renamed, changed or deleted.
    pub builtin: bool,
    pub created_at: i64,
}

/// What a role's scopes apply to: the whole organization, or one application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum AudienceType {
    #[sea_orm(string_value = "organization")]
    Organization,
    #[sea_orm(string_value = "application")]
    Application,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
