use sea_orm::entity::prelude::*;

/// One administrator acting as one user, from the token exchange until it ends (stopped,
/// ended from the Console, or expired). Every artefact derived from it points here.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "impersonation_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organization_id: Uuid,
    /// Kept when the impersonator is deleted (the target's history stays readable).
    pub impersonator_id: Uuid,
    /// The impersonator's username when the session started.
    pub impersonator_name: String,
    pub target_id: Uuid,
    /// The application that performed the exchange.
    pub application_id: Uuid,
    pub idp_session_id: Option<Uuid>,
    pub reason: String,
    /// The help-desk ticket the impersonator gave (empty: none).
    pub ticket: String,
    /// A read-only session: its tokens say so and carry only read-only scopes.
    pub read_only: bool,
    pub started_at: i64,
    /// The hard limit.
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    pub ended_by: Option<Uuid>,
    pub end_reason: Option<String>,
    /// The approved request it used, when the organization asks for approval.
    pub request_id: Option<Uuid>,
    /// The target's standing support access that allowed it.
    pub support_access_id: Option<Uuid>,
    /// The latest it may be extended to (`None`: never extended; sessions from before).
    pub limit_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
