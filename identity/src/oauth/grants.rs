//! Minting tokens for a grant, refresh token rotation with reuse detection, and the checks
//! and revocations that keep tokens honest after they are issued.

use super::Provider;
use super::claims::{AccessClaims, IdClaims, Profile, half_hash};
use super::token_type;
use crate::entities::{access_token, application, refresh_token, user};
use crate::impersonation::session::Running;
use crate::{Result, clock, tokens};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// Whether a grant gets a refresh token, and in which family.
#[derive(Clone, Copy, Debug)]
pub enum RefreshPlan {
    None,
    /// A new grant: a new family.
    NewFamily,
    /// A rotation inside an existing family.
    Family(Uuid),
}

/// What to mint.
pub struct Mint<'a> {
    pub app: &'a application::Model,
    /// `None` for client credentials: the application acts for itself.
    pub user: Option<&'a user::Model>,
    pub scopes: Vec<String>,
    /// The refresh token's scope when it differs from the access token's (a narrowed
    /// refresh keeps the original grant).
    pub grant_scopes: Option<Vec<String>>,
    pub auth_time: Option<i64>,
    pub nonce: Option<String>,
    pub idp_session_id: Option<Uuid>,
    pub code_id: Option<Uuid>,
    /// The impersonation session the grant belongs to: its impersonator goes in `act`, and
    /// no token outlives it.
    pub impersonation: Option<Running>,
    /// The organization the token is for (`None`: the user's, or the application's).
    pub organization_id: Option<Uuid>,
    pub id_token: bool,
    pub refresh: RefreshPlan,
}

/// The tokens of a successful grant.
#[derive(Debug)]
pub struct Minted {
    pub access_token: String,
    pub jti: String,
    pub expires_in: i64,
    pub scope: String,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
}

/// Signs the tokens of a grant and records them, in `db` (pass a transaction to make the
/// grant and its records one unit).
pub async fn mint(provider: &Provider, db: &impl ConnectionTrait, m: Mint<'_>) -> Result<Minted> {
    // The organization's name through `db` itself: a caller holding a transaction must not
    // wait for a second connection of the pool.
    let org_name = crate::organizations::find(db, m.organization())
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    store(db, sign(provider, m, org_name)?).await
}

/// A grant's tokens, signed, with the records that [`store`] writes.
pub struct Prepared {
    minted: Minted,
    /// `None` for a token an application gets for itself: it is issued without a record
    /// (`super::revocation_list`).
    access: Option<access_token::ActiveModel>,
    refresh: Option<refresh_token::ActiveModel>,
}

/// Records a prepared grant (pass the transaction it belongs to).
async fn store(db: &impl ConnectionTrait, prepared: Prepared) -> Result<Minted> {
    let mut batch = crate::store::db::Batch::new(db);
    let minted = store_in(&mut batch, prepared);
    batch.run(db).await?;
    Ok(minted)
}

/// [`store`] as part of a batch of writes.
pub fn store_in(batch: &mut crate::store::db::Batch, prepared: Prepared) -> Minted {
    if let Some(refresh) = prepared.refresh {
        batch.push(&refresh_token::Entity::insert(refresh));
    }
    if let Some(access) = prepared.access {
        batch.push(&access_token::Entity::insert(access));
    }
    prepared.minted
}

/// Signs the tokens of a grant without recording them (looking up only the organization's
/// name), so that the signing happens before a write transaction, not in it.
pub async fn prepare(
    provider: &Provider,
    reads: &crate::store::cache::Reads<'_>,
    m: Mint<'_>,
) -> Result<Prepared> {
    let org_name = crate::organizations::name_cached(reads, m.organization()).await?;
    sign(provider, m, org_name)
}

