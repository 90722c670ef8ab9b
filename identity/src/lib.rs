//! The identity domain: who the users are, which applications exist, what roles grant,
//! who is signed in. Services take `&impl ConnectionTrait` so that a caller can pass the
//! pool or an open transaction; nothing here knows about HTTP or the UI.

pub mod api_resources;
pub mod applications;
pub mod audit;
pub mod clock;
pub mod delegation;
pub mod entities;
pub mod error;
pub mod events;
pub mod html;
pub mod impersonation;
pub mod keys;
pub mod mail;
pub mod my_account;
pub mod oauth;
pub mod organizations;
pub mod password;
pub mod roles;
pub mod scopes;
pub mod seed;
pub mod sessions;
pub mod settings;
pub mod store;
pub mod text;
pub mod tokens;
pub mod users;

pub use error::{Error, Result};
pub use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, TransactionTrait};
