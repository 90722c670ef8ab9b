use sea_orm::entity::prelude::*;

/// One event on its way to one receiver, retried with backoff until it is answered with
/// success (`delivered_at`) or a day has passed (`failed_at`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub event_id: Uuid,
    /// `webhook`, `ssf` or `backchannel-logout` (`crate::events::Channel`).
    pub channel: String,
    /// The webhook, the stream, or the application.
    pub destination_id: Uuid,
    pub url: String,
    /// What is sent: the webhook's body, or the claims of the token signed at each attempt.
    #[sea_orm(column_type = "Json")]
    pub payload: Json,
    pub created_at: i64,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub last_attempt_at: Option<i64>,
    /// The HTTP status of the last answer (none: no answer).
    pub last_status: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
    pub failed_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
