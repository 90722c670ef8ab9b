//! Applications as OAuth clients: lookup, authentication, secrets, redirect URIs.

use crate::entities::application;
use crate::store::cache::{Kind, Reads};
use crate::{Result, tokens};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use subtle::ConstantTimeEq;

/// How a client presented itself at the token, introspection or revocation endpoint.
#[derive(Debug)]
pub enum Presented {
    /// `client_secret_basic` or `client_secret_post`.
    Secret { client_id: String, secret: String },
    /// `none`: a public client naming itself.
    Public { client_id: String },
}

/// Why a client was not authenticated (RFC 6749 §5.2 `invalid_client`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClientError {
    #[error("client authentication failed")]
    Failed,
}

/// Finds an enabled application by client id.
pub async fn find(
    db: &impl ConnectionTrait,
    client_id: &str,
) -> Result<Option<application::Model>> {
    Ok(application::Entity::find()
        .filter(application::Column::ClientId.eq(client_id))
        .filter(application::Column::Enabled.eq(true))
        .one(db)
        .await?)
}

/// [`find`], kept while nothing changes (`crate::store::cache`).
pub async fn cached(reads: &Reads<'_>, client_id: &str) -> Result<Option<application::Model>> {
    struct Enabled;
    impl Kind for Enabled {
        type Key = String;
        type Value = Option<application::Model>;
    }
    let load = find(reads.db(), client_id);
    reads
        .remembered::<Enabled>(client_id.to_owned(), load)
        .await
}

/// Authenticates a client. A confidential client must present its secret; a public client
/// may only name itself. Unknown clients and wrong secrets fail alike.
pub async fn authenticate(
    reads: &Reads<'_>,
    presented: &Presented,
) -> Result<std::result::Result<application::Model, ClientError>> {
    let (client_id, secret) = match presented {
        Presented::Secret { client_id, secret } => (client_id, Some(secret)),
        Presented::Public { client_id } => (client_id, None),
    };
    let Some(app) = cached(reads, client_id).await? else {
        return Ok(Err(ClientError::Failed));
    };
    let ok = match (secret, &app.client_secret_hash, app.public_client) {
        (Some(secret), Some(hash), false) => {
            bool::from(tokens::hash_token(secret).as_bytes().ct_eq(hash.as_bytes()))
        }
        (None, _, true) => true,
        _ => false,
    };
    Ok(if ok {
        Ok(app)
    } else {
        Err(ClientError::Failed)
    })
}

/// A new client secret (returned once) and its stored hash.
pub fn new_secret() -> (String, String) {
    let secret = tokens::random_token();
    let hash = tokens::hash_token(&secret);
    (secret, hash)
}

/// A new client id: 24 characters, URL-safe, like WSO2's.
pub fn new_client_id() -> String {
    tokens::random_token()[..24].to_owned()
}

/// Whether `uri` is one of the application's redirect URIs, compared exactly.
pub fn redirect_registered(app: &application::Model, uri: &str) -> bool {
    app.redirect_uris.0.iter().any(|r| r == uri)
}

/// Whether the application may use `grant_type`.
pub fn allows_grant(app: &application::Model, grant_type: &str) -> bool {
    app.grant_types.0.iter().any(|g| g == grant_type)
}

/// The client id of an application, by the application's id.
pub async fn client_id_of(
    db: &impl ConnectionTrait,
    application_id: uuid::Uuid,
) -> Result<Option<String>> {
    Ok(application::Entity::find_by_id(application_id)
        .one(db)
        .await?
        .map(|app| app.client_id))
}
