//! Impersonation sessions: started by the token exchange, ended by the impersonator
//! (Stop), an administrator (End), or their hard limit; ending one revokes every code,
//! access token and refresh token derived from it in one transaction.

use crate::entities::{
    access_token, authorization_code, idp_session, impersonation_session, refresh_token,
};
use crate::{Result, audit, clock};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr};
use uuid::Uuid;

/// The session if it is still running (not ended, not past its hard limit).
pub async fn live_session(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<impersonation_session::Model>> {
    Ok(impersonation_session::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|s| s.ended_at.is_none() && s.expires_at > clock::now()))
}

/// How a session ended (kept on the session and in its audit record).
pub mod end_reason {
    pub const STOPPED: &str = "stopped by the impersonator";
    pub const ENDED_BY_ADMINISTRATOR: &str = "ended by an administrator";
    pub const EXPIRED: &str = "expired";
}

/// Ends a session, revokes everything derived from it and records who ended it and why,
/// all on `db` (pass a transaction). `ended_by` is `None` for the expiry sweep. Returns
/// `false` when it had already ended (ending twice changes nothing).
pub async fn end(
    db: &impl ConnectionTrait,
    session: &impersonation_session::Model,
    ended_by: Option<Uuid>,
    reason: &str,
) -> Result<bool> {
    let now = clock::now();
    let ended = impersonation_session::Entity::update_many()
        .col_expr(impersonation_session::Column::EndedAt, Expr::value(now))
        .col_expr(
            impersonation_session::Column::EndedBy,
            Expr::value(ended_by),
        )
        .col_expr(
            impersonation_session::Column::EndReason,
            Expr::value(reason.to_owned()),
        )
        .filter(impersonation_session::Column::Id.eq(session.id))
        .filter(impersonation_session::Column::EndedAt.is_null())
        .exec(db)
        .await?;
    revoke_derived(db, session.id, now).await?;
    if ended.rows_affected != 1 {
        return Ok(false);
    }
    audit::record(
        db,
        audit::Event {
            action: audit::action::IMPERSONATION_ENDED,
            success: true,
            actor_id: ended_by.map(|u| u.to_string()),
            impersonator_id: Some(session.impersonator_id.to_string()),
            target_id: Some(session.target_id.to_string()),
            impersonation_session_id: Some(session.id),
            reason: reason.to_owned(),
            ..audit::Event::default()
        },
    )
    .await?;
    Ok(true)
}

/// [`end`] in a transaction of its own.
pub async fn end_now(
    db: &sea_orm::DatabaseConnection,
    session: &impersonation_session::Model,
    ended_by: Option<Uuid>,
    reason: &str,
) -> Result<bool> {
    let txn = crate::db::begin_write(db).await?;
    let ended = end(&txn, session, ended_by, reason).await?;
    txn.commit().await?;
    Ok(ended)
}

