use sea_orm::entity::prelude::*;

/// One audited event. Append-only; never holds a token or a secret.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub created_at: i64,
    pub action: String,
    /// "success" or "failure".
    pub outcome: String,
    pub actor_id: Option<String>,
    pub impersonator_id: Option<String>,
    pub target_id: Option<String>,
    pub client_id: Option<String>,
    pub impersonation_session_id: Option<Uuid>,
    pub scope: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub reason: String,
    #[sea_orm(column_type = "Json", nullable)]
    pub detail: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
