//! The OAuth 2.0 / OpenID Connect domain: clients, scopes, authorization codes, consent,
//! and the tokens a grant mints. Protocol parsing and wire formats live in the server.

pub mod claims;
pub mod clients;
pub mod code_grant;
pub mod codes;
pub mod consent;
pub mod grants;
pub mod pending;
pub mod revocation_list;
pub mod scope;

use crate::keys::KeyStore;
use sea_orm::DatabaseConnection;
use std::sync::Arc;

/// Everything the provider needs to mint and check tokens.
#[derive(Clone)]
pub struct Provider {
    pub db: DatabaseConnection,
    pub keys: Arc<KeyStore>,
    /// `<public url>/oauth2/token`, as WSO2 names its issuer.
    pub issuer: String,
    /// Applications, users, roles and settings as of the last change (shared by clones).
    pub cache: Arc<crate::store::cache::ReadCache>,
    /// Uses single-use tokens up together with what depends on them (shared by clones).
    pub single_use: Arc<crate::store::group_commit::Committer>,
}

impl Provider {
    /// Starts the provider's background work on the current Tokio runtime.
    pub fn new(db: DatabaseConnection, keys: Arc<KeyStore>, public_url: &str) -> Self {
        Self {
            single_use: Arc::new(crate::store::group_commit::Committer::start(db.clone())),
            db,
            keys,
            issuer: format!("{public_url}/oauth2/token"),
            cache: Arc::default(),
        }
    }

    /// Read-mostly lookups as of now (one read of the change counter).
    pub async fn reads(&self) -> crate::Result<crate::store::cache::Reads<'_>> {
        self.cache.reads(&self.db).await
    }
}

/// Grant types, as they appear on the wire and in an application's settings.
pub mod grant_type {
    pub const AUTHORIZATION_CODE: &str = "authorization_code";
    pub const REFRESH_TOKEN: &str = "refresh_token";
    pub const CLIENT_CREDENTIALS: &str = "client_credentials";
    pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
    pub const ORGANIZATION_SWITCH: &str = "organization_switch";
}

/// JWT `typ` header values, one per kind of token, so that one can never pass for another.
pub mod token_type {
    /// RFC 9068 access tokens.
    pub const ACCESS: &str = "at+jwt";
    /// Subject tokens for impersonation (SPEC §2.1): usable only at the token exchange.
    pub const SUBJECT: &str = "subject+jwt";
    /// ID tokens.
    pub const ID: &str = "JWT";
}
