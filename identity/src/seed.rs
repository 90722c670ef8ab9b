//! What exists from the first start: the root organization, the Console and My Account
//! applications, the built-in Administrator and Impersonator roles, and the bootstrap
//! administrator `admin`. Idempotent: a second start changes nothing, except that the
//! system applications' redirect URIs follow the configured public URL.

use crate::entities::{
    StringList, application,
    organization::{self},
    role::{self, AudienceType},
    role_scope, role_user,
};
use crate::{Result, clock, scopes, users};
use rand::distr::{Alphanumeric, SampleString};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, IntoActiveModel, QueryFilter,
};
use std::collections::BTreeSet;
use uuid::Uuid;

/// Username of the bootstrap administrator.
pub const ADMIN_USERNAME: &str = "admin";
/// Name of the root organization.
pub const ROOT_ORGANIZATION: &str = "Root";

/// Inputs of the seed that come from configuration.
pub struct SeedInput<'a> {
    /// External base URL, without a trailing slash.
    pub public_url: &'a str,
    /// Password for `admin` when it is created; generated when `None`.
    pub admin_password: Option<&'a str>,
}

/// What the seed did that the operator must know about.
#[derive(Debug, Default)]
pub struct SeedReport {
    /// Set when `admin` was created with a generated password: print it once.
    pub generated_admin_password: Option<String>,
    /// Whether `admin` was created by this run.
    pub created_admin: bool,
}

/// Creates whatever of the initial data is missing, in one transaction.
pub async fn seed(db: &DatabaseConnection, input: SeedInput<'_>) -> Result<SeedReport> {
    let txn = crate::store::db::begin_write(db).await?;
    let root = ensure_root_organization(&txn).await?;
    let console = ensure_system_application(
        &txn,
        root.id,
        SystemApp {
            client_id: scopes::CONSOLE_CLIENT_ID,
            name: "Console",
            description: "Administration of users, applications, roles and settings.",
            path: "/console",
            grant_types: &["authorization_code", "refresh_token"],
            subject_token: false,
        },
        input.public_url,
    )
    .await?;
    let my_account = ensure_system_application(
        &txn,
        root.id,
        SystemApp {
            client_id: scopes::MY_ACCOUNT_CLIENT_ID,
            name: "My Account",
            description: "Every user's own portal: applications, profile, access history.",
            path: "/myaccount",
            grant_types: &[
                "authorization_code",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ],
            subject_token: true,
        },
        input.public_url,
    )
    .await?;
    // The system applications are authorized for what they are for, from the start.
    let (impersonation_api, management_api) = crate::api_resources::ensure_system(&txn).await?;
    for (app, resource) in [
        (&console, &management_api),
        (&my_account, &impersonation_api),
    ] {
        let granted = crate::api_resources::authorized_scopes(&txn, app.id).await?;
        let resource = crate::api_resources::find(&txn, resource.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("system API resource vanished"))?;
        let all: Vec<String> = resource.scopes.iter().map(|s| s.name.clone()).collect();
        if all.iter().any(|s| !granted.contains(s)) {
            crate::api_resources::authorize(
                &txn,
                &crate::delegation::Authority::operator(),
                app,
                &resource,
                &all,
            )
            .await?
            .map_err(|e| anyhow::anyhow!("authorizing a system application: {e}"))?;
        }
    }
    let administrator = ensure_role(
        &txn,
        root.id,
        scopes::ADMINISTRATOR_ROLE,
        (AudienceType::Organization, root.id),
        scopes::MANAGEMENT,
    )
    .await?;
    ensure_role(
        &txn,
        root.id,
        scopes::IMPERSONATOR_ROLE,
        (AudienceType::Application, my_account.id),
        &[scopes::USER_IMPERSONATE],
    )
    .await?;

    let mut report = SeedReport::default();
    if users::find_by_username(&txn, ADMIN_USERNAME)
        .await?
        .is_none()
    {
        let password = match input.admin_password {
            Some(given) => given.to_owned(),
            None => {
                let generated = Alphanumeric.sample_string(&mut rand::rng(), 20);
                report.generated_admin_password = Some(generated.clone());
                generated
            }
        };
        let admin = users::create(
            &txn,
            users::NewUser {
                organization_id: root.id,
                username: ADMIN_USERNAME,
                email: "admin@localhost",
                given_name: "Administrator",
                family_name: "",
                password: &password,
            },
        )
        .await?;
        role_user::ActiveModel {
            role_id: Set(administrator.id),
            user_id: Set(admin.id),
        }
        .insert(&txn)
        .await?;
        report.created_admin = true;
    }
    txn.commit().await?;
    Ok(report)
}