/// The token an application gets for itself (client credentials), for `scopes`: signed,
/// and issued without a write (`super::revocation_list`).
pub async fn for_application(
    provider: &Provider,
    reads: &crate::store::cache::Reads<'_>,
    app: &application::Model,
    scopes: Vec<String>,
) -> Result<Minted> {
    let prepared = prepare(
        provider,
        reads,
        Mint {
            app,
            user: None,
            scopes,
            grant_scopes: None,
            auth_time: None,
            nonce: None,
            idp_session_id: None,
            code_id: None,
            impersonation: None,
            organization_id: None,
            id_token: false,
            refresh: RefreshPlan::None,
        },
    )
    .await?;
    debug_assert!(prepared.access.is_none() && prepared.refresh.is_none());
    Ok(prepared.minted)
}

impl Mint<'_> {
    /// The organization the tokens are for.
    fn organization(&self) -> Uuid {
        self.organization_id
            .or(self.user.map(|u| u.organization_id))
            .unwrap_or(self.app.organization_id)
    }
}

/// Signs the tokens of a grant for the organization named `org_name`.
fn sign(provider: &Provider, m: Mint<'_>, org_name: String) -> Result<Prepared> {
    let now = clock::now();
    let org_id = m.organization();
    let scope = super::scope::join(&m.scopes);
    // Every token of an impersonation session expires with it at the latest, also for
    // those who check JWTs without asking us.
    let ends_by = |lifetime: i32| {
        let exp = now + i64::from(lifetime);
        m.impersonation.map_or(exp, |s| exp.min(s.expires_at))
    };
    let exp = ends_by(m.app.access_token_lifetime_secs);
    let act = m
        .impersonation
        .map(|s| crate::impersonation::claims::actor(s.impersonator_id));
    let impersonation_session_id = m.impersonation.map(|s| s.id);
    let impersonation_mode = m
        .impersonation
        .filter(|s| s.read_only)
        .map(|_| crate::impersonation::claims::READ_ONLY.to_owned());
    let jti = crate::store::db::new_record_id().to_string();
    let sub = match m.user {
        Some(user) => user.id.to_string(),
        None => m.app.client_id.clone(),
    };
    let claims = AccessClaims {
        iss: provider.issuer.clone(),
        sub: sub.clone(),
        aud: m.app.client_id.clone(),
        client_id: m.app.client_id.clone(),
        azp: m.app.client_id.clone(),
        scope: scope.clone(),
        iat: now,
        nbf: now,
        exp,
        jti: jti.clone(),
        auth_time: m.auth_time,
        aut: if m.user.is_some() {
            AccessClaims::USER
        } else {
            AccessClaims::APPLICATION
        }
        .to_owned(),
        org_id: org_id.to_string(),
        org_name,
        act: act.clone(),
        impersonation_session_id: impersonation_session_id.map(|s| s.to_string()),
        impersonation_mode: impersonation_mode.clone(),
    };
    let access_token =
        provider
            .keys
            .sign_with(m.app.access_token_alg(), token_type::ACCESS, &claims)?;

    let mut family_id = None;
    let mut refresh = None;
    let mut refresh_row = None;
    if let (Some(user), plan) = (m.user, m.refresh) {
        let family = match plan {
            RefreshPlan::None => None,
            RefreshPlan::NewFamily => Some(crate::store::db::new_record_id()),
            RefreshPlan::Family(f) => Some(f),
        };
        if let Some(family) = family {
            let value = tokens::random_token();
            let grant_scope = m.grant_scopes.as_ref().unwrap_or(&m.scopes);
            refresh_row = Some(refresh_token::ActiveModel {
                id: Set(crate::store::db::new_record_id()),
                token_hash: Set(tokens::hash_token(&value)),
                family_id: Set(family),
                application_id: Set(m.app.id),
                user_id: Set(user.id),
                idp_session_id: Set(m.idp_session_id),
                code_id: Set(m.code_id),
                scope: Set(super::scope::join(grant_scope)),
                auth_time: Set(m.auth_time.unwrap_or(now)),
                created_at: Set(now),
                expires_at: Set(ends_by(m.app.refresh_token_lifetime_secs)),
                used_at: Set(None),
                revoked_at: Set(None),
                impersonation_session_id: Set(impersonation_session_id),
            });
            family_id = Some(family);
            refresh = Some(value);
        }
    }

    let access_row = m.user.map(|user| access_token::ActiveModel {
        jti: Set(jti.clone()),
        application_id: Set(m.app.id),
        user_id: Set(Some(user.id)),
        idp_session_id: Set(m.idp_session_id),
        code_id: Set(m.code_id),
        family_id: Set(family_id),
        scope: Set(scope.clone()),
        created_at: Set(now),
        expires_at: Set(exp),
        revoked_at: Set(None),
        impersonation_session_id: Set(impersonation_session_id),
    });

    let id_token = match m.user {
        Some(user) if m.id_token => {
            let claims = IdClaims {
                iss: provider.issuer.clone(),
                sub,
                aud: m.app.client_id.clone(),
                azp: m.app.client_id.clone(),
                iat: now,
                exp: ends_by(m.app.id_token_lifetime_secs),
                auth_time: m.auth_time.unwrap_or(now),
                jti: crate::store::db::new_record_id().to_string(),
                nonce: m.nonce.clone(),
                at_hash: Some(half_hash(&access_token)),
                c_hash: None,
                // An impersonated sign-in is a session of its own at the application:
                // ending the impersonation signs out exactly it (back-channel logout).
                sid: impersonation_session_id
                    .or(m.idp_session_id)
                    .map(|s| s.to_string()),
                act,
                impersonation_mode,
                profile: Profile::of(user, &m.scopes),
            };
            Some(
                provider
                    .keys
                    .sign_with(m.app.id_token_alg(), token_type::ID, &claims)?,
            )
        }
        _ => None,
    };
    Ok(Prepared {
        minted: Minted {
            access_token,
            jti,
            expires_in: exp - now,
            scope,
            id_token,
            refresh_token: refresh,
        },
        access: access_row,
        refresh: refresh_row,
    })
}

