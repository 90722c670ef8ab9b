//! Applications (OAuth clients): create, change, delete, and their client secret, which is
//! stored only as a hash and shown once, at creation or regeneration.

use crate::delegation::{Authority, Why};
use crate::entities::{StringList, application};
use crate::keys::SigningAlg;
use crate::oauth::{clients, grant_type};
use crate::{Result, clock};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};
use uuid::Uuid;

/// Every setting of an application that its owner chooses.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub name: String,
    pub description: String,
    pub discoverable: bool,
    pub access_url: Option<String>,
    pub public_client: bool,
    pub grant_types: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub subject_token_enabled: bool,
    pub subject_token_expiry_secs: i32,
    pub skip_login_consent: bool,
    pub skip_logout_consent: bool,
    pub access_token_lifetime_secs: i32,
    pub id_token_lifetime_secs: i32,
    pub refresh_token_lifetime_secs: i32,
    pub refresh_for_impersonation: bool,
    /// Impersonated single sign-on into this application (SPEC §2.3).
    pub impersonation_enabled: bool,
    /// What a read-only impersonation session may be granted here, beside `openid profile
    /// email`.
    pub read_only_scopes: Vec<String>,
    /// OpenID Connect Back-Channel Logout: where to post logout tokens.
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
    /// What signs the ID tokens (and logout tokens): a JOSE name of `keys::SigningAlg`.
    pub id_token_signed_response_alg: String,
    /// What signs the access tokens.
    pub access_token_signed_response_alg: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            name: String::new(),
            description: String::new(),
            discoverable: false,
            access_url: None,
            public_client: false,
            grant_types: vec![grant_type::AUTHORIZATION_CODE.to_owned()],
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            subject_token_enabled: false,
            subject_token_expiry_secs: 180,
            skip_login_consent: false,
            skip_logout_consent: false,
            access_token_lifetime_secs: 3600,
            id_token_lifetime_secs: 3600,
            refresh_token_lifetime_secs: 86400,
            refresh_for_impersonation: false,
            impersonation_enabled: false,
            read_only_scopes: Vec::new(),
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
            id_token_signed_response_alg: SigningAlg::DEFAULT.as_str().to_owned(),
            access_token_signed_response_alg: SigningAlg::DEFAULT.as_str().to_owned(),
        }
    }
}

impl Settings {
    /// The settings of an existing application.
    pub fn of(app: &application::Model) -> Self {
        Self {
            name: app.name.clone(),
            description: app.description.clone(),
            discoverable: app.discoverable,
            access_url: app.access_url.clone(),
            public_client: app.public_client,
            grant_types: app.grant_types.0.clone(),
            redirect_uris: app.redirect_uris.0.clone(),
            post_logout_redirect_uris: app.post_logout_redirect_uris.0.clone(),
            subject_token_enabled: app.subject_token_enabled,
            subject_token_expiry_secs: app.subject_token_expiry_secs,
            skip_login_consent: app.skip_login_consent,
            skip_logout_consent: app.skip_logout_consent,
            access_token_lifetime_secs: app.access_token_lifetime_secs,
            id_token_lifetime_secs: app.id_token_lifetime_secs,
            refresh_token_lifetime_secs: app.refresh_token_lifetime_secs,
            refresh_for_impersonation: app.refresh_for_impersonation,
            impersonation_enabled: app.impersonation_enabled,
            read_only_scopes: app.read_only_scopes.0.clone(),
            backchannel_logout_uri: app.backchannel_logout_uri.clone(),
            backchannel_logout_session_required: app.backchannel_logout_session_required,
            id_token_signed_response_alg: app.id_token_signed_response_alg.clone(),
            access_token_signed_response_alg: app.access_token_signed_response_alg.clone(),
        }
    }