async fn ensure_root_organization(db: &impl ConnectionTrait) -> Result<organization::Model> {
    if let Some(root) = organization::Entity::find()
        .filter(organization::Column::ParentId.is_null())
        .one(db)
        .await?
    {
        return Ok(root);
    }
    Ok(organization::ActiveModel {
        id: Set(Uuid::new_v4()),
        parent_id: Set(None),
        name: Set(ROOT_ORGANIZATION.to_owned()),
        created_at: Set(clock::now()),
    }
    .insert(db)
    .await?)
}

struct SystemApp {
    client_id: &'static str,
    name: &'static str,
    description: &'static str,
    /// Where the application lives on this server; its callback is `<path>/callback`.
    path: &'static str,
    grant_types: &'static [&'static str],
    subject_token: bool,
}

async fn ensure_system_application(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    app: SystemApp,
    public_url: &str,
) -> Result<application::Model> {
    let redirect_uris = StringList(vec![format!("{public_url}{}/callback", app.path)]);
    let logout_uris = StringList(vec![format!("{public_url}{}", app.path)]);
    let access_url = format!("{public_url}{}", app.path);
    if let Some(existing) = application::Entity::find()
        .filter(application::Column::ClientId.eq(app.client_id))
        .one(db)
        .await?
    {
        if existing.redirect_uris == redirect_uris
            && existing.post_logout_redirect_uris == logout_uris
            && existing.access_url.as_deref() == Some(access_url.as_str())
        {
            return Ok(existing);
        }
        let mut changed = existing.into_active_model();
        changed.redirect_uris = Set(redirect_uris);
        changed.post_logout_redirect_uris = Set(logout_uris);
        changed.access_url = Set(Some(access_url));
        changed.updated_at = Set(clock::now());
        return Ok(changed.update(db).await?);
    }
    let now = clock::now();
    Ok(application::ActiveModel {
        id: Set(Uuid::new_v4()),
        organization_id: Set(organization_id),
        name: Set(app.name.to_owned()),
        description: Set(app.description.to_owned()),
        client_id: Set(app.client_id.to_owned()),
        client_secret_hash: Set(None),
        public_client: Set(true),
        system: Set(true),
        enabled: Set(true),
        redirect_uris: Set(redirect_uris),
        post_logout_redirect_uris: Set(logout_uris),
        grant_types: Set(StringList(
            app.grant_types.iter().map(|g| (*g).to_owned()).collect(),
        )),
        discoverable: Set(false),
        access_url: Set(Some(access_url)),
        subject_token_enabled: Set(app.subject_token),
        subject_token_expiry_secs: Set(180),
        skip_login_consent: Set(true),
        skip_logout_consent: Set(true),
        access_token_lifetime_secs: Set(3600),
        id_token_lifetime_secs: Set(3600),
        refresh_token_lifetime_secs: Set(86400),
        refresh_for_impersonation: Set(false),
        client_secret_reveal: Set(None),
        // My Account is where an impersonation happens: it signs in as the target.
        impersonation_enabled: Set(app.subject_token),
        read_only_scopes: Set(StringList::default()),
        backchannel_logout_uri: Set(None),
        backchannel_logout_session_required: Set(false),
        id_token_signed_response_alg: Set(crate::keys::SigningAlg::DEFAULT.as_str().to_owned()),
        access_token_signed_response_alg: Set(crate::keys::SigningAlg::DEFAULT.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// Creates a built-in role if missing, and gives it any of `scopes` it lacks (a newer
/// version may add management scopes).
async fn ensure_role(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    name: &str,
    (audience_type, audience_id): (AudienceType, Uuid),
    scopes: &[&str],
) -> Result<role::Model> {
    let role = match role::Entity::find()
        .filter(role::Column::AudienceType.eq(audience_type))
        .filter(role::Column::AudienceId.eq(audience_id))
        .filter(role::Column::Name.eq(name))
        .one(db)
        .await?
    {
        Some(role) => role,
        None => {
            role::ActiveModel {
                id: Set(Uuid::new_v4()),
                organization_id: Set(organization_id),
                name: Set(name.to_owned()),
                audience_type: Set(audience_type),
                audience_id: Set(audience_id),
                builtin: Set(true),
                created_at: Set(clock::now()),
            }
            .insert(db)
            .await?
        }
    };
    let held: BTreeSet<String> = role_scope::Entity::find()
        .filter(role_scope::Column::RoleId.eq(role.id))
        .all(db)
        .await?
        .into_iter()
        .map(|s| s.scope)
        .collect();
    for scope in scopes.iter().filter(|s| !held.contains(**s)) {
        role_scope::ActiveModel {
            role_id: Set(role.id),
            scope: Set((*scope).to_owned()),
        }
        .insert(db)
        .await?;
    }
    Ok(role)
}

/// The id of the root organization.
pub async fn root_organization_id(db: &impl ConnectionTrait) -> Result<Uuid> {
    organization::Entity::find()
        .filter(organization::Column::ParentId.is_null())
        .one(db)
        .await?
        .map(|o| o.id)
        .ok_or_else(|| anyhow::anyhow!("there is no root organization").into())
}
