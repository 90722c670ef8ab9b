use super::StringList;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "applications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub description: String,
    pub client_id: String,
    /// Hash of the client secret; the secret is shown once and never stored.
    pub client_secret_hash: Option<String>,
    pub public_client: bool,
    /// Console and My Account: created at first start, never deleted.
    pub system: bool,
    pub enabled: bool,
    #[sea_orm(column_type = "Json")]
    pub redirect_uris: StringList,
    #[sea_orm(column_type = "Json")]
    pub post_logout_redirect_uris: StringList,
    #[sea_orm(column_type = "Json")]
    pub grant_types: StringList,
    pub discoverable: bool,
    pub access_url: Option<String>,
    pub subject_token_enabled: bool,
    pub subject_token_expiry_secs: i32,
    pub skip_login_consent: bool,
    pub skip_logout_consent: bool,
    pub access_token_lifetime_secs: i32,
    pub id_token_lifetime_secs: i32,
    pub refresh_token_lifetime_secs: i32,
    pub refresh_for_impersonation: bool,
    /// A new client secret in clear, kept only until it is shown once.
    pub client_secret_reveal: Option<String>,
    /// A browser that impersonates signs in to this application as the impersonated user
    /// (SPEC §2.3); otherwise it gets an error page, never the impersonator's identity.
    pub impersonation_enabled: bool,
    /// The scopes a read-only impersonation session may be granted here, beside
    /// `openid profile email`.
    #[sea_orm(column_type = "Json")]
    pub read_only_scopes: StringList,
    /// OpenID Connect Back-Channel Logout: where logout tokens are posted when a session
    /// this application signed someone in through ends.
    pub backchannel_logout_uri: Option<String>,
    /// Whether the application needs `sid` in logout tokens (it always gets one).
    pub backchannel_logout_session_required: bool,
    /// What signs this application's ID tokens (and its logout tokens): a JOSE name of
    /// `keys::SigningAlg`. OpenID Connect Dynamic Client Registration's name.
    pub id_token_signed_response_alg: String,
    /// What signs this application's access tokens (RFC 9068 leaves it to the server).
    pub access_token_signed_response_alg: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