    /// Problems with these settings, as (field, message), empty when they are valid.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if self.name.trim().is_empty() {
            problems.push(("name", "A name is required.".to_owned()));
        }
        const KNOWN: &[&str] = &[
            grant_type::AUTHORIZATION_CODE,
            grant_type::REFRESH_TOKEN,
            grant_type::CLIENT_CREDENTIALS,
            grant_type::TOKEN_EXCHANGE,
            grant_type::ORGANIZATION_SWITCH,
        ];
        for g in &self.grant_types {
            if !KNOWN.contains(&g.as_str()) {
                problems.push(("grantTypes", format!("Unsupported grant type {g}.")));
            }
        }
        if self.public_client
            && self
                .grant_types
                .iter()
                .any(|g| g == grant_type::CLIENT_CREDENTIALS)
        {
            problems.push((
                "grantTypes",
                "A public client cannot use client_credentials.".to_owned(),
            ));
        }
        if self
            .grant_types
            .iter()
            .any(|g| g == grant_type::AUTHORIZATION_CODE)
            && self.redirect_uris.is_empty()
        {
            problems.push((
                "callbackURLs",
                "The authorization code grant needs at least one callback URL.".to_owned(),
            ));
        }
        for uri in self
            .redirect_uris
            .iter()
            .chain(&self.post_logout_redirect_uris)
        {
            if !is_redirect_uri(uri) {
                problems.push((
                    "callbackURLs",
                    format!("{uri} is not an absolute http(s) URL without a fragment."),
                ));
            }
        }
        if let Some(url) = &self.access_url
            && !is_redirect_uri(url)
        {
            problems.push((
                "accessUrl",
                format!("{url} is not an absolute http(s) URL."),
            ));
        }
        if let Some(url) = &self.backchannel_logout_uri
            && !is_redirect_uri(url)
        {
            problems.push((
                "backchannelLogoutUri",
                format!("{url} is not an absolute http(s) URL without a fragment."),
            ));
        }
        for (field, alg) in [
            (
                "idTokenSignedResponseAlg",
                &self.id_token_signed_response_alg,
            ),
            (
                "accessTokenSignedResponseAlg",
                &self.access_token_signed_response_alg,
            ),
        ] {
            if SigningAlg::parse(alg).is_none() {
                problems.push((
                    field,
                    format!(
                        "{} is not an algorithm this server signs with: RS256, ES256 or EdDSA.",
                        crate::text::at_most(alg, 20)
                    ),
                ));
            }
        }
        for (field, value, min) in [
            ("subjectToken", self.subject_token_expiry_secs, 10),
            ("accessToken", self.access_token_lifetime_secs, 60),
            ("idToken", self.id_token_lifetime_secs, 60),
            ("refreshToken", self.refresh_token_lifetime_secs, 60),
        ] {
            if value < min || value > 31_536_000 {
                problems.push((
                    field,
                    format!("The lifetime must be between {min} seconds and a year."),
                ));
            }
        }
        problems
    }
}

impl application::Model {
    /// What signs this application's ID tokens and logout tokens.
    pub fn id_token_alg(&self) -> SigningAlg {
        SigningAlg::parse(&self.id_token_signed_response_alg).unwrap_or(SigningAlg::DEFAULT)
    }

    /// What signs this application's access tokens.
    pub fn access_token_alg(&self) -> SigningAlg {
        SigningAlg::parse(&self.access_token_signed_response_alg).unwrap_or(SigningAlg::DEFAULT)
    }
}