/// Why a refresh token was refused (all `invalid_grant` on the wire, except `Scope`).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    #[error("the refresh token is unknown, expired or revoked")]
    Unknown,
    #[error("the refresh token was issued to another client")]
    OtherClient,
    #[error("the refresh token was already used; its whole family is revoked")]
    Reused,
    #[error("the user may no longer sign in")]
    UserInactive,
    #[error("the requested scope exceeds the original grant")]
    Scope,
    #[error("the sign-in this refresh token came from is older than refresh tokens may live")]
    FamilyExpired,
}

/// Rotates a refresh token: it is used once, and a reuse revokes its family. The family
/// ends `family_lifetime_secs` after the sign-in it came from, and each refresh carries
/// only what the user still holds and the application is still authorized for (a role
/// taken away is gone from the next refresh on, also from the refresh token).
///
/// The checks and the signing come first, without writing; then the presented token is
/// used up and the new ones recorded in the shared group commit
/// (`crate::store::group_commit`). Of simultaneous uses of one token exactly one succeeds,
/// and the others revoke the family.
pub async fn refresh(
    provider: &Provider,
    reads: &crate::store::cache::Reads<'_>,
    presented: &str,
    app: &application::Model,
    requested: Option<Vec<String>>,
    family_lifetime_secs: i64,
) -> Result<std::result::Result<Minted, RefreshError>> {
    let db = &provider.db;
    let Some(found) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(tokens::hash_token(presented)))
        .one(db)
        .await?
    else {
        return Ok(Err(RefreshError::Unknown));
    };
    if found.application_id != app.id {
        return Ok(Err(RefreshError::OtherClient));
    }
    if found.revoked_at.is_some() {
        return Ok(Err(RefreshError::Unknown));
    }
    if found.used_at.is_some() {
        revoke_family_now(db, found.family_id).await?;
        return Ok(Err(RefreshError::Reused));
    }
    let now = clock::now();
    if found.expires_at <= now {
        return Ok(Err(RefreshError::Unknown));
    }
    if found.auth_time.saturating_add(family_lifetime_secs) <= now {
        revoke_family_now(db, found.family_id).await?;
        return Ok(Err(RefreshError::FamilyExpired));
    }
    let mut granted = super::scope::parse(&found.scope);
    let scopes = match requested {
        Some(requested) if requested.iter().any(|s| !granted.contains(s)) => {
            return Ok(Err(RefreshError::Scope));
        }
        Some(requested) => requested,
        None => granted.clone(),
    };
    let user = crate::users::cached(reads, found.user_id).await?;
    let Some(user) = user.filter(|u| u.status == user::UserStatus::Active) else {
        return Ok(Err(RefreshError::UserInactive));
    };
    // An impersonated grant follows its impersonation session instead.
    let mut scopes = scopes;
    if found.impersonation_session_id.is_none() {
        let mut still = Vec::with_capacity(granted.len());
        for scope in &granted {
            if super::scope::grantable_cached(reads, user.id, app, scope).await? {
                still.push(scope.clone());
            }
        }
        granted.retain(|s| still.contains(s));
        scopes.retain(|s| still.contains(s));
    }
    // An impersonated grant lives only as long as its impersonation session, and `act`
    // survives the refresh.
    let impersonation = match found.impersonation_session_id {
        Some(session_id) => match crate::impersonation::session::live(db, session_id).await? {
            Some(session) => Some(Running::from(&session)),
            None => {
                revoke_family_now(db, found.family_id).await?;
                return Ok(Err(RefreshError::Unknown));
            }
        },
        None => None,
    };
    let prepared = prepare(
        provider,
        reads,
        Mint {
            app,
            user: Some(&user),
            id_token: scopes.iter().any(|s| s == "openid"),
            scopes,
            grant_scopes: Some(granted),
            auth_time: Some(found.auth_time),
            nonce: None,
            idp_session_id: found.idp_session_id,
            code_id: found.code_id,
            impersonation,
            organization_id: None,
            refresh: RefreshPlan::Family(found.family_id),
        },
    )
    .await?;
    let mut writes = crate::store::db::Batch::new(db);
    writes.only_if(
        &Query::update()
            .table(refresh_token::Entity)
            .value(refresh_token::Column::UsedAt, now)
            .and_where(refresh_token::Column::Id.eq(found.id))
            .and_where(refresh_token::Column::UsedAt.is_null())
            .and_where(refresh_token::Column::RevokedAt.is_null())
            .returning_col(refresh_token::Column::Id)
            .to_owned(),
    );
    let minted = store_in(&mut writes, prepared);
    let single_use = crate::store::group_commit::Token {
        jti: found.id.to_string(),
        kind: "refresh_token",
        expires_at: found.expires_at,
    };
    match provider.single_use.use_up(single_use, writes).await? {
        crate::store::group_commit::Outcome::Written => Ok(Ok(minted)),
        // Revoked meanwhile (its family, its impersonation session, its user): not a
        // reuse, and nothing left to revoke.
        crate::store::group_commit::Outcome::Unmet
            if refresh_token::Entity::find_by_id(found.id)
                .one(db)
                .await?
                .is_none_or(|t| t.revoked_at.is_some()) =>
        {
            Ok(Err(RefreshError::Unknown))
        }
        // Used by another request first: a reuse.
        _ => {
            revoke_family_now(db, found.family_id).await?;
            Ok(Err(RefreshError::Reused))
        }
    }
}