/// Revokes the codes, access tokens and refresh tokens of a session, and takes the
/// impersonation off any IdP session that carried it.
pub async fn revoke_derived(db: &impl ConnectionTrait, id: Uuid, now: i64) -> Result<()> {
    access_token::Entity::update_many()
        .col_expr(access_token::Column::RevokedAt, Expr::value(now))
        .filter(access_token::Column::ImpersonationSessionId.eq(id))
        .filter(access_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::ImpersonationSessionId.eq(id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    authorization_code::Entity::update_many()
        .col_expr(authorization_code::Column::ConsumedAt, Expr::value(now))
        .filter(authorization_code::Column::ImpersonationSessionId.eq(id))
        .filter(authorization_code::Column::ConsumedAt.is_null())
        .exec(db)
        .await?;
    idp_session::Entity::update_many()
        .col_expr(
            idp_session::Column::ImpersonationSessionId,
            Expr::value(Option::<Uuid>::None),
        )
        .filter(idp_session::Column::ImpersonationSessionId.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Ends every session past its hard limit (the expiry sweep), each in its own
/// transaction. Returns how many ended.
pub async fn expire_due(db: &sea_orm::DatabaseConnection) -> Result<u64> {
    let now = clock::now();
    let due = impersonation_session::Entity::find()
        .filter(impersonation_session::Column::EndedAt.is_null())
        .filter(impersonation_session::Column::ExpiresAt.lte(now))
        .all(db)
        .await?;
    let mut ended = 0;
    for session in due {
        if end_now(db, &session, None, end_reason::EXPIRED).await? {
            ended += 1;
        }
    }
    Ok(ended)
}

/// Why an impersonation is refused (SPEC §2.1 checks 2 to 5). The text is for the audit
/// log; the client gets a generic description.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("the impersonator lacks internal_user_impersonate for this application")]
    NoPermission,
    #[error("the requested user does not exist")]
    UnknownTarget,
    #[error("the requested user is not active")]
    InactiveTarget,
    #[error("an impersonator cannot impersonate themselves")]
    SelfImpersonation,
    #[error("the requested user belongs to another organization")]
    OtherOrganization,
    #[error("the requested user holds privileges the impersonator lacks")]
    MorePrivileged,
    #[error("the session is itself impersonated (no chaining)")]
    Chaining,
    #[error("the session already impersonates another user")]
    AlreadyImpersonating,
}

/// Every scope a user holds through any role, whatever its audience.
async fn all_scopes(db: &impl ConnectionTrait, user_id: Uuid) -> Result<Vec<String>> {
    use crate::entities::role_scope;
    use sea_orm::QuerySelect;
    let role_ids = crate::roles::ids_of_user(db, user_id).await?;
    Ok(role_scope::Entity::find()
        .select_only()
        .column(role_scope::Column::Scope)
        .filter(role_scope::Column::RoleId.is_in(role_ids))
        .into_tuple()
        .all(db)
        .await?)
}

/// Checks 2 to 4 of SPEC §2.1: the impersonator's permission for this application, and
/// the target: exists, active, not the impersonator, same organization, not more
/// privileged. Returns the target.
pub async fn check_pair(
    db: &impl ConnectionTrait,
    app: &crate::entities::application::Model,
    impersonator: &crate::entities::user::Model,
    target_id: &str,
) -> Result<std::result::Result<crate::entities::user::Model, Denied>> {
    use crate::entities::user::UserStatus;
    let held = crate::oauth::scope::user_scopes(db, impersonator.id, app).await?;
    let authorized = crate::api_resources::authorized_scopes(db, app.id).await?;
    let permission = crate::scopes::USER_IMPERSONATE.to_owned();
    if !held.contains(&permission) || !authorized.contains(&permission) {
        return Ok(Err(Denied::NoPermission));
    }
    let Some(target) = (match Uuid::parse_str(target_id) {
        Ok(id) => crate::users::find(db, id).await?,
        Err(_) => None,
    }) else {
        return Ok(Err(Denied::UnknownTarget));
    };
    if target.id == impersonator.id {
        return Ok(Err(Denied::SelfImpersonation));
    }
    if target.status != UserStatus::Active {
        return Ok(Err(Denied::InactiveTarget));
    }
    if target.organization_id != impersonator.organization_id {
        return Ok(Err(Denied::OtherOrganization));
    }
    let mine = all_scopes(db, impersonator.id).await?;
    if all_scopes(db, target.id)
        .await?
        .iter()
        .any(|s| !mine.contains(s))
    {
        return Ok(Err(Denied::MorePrivileged));
    }
    Ok(Ok(target))
}

/// Whether the Console offers Impersonate User to `impersonator` on `target`'s page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Availability {
    /// One's own page: no button.
    Hidden,
    /// The button, disabled, with the one-line reason.
    Disabled(&'static str),
    /// The button works.
    Ready,
}

/// The Console's answer for the Impersonate User button: the checks of the subject token
/// request (SPEC §2.1), run now against My Account (where impersonation lands) for the
/// impersonator signed in to `console`.
pub async fn availability(
    db: &impl ConnectionTrait,
    console: &crate::sessions::Current,
    target: &crate::entities::user::Model,
) -> Result<Availability> {
    let impersonator = &console.user;
    if impersonator.id == target.id {
        return Ok(Availability::Hidden);
    }
    if check_session(db, &console.session).await?.is_err() {
        return Ok(Availability::Disabled(
            "Stop your current impersonation first.",
        ));
    }
    let Some(my_account) =
        crate::oauth::clients::find(db, crate::scopes::MY_ACCOUNT_CLIENT_ID).await?
    else {
        return Ok(Availability::Disabled(
            "My Account is disabled, so there is nowhere to impersonate into.",
        ));
    };
    Ok(
        match check_pair(db, &my_account, impersonator, &target.id.to_string()).await? {
            Ok(_) => Availability::Ready,
            Err(Denied::NoPermission) => {
                Availability::Disabled("You need the Impersonator role to impersonate users.")
            }
            Err(Denied::InactiveTarget) => {
                Availability::Disabled("This user is locked or disabled.")
            }
            Err(Denied::MorePrivileged) => {
                Availability::Disabled("This user holds privileges that you do not have.")
            }
            Err(Denied::OtherOrganization) => {
                Availability::Disabled("This user belongs to another organization.")
            }
            Err(Denied::UnknownTarget | Denied::SelfImpersonation) => Availability::Hidden,
            Err(Denied::Chaining | Denied::AlreadyImpersonating) => {
                Availability::Disabled("Stop your current impersonation first.")
            }
        },
    )
}

/// Check 5 of SPEC §2.1: the IdP session is not impersonated itself and does not already
/// run an impersonation.
pub async fn check_session(
    db: &impl ConnectionTrait,
    session: &crate::entities::idp_session::Model,
) -> Result<std::result::Result<(), Denied>> {
    if let Some(id) = session.impersonation_session_id
        && live_session(db, id).await?.is_some()
    {
        return Ok(Err(Denied::Chaining));
    }
    let running = impersonation_session::Entity::find()
        .filter(impersonation_session::Column::IdpSessionId.eq(session.id))
        .filter(impersonation_session::Column::EndedAt.is_null())
        .filter(impersonation_session::Column::ExpiresAt.gt(clock::now()))
        .one(db)
        .await?;
    if running.is_some() {
        return Ok(Err(Denied::AlreadyImpersonating));
    }
    Ok(Ok(()))
}

/// Claims of a subject token (SPEC §2.1): the target as `sub`, the impersonator in
/// `may_act`, and what the exchange needs to bind itself to this request.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SubjectClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub azp: String,
    pub client_id: String,
    #[serde(default)]
    pub scope: String,
    pub may_act: crate::oauth::claims::Actor,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    /// The impersonator's IdP session.
    pub sid: String,
    /// The impersonator's reason.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// PKCE challenge of the authorization request, checked at the exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
}

/// Starts a session and attaches it to the impersonator's IdP session (so that later
/// sign-ins of this browser in enabled applications are as the target).
pub fn start_in(batch: &mut crate::db::Batch, new: NewSession<'_>) -> impersonation_session::Model {
    let NewSession {
        id,
        impersonator,
        target,
        application_id,
        idp_session_id,
        reason,
        max_minutes,
    } = new;
    let now = clock::now();
    let session = impersonation_session::Model {
        id,
        organization_id: target.organization_id,
        impersonator_id: impersonator.id,
        target_id: target.id,
        application_id,
        idp_session_id,
        reason: reason.to_owned(),
        started_at: now,
        expires_at: now + max_minutes * 60,
        ended_at: None,
        ended_by: None,
        end_reason: None,
    };
    batch.push(&impersonation_session::Entity::insert(
        impersonation_session::ActiveModel::from(session.clone()),
    ));
    if let Some(idp) = idp_session_id {
        batch.push(
            &idp_session::Entity::update_many()
                .col_expr(
                    idp_session::Column::ImpersonationSessionId,
                    Expr::value(Some(session.id)),
                )
                .filter(idp_session::Column::Id.eq(idp)),
        );
    }
    session
}

/// What an impersonation session starts with.
pub struct NewSession<'a> {
    /// Chosen by the caller, so that tokens can name the session before it is stored.
    pub id: Uuid,
    pub impersonator: &'a crate::entities::user::Model,
    pub target: &'a crate::entities::user::Model,
    pub application_id: Uuid,
    /// The impersonator's IdP session, which will carry the impersonation (SPEC §2.3).
    pub idp_session_id: Option<Uuid>,
    pub reason: &'a str,
    /// The hard limit.
    pub max_minutes: i64,
}

/// Filters of the session list.
#[derive(Clone, Debug, Default)]
pub struct SessionQuery {
    pub impersonator: Option<Uuid>,
    pub target: Option<Uuid>,
    /// `Some(true)`: running only; `Some(false)`: ended only.
    pub active: Option<bool>,
    /// Only sessions of organizations the caller's rights reach (`None`: no limit).
    pub within: Option<crate::organizations::Reach>,
}

/// A page of sessions, newest first, and the total.
pub async fn list(
    db: &impl ConnectionTrait,
    q: &SessionQuery,
    offset: u64,
    limit: u64,
) -> Result<(u64, Vec<impersonation_session::Model>)> {
    use sea_orm::{Condition, PaginatorTrait, QueryOrder, QuerySelect};
    let now = clock::now();
    let mut query = impersonation_session::Entity::find()
        .order_by_desc(impersonation_session::Column::StartedAt);
    if let Some(id) = q.impersonator {
        query = query.filter(impersonation_session::Column::ImpersonatorId.eq(id));
    }
    if let Some(id) = q.target {
        query = query.filter(impersonation_session::Column::TargetId.eq(id));
    }
    if let Some(crate::organizations::Reach::Within(organizations)) = &q.within {
        query = query.filter(
            impersonation_session::Column::OrganizationId.is_in(organizations.iter().copied()),
        );
    }
    match q.active {
        Some(true) => {
            query = query
                .filter(impersonation_session::Column::EndedAt.is_null())
                .filter(impersonation_session::Column::ExpiresAt.gt(now));
        }
        Some(false) => {
            query = query.filter(
                Condition::any()
                    .add(impersonation_session::Column::EndedAt.is_not_null())
                    .add(impersonation_session::Column::ExpiresAt.lte(now)),
            );
        }
        None => {}
    }
    let total = query.clone().count(db).await?;
    Ok((total, query.offset(offset).limit(limit).all(db).await?))
}

/// A session by id.
pub async fn find(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<impersonation_session::Model>> {
    Ok(impersonation_session::Entity::find_by_id(id)
        .one(db)
        .await?)
}
