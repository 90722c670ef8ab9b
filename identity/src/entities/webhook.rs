use super::StringList;
use sea_orm::entity::prelude::*;

/// A webhook subscription: events of some types of one organization, posted to `url` in
/// the Standard Webhooks format and signed with `secret`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organization_id: Uuid,
    pub url: String,
    pub description: String,
    #[sea_orm(column_type = "Json")]
    pub event_types: StringList,
    pub enabled: bool,
    /// The signing secret's bytes, base64 (shown once, as `whsec_…`).
    pub secret: String,
    /// After a rotation, the secret before it, still signing beside the new one until
    /// `previous_secret_until` (receivers switch without losing a message).
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<i64>,
    /// The Console shows the secret once, to the administrator who made or rotated it, at
    /// their next look at the webhook's page (so that it survives a page load without
    /// JavaScript); the API shows it in its answer.
    pub reveal_secret_to: Option<Uuid>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