/// [`revoke_family`] in a transaction of its own.
async fn revoke_family_now(db: &sea_orm::DatabaseConnection, family_id: Uuid) -> Result<()> {
    let txn = crate::store::db::begin_write(db).await?;
    revoke_family(&txn, family_id).await?;
    txn.commit().await?;
    Ok(())
}

/// Revokes every refresh token of a family and the access tokens minted in it.
pub async fn revoke_family(db: &impl ConnectionTrait, family_id: Uuid) -> Result<()> {
    revoke_family_counted(db, family_id).await.map(|_| ())
}

/// [`revoke_family`], returning how many refresh tokens it revoked (none: it was revoked).
async fn revoke_family_counted(db: &impl ConnectionTrait, family_id: Uuid) -> Result<u64> {
    let now = clock::now();
    let revoked = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    access_token::Entity::update_many()
        .col_expr(access_token::Column::RevokedAt, Expr::value(now))
        .filter(access_token::Column::FamilyId.eq(family_id))
        .filter(access_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(revoked.rows_affected)
}

/// A verified access token that is live, with the user it was issued to, if any.
pub struct LiveAccess {
    pub claims: AccessClaims,
    pub user: Option<user::Model>,
    /// The sign-in the token's grant came from, if any.
    pub idp_session_id: Option<Uuid>,
    /// The impersonation session the token belongs to, if any.
    pub impersonation_session_id: Option<Uuid>,
}

/// Verifies a JWT access token and checks that it is still live: not revoked, not expired,
/// and its user (if any) still active, or its application (client credentials) still
/// enabled and allowed the grant. `None` when any of that fails.
pub async fn live_access(provider: &Provider, token: &str) -> Result<Option<LiveAccess>> {
    let Ok(claims) = provider
        .keys
        .verify::<AccessClaims>(token, token_type::ACCESS, &provider.issuer, None)
        .await
    else {
        return Ok(None);
    };
    if claims.exp <= clock::now() {
        return Ok(None);
    }
    let reads = provider.reads().await?;
    if claims.is_application() {
        if super::revocation_list::contains(provider, &claims.jti).await? {
            return Ok(None);
        }
        let granted = super::clients::cached(&reads, &claims.client_id)
            .await?
            .is_some_and(|app| {
                super::clients::allows_grant(&app, super::grant_type::CLIENT_CREDENTIALS)
            });
        return Ok(granted.then_some(LiveAccess {
            claims,
            user: None,
            idp_session_id: None,
            impersonation_session_id: None,
        }));
    }
    let Some(record) = access_token::Entity::find_by_id(claims.jti.clone())
        .one(&provider.db)
        .await?
    else {
        return Ok(None);
    };
    if record.revoked_at.is_some() || record.expires_at <= clock::now() {
        return Ok(None);
    }
    // An impersonated token dies with its session, also when the session merely expired.
    if let Some(session) = record.impersonation_session_id
        && crate::impersonation::session::live(&provider.db, session)
            .await?
            .is_none()
    {
        return Ok(None);
    }
    let Some(user_id) = record.user_id else {
        return Ok(None);
    };
    let user = match crate::users::cached(&reads, user_id).await? {
        Some(u) if u.status == user::UserStatus::Active => u,
        _ => return Ok(None),
    };
    Ok(Some(LiveAccess {
        claims,
        user: Some(user),
        idp_session_id: record.idp_session_id,
        impersonation_session_id: record.impersonation_session_id,
    }))
}

/// A refresh token that is live, for introspection.
pub async fn live_refresh(
    db: &impl ConnectionTrait,
    token: &str,
) -> Result<Option<(refresh_token::Model, user::Model)>> {
    let Some(found) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(tokens::hash_token(token)))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if found.revoked_at.is_some() || found.used_at.is_some() || found.expires_at <= clock::now() {
        return Ok(None);
    }
    match user::Entity::find_by_id(found.user_id).one(db).await? {
        Some(user) if user.status == user::UserStatus::Active => Ok(Some((found, user))),
        _ => Ok(None),
    }
}