/// An absolute http(s) URL with a host and no fragment (RFC 6749 §3.1.2).
pub fn is_redirect_uri(uri: &str) -> bool {
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?']).next().unwrap_or("");
            !host.is_empty()
                && !uri.contains('#')
                && !uri.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid settings")]
    Invalid(Vec<(&'static str, String)>),
    #[error("an application named {0} already exists")]
    DuplicateName(String),
    #[error("the system applications cannot be deleted")]
    System,
    #[error(transparent)]
    Refused(#[from] crate::delegation::Refusal),
}

/// What no API or page changes on a system application (Console, My Account): where its
/// codes go, how it gets tokens, whether it is a public client, its subject tokens.
fn fixed_system_setting(app: &application::Model, wanted: &Settings) -> Option<&'static str> {
    let now = Settings::of(app);
    if wanted.redirect_uris != now.redirect_uris {
        Some("callback URLs")
    } else if wanted.post_logout_redirect_uris != now.post_logout_redirect_uris {
        Some("sign-out callback URLs")
    } else if wanted.grant_types != now.grant_types {
        Some("grant types")
    } else if wanted.public_client != now.public_client {
        Some("client type")
    } else if wanted.subject_token_enabled != now.subject_token_enabled
        || wanted.subject_token_expiry_secs != now.subject_token_expiry_secs
    {
        Some("subject-token setting")
    } else {
        None
    }
}

/// A created application and its secret (shown once; `None` for public clients).
pub struct Created {
    pub application: application::Model,
}

/// Creates an application with a new client id and, for a confidential client, a secret
/// kept for its one-time reveal.
pub async fn create(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    settings: Settings,
) -> Result<std::result::Result<Created, AppError>> {
    let problems = settings.problems();
    if !problems.is_empty() {
        return Ok(Err(AppError::Invalid(problems)));
    }
    if name_taken(db, &settings.name, None).await? {
        return Ok(Err(AppError::DuplicateName(settings.name)));
    }
    let now = clock::now();
    let (secret, hash) = if settings.public_client {
        (None, None)
    } else {
        let (secret, hash) = clients::new_secret();
        (Some(secret), Some(hash))
    };
    let mut model = application::ActiveModel {
        id: Set(Uuid::new_v4()),
        organization_id: Set(organization_id),
        client_id: Set(clients::new_client_id()),
        client_secret_hash: Set(hash),
        client_secret_reveal: Set(secret),
        system: Set(false),
        enabled: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    apply(&mut model, settings);
    Ok(Ok(Created {
        application: model.insert(db).await?,
    }))
}

fn apply(model: &mut application::ActiveModel, s: Settings) {
    model.name = Set(s.name.trim().to_owned());
    model.description = Set(s.description);
    model.discoverable = Set(s.discoverable);
    model.access_url = Set(s.access_url);
    model.public_client = Set(s.public_client);
    model.grant_types = Set(StringList(s.grant_types));
    model.redirect_uris = Set(StringList(s.redirect_uris));
    model.post_logout_redirect_uris = Set(StringList(s.post_logout_redirect_uris));
    model.subject_token_enabled = Set(s.subject_token_enabled);
    model.subject_token_expiry_secs = Set(s.subject_token_expiry_secs);
    model.skip_login_consent = Set(s.skip_login_consent);
    model.skip_logout_consent = Set(s.skip_logout_consent);
    model.access_token_lifetime_secs = Set(s.access_token_lifetime_secs);
    model.id_token_lifetime_secs = Set(s.id_token_lifetime_secs);
    model.refresh_token_lifetime_secs = Set(s.refresh_token_lifetime_secs);
    model.refresh_for_impersonation = Set(s.refresh_for_impersonation);
    model.impersonation_enabled = Set(s.impersonation_enabled);
    model.read_only_scopes = Set(StringList(s.read_only_scopes));
    model.backchannel_logout_uri = Set(s.backchannel_logout_uri);
    model.backchannel_logout_session_required = Set(s.backchannel_logout_session_required);
    model.id_token_signed_response_alg = Set(s.id_token_signed_response_alg);
    model.access_token_signed_response_alg = Set(s.access_token_signed_response_alg);
}

async fn name_taken(db: &impl ConnectionTrait, name: &str, except: Option<Uuid>) -> Result<bool> {
    let mut query = application::Entity::find().filter(application::Column::Name.eq(name.trim()));
    if let Some(id) = except {
        query = query.filter(application::Column::Id.ne(id));
    }
    Ok(query.count(db).await? > 0)
}

/// Replaces the settings of an application. A public/confidential switch creates or drops
/// the secret accordingly. A system application keeps its [fixed settings]
/// (fixed_system_setting), and only an administrator (`by` holds every management scope)
/// changes the others.
pub async fn update(
    db: &impl ConnectionTrait,
    by: &Authority,
    app: application::Model,
    settings: Settings,
) -> Result<std::result::Result<application::Model, AppError>> {
    if app.system {
        if let Some(setting) = fixed_system_setting(&app, &settings) {
            return Ok(Err(by.refusal(Why::SystemApplication(setting)).into()));
        }
        if !by.is_administrator() && settings != Settings::of(&app) {
            return Ok(Err(by
                .refusal(Why::SystemApplicationNeedsAdministrator)
                .into()));
        }
    }
    let problems = settings.problems();
    if !problems.is_empty() {
        return Ok(Err(AppError::Invalid(problems)));
    }
    if name_taken(db, &settings.name, Some(app.id)).await? {
        return Ok(Err(AppError::DuplicateName(settings.name)));
    }
    let becomes_confidential = app.public_client && !settings.public_client;
    let becomes_public = !app.public_client && settings.public_client;
    let mut model = app.into_active_model();
    if becomes_confidential {
        let (secret, hash) = clients::new_secret();
        model.client_secret_hash = Set(Some(hash));
        model.client_secret_reveal = Set(Some(secret));
    }
    if becomes_public {
        model.client_secret_hash = Set(None);
        model.client_secret_reveal = Set(None);
    }
    apply(&mut model, settings);
    model.updated_at = Set(clock::now());
    Ok(Ok(model.update(db).await?))
}

/// Deletes an application and everything issued to it. System applications stay.
pub async fn delete(
    db: &impl ConnectionTrait,
    app: &application::Model,
) -> Result<std::result::Result<(), AppError>> {
    if app.system {
        return Ok(Err(AppError::System));
    }
    crate::events::shared_signals::delete_for_application(db, app.id).await?;
    application::Entity::delete_by_id(app.id).exec(db).await?;
    Ok(Ok(()))
}

/// Takes the secret waiting to be shown, once: a second call gets `None`.
pub async fn reveal_secret(
    db: &impl ConnectionTrait,
    app: &application::Model,
) -> Result<Option<String>> {
    let Some(secret) = app.client_secret_reveal.clone() else {
        return Ok(None);
    };
    let taken = application::Entity::update_many()
        .col_expr(
            application::Column::ClientSecretReveal,
            Expr::value(Option::<String>::None),
        )
        .filter(application::Column::Id.eq(app.id))
        .filter(application::Column::ClientSecretReveal.eq(secret.clone()))
        .exec(db)
        .await?;
    Ok((taken.rows_affected == 1).then_some(secret))
}

/// A new secret for a confidential client; the old one stops working at once. Returned
/// here and never again.
pub async fn regenerate_secret(
    db: &impl ConnectionTrait,
    app: &application::Model,
) -> Result<Option<String>> {
    if app.public_client {
        return Ok(None);
    }
    let (secret, hash) = clients::new_secret();
    application::Entity::update_many()
        .col_expr(
            application::Column::ClientSecretHash,
            Expr::value(Some(hash)),
        )
        .col_expr(
            application::Column::ClientSecretReveal,
            Expr::value(Option::<String>::None),
        )
        .col_expr(application::Column::UpdatedAt, Expr::value(clock::now()))
        .filter(application::Column::Id.eq(app.id))
        .exec(db)
        .await?;
    Ok(Some(secret))
}

/// Finds an application by id.
pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<application::Model>> {
    Ok(application::Entity::find_by_id(id).one(db).await?)
}

/// A page of applications, by name, optionally only those whose name equals `name`.
pub async fn list(
    db: &impl ConnectionTrait,
    reach: &crate::organizations::Reach,
    name: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<(u64, Vec<application::Model>)> {
    let mut query = application::Entity::find().order_by_asc(application::Column::Name);
    if let crate::organizations::Reach::Within(organizations) = reach {
        query =
            query.filter(application::Column::OrganizationId.is_in(organizations.iter().copied()));
    }
    if let Some(name) = name {
        query = query.filter(application::Column::Name.eq(name));
    }
    let total = query.clone().count(db).await?;
    let page = query.offset(offset).limit(limit).all(db).await?;
    Ok((total, page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_must_be_absolute_http_without_fragment() {
        assert!(is_redirect_uri("https://app.example/callback"));
        assert!(is_redirect_uri("http://127.0.0.1:8080/cb?x=1"));
        assert!(!is_redirect_uri("https://app.example/cb#frag"));
        assert!(!is_redirect_uri("javascript:alert(1)"));
        assert!(!is_redirect_uri("/relative"));
        assert!(!is_redirect_uri("https:///nohost"));
    }

    #[test]
    fn settings_name_every_problem_with_its_field() {
        let settings = Settings {
            public_client: true,
            grant_types: vec!["client_credentials".into(), "password".into()],
            ..Settings::default()
        };
        let fields: Vec<_> = settings.problems().into_iter().map(|(f, _)| f).collect();
        assert!(fields.contains(&"name"));
        assert!(fields.contains(&"grantTypes"));
    }
}
