use sea_orm::entity::prelude::*;

/// Something that happened, for receivers outside (webhooks, Shared Signals, back-channel
/// logout): written in the transaction that made it happen, fanned out once
/// (`dispatched_at`) into [`super::delivery`] rows.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The organization it happened in (`None`: the server as a whole, such as a key
    /// rotation; the root organization's receivers get those).
    pub organization_id: Option<Uuid>,
    /// `impersonation.started`, `session.revoked`, … (`crate::events::kind`).
    pub event_type: String,
    /// The user it is about, if any.
    pub subject_id: Option<String>,
    pub occurred_at: i64,
    #[sea_orm(column_type = "Json")]
    pub data: Json,
    pub dispatched_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