/// What a revocation request found (RFC 7009).
#[derive(Debug, PartialEq, Eq)]
pub enum Revoked {
    /// Revoked now, or already dead, or never ours: the answer is 200 either way.
    Done,
    /// The token is live but belongs to another client.
    OtherClient,
}

/// Revokes an access token (by its JWT) or a refresh token (with its family).
pub async fn revoke(provider: &Provider, token: &str, app: &application::Model) -> Result<Revoked> {
    let db = &provider.db;
    if let Some((found, user)) = live_refresh(db, token).await? {
        if found.application_id != app.id {
            return Ok(Revoked::OtherClient);
        }
        let txn = crate::store::db::begin_write(db).await?;
        if revoke_family_counted(&txn, found.family_id).await? > 0 {
            publish_token_revoked(&txn, &user, found.idp_session_id, app).await?;
        }
        txn.commit().await?;
        return Ok(Revoked::Done);
    }
    if let Ok(claims) = provider
        .keys
        .verify::<AccessClaims>(token, token_type::ACCESS, &provider.issuer, None)
        .await
    {
        if claims.client_id != app.client_id {
            return Ok(Revoked::OtherClient);
        }
        if claims.is_application() {
            super::revocation_list::add(db, &claims, app).await?;
            return Ok(Revoked::Done);
        }
        let txn = crate::store::db::begin_write(db).await?;
        let record = access_token::Entity::find_by_id(claims.jti.clone())
            .one(&txn)
            .await?;
        let revoked = access_token::Entity::update_many()
            .col_expr(access_token::Column::RevokedAt, Expr::value(clock::now()))
            .filter(access_token::Column::Jti.eq(claims.jti))
            .filter(access_token::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        if revoked.rows_affected == 1
            && let Some(record) = record
            && let Some(user_id) = record.user_id
            && let Some(user) = crate::users::find(&txn, user_id).await?
        {
            publish_token_revoked(&txn, &user, record.idp_session_id, app).await?;
        }
        txn.commit().await?;
    }
    Ok(Revoked::Done)
}

/// Tells receivers outside that a user's token was revoked at `/oauth2/revoke`
/// (`session.revoked`, cause `token-revoked`).
async fn publish_token_revoked(
    db: &impl ConnectionTrait,
    user: &user::Model,
    sign_in: Option<Uuid>,
    app: &application::Model,
) -> Result<()> {
    let mut event = crate::events::about_user(crate::events::kind::SESSION_REVOKED, user);
    event.data["cause"] = serde_json::json!(crate::events::cause::TOKEN_REVOKED);
    event.data["clientId"] = serde_json::json!(app.client_id);
    if let Some(sign_in) = sign_in {
        event.data["signInId"] = serde_json::json!(sign_in);
    }
    crate::events::publish(db, event).await
}

/// An ID token for `user` alone (no access token beside it): the impersonator's ID token
/// of a subject token response, later the actor token of the exchange.
pub fn id_token(
    provider: &Provider,
    app: &application::Model,
    user: &user::Model,
    scopes: &[String],
    auth_time: i64,
    nonce: Option<String>,
    sid: Option<Uuid>,
) -> Result<String> {
    let now = clock::now();
    let claims = IdClaims {
        iss: provider.issuer.clone(),
        sub: user.id.to_string(),
        aud: app.client_id.clone(),
        azp: app.client_id.clone(),
        iat: now,
        exp: now + i64::from(app.id_token_lifetime_secs),
        auth_time,
        jti: crate::store::db::new_record_id().to_string(),
        nonce,
        at_hash: None,
        c_hash: None,
        sid: sid.map(|s| s.to_string()),
        act: None,
        impersonation_mode: None,
        profile: Profile::of(user, scopes),
    };
    provider
        .keys
        .sign_with(app.id_token_alg(), token_type::ID, &claims)
}

/// The impersonation session an access token (by `jti`) belongs to, if any.
pub async fn impersonation_session_of(
    db: &impl ConnectionTrait,
    jti: &str,
) -> Result<Option<Uuid>> {
    Ok(access_token::Entity::find_by_id(jti.to_owned())
        .one(db)
        .await?
        .and_then(|t| t.impersonation_session_id))
}
