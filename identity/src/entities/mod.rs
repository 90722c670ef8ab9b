//! SeaORM entities, one module a table. Timestamps are Unix seconds.

pub mod access_token;
pub mod api_resource;
pub mod api_scope;
pub mod application;
pub mod audit_event;
pub mod authorization_code;
pub mod authorization_request;
pub mod authorized_scope;
pub mod change_counter;
pub mod consent;
pub mod consumed_token;
pub mod delivery;
pub mod email_template;
pub mod event;
pub mod idp_session;
pub mod impersonation_request;
pub mod impersonation_session;
pub mod organization;
pub mod organization_member;
pub mod outbox_mail;
pub mod refresh_token;
pub mod revoked_access_token;
pub mod role;
pub mod role_scope;
pub mod role_user;
pub mod setting;
pub mod signing_key;
pub mod ssf_stream;
pub mod support_access;
pub mod user;
pub mod webhook;

use sea_orm::FromJsonQueryResult;
use serde::{Deserialize, Serialize};

/// A list of strings stored as one JSON column (redirect URIs, grant types).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct StringList(pub Vec<String>);
