use sea_orm::entity::prelude::*;

/// An administrator's request to impersonate a user, waiting for the approvals the
/// organization asks for (the user's, an approving administrator's, or both), then usable
/// for one session within its window. See `crate::impersonation::approval`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "impersonation_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organization_id: Uuid,
    /// Who asks (the would-be impersonator); kept when they are deleted.
    pub requester_id: Uuid,
    pub requester_name: String,
    pub target_id: Uuid,
    pub reason: String,
    pub ticket: String,
    pub read_only: bool,
    /// The session asked for, at most (also bounded by the organization's maximum).
    pub duration_minutes: i64,
    /// The organization asked for the user's approval when the request was made.
    pub needs_user: bool,
    /// The organization asked for an approving administrator when the request was made.
    pub needs_administrator: bool,
    /// `pending`, `approved`, `denied`, `expired`, `withdrawn` or `used`, as stored (see
    /// `approval::Status::of` for what it is now).
    pub status: String,
    pub created_at: i64,
    /// A request not decided by then expires.
    pub decide_by: i64,
    pub user_approved_at: Option<i64>,
    pub administrator_id: Option<Uuid>,
    pub administrator_approved_at: Option<i64>,
    /// Who denied or withdrew it.
    pub closed_by: Option<Uuid>,
    pub closed_at: Option<i64>,
    /// The denier's comment.
    pub comment: String,
    /// Once approved: a session may start until then.
    pub valid_until: Option<i64>,
    /// The session it was used for.
    pub session_id: Option<Uuid>,
    /// The user's standing support access that stood for their approval, if it did: the
    /// request counts only while that access does.
    pub support_access_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
