use super::StringList;
use sea_orm::entity::prelude::*;

/// A Shared Signals stream (OpenID SSF 1.0): the Security Event Tokens a receiver (an
/// application of ours) asked for, pushed to its endpoint (RFC 8935).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ssf_streams")]
pub struct Model {
    /// The `stream_id`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organization_id: Uuid,
    /// The receiver: the application whose token created the stream.
    pub application_id: Uuid,
    /// The SETs' `aud`: the receiver's client id.
    pub audience: String,
    pub endpoint_url: String,
    /// Sent as the `Authorization` header of each push, when the receiver gave one.
    pub authorization_header: Option<String>,
    #[sea_orm(column_type = "Json")]
    pub events_requested: StringList,
    pub description: String,
    /// `enabled`, `paused` or `disabled`.
    pub status: String,
    pub status_reason: String,
    /// When the receiver last asked for a verification event (at most one each
    /// [`crate::events::shared_signals::MIN_VERIFICATION_INTERVAL_SECS`]).
    pub verified_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
