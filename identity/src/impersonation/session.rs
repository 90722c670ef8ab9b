//! Impersonation sessions: started by the token exchange ([`start_in`]), ended by the
//! impersonator (Stop), an administrator (End), or their hard limit ([`end_due`]);
//! ending one revokes every code, access token and refresh token derived from it in one
//! transaction ([`revoke_derived`]). No token of a session outlives it ([`Running`]).

use crate::entities::{
    access_token, application, authorization_code, idp_session, impersonation_session,
    refresh_token,
};
use crate::{Result, audit, clock};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// What a grant inside a running session needs to know of it: who really acts (`act`),
/// which session it is, and when it ends at the latest (no token lives longer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Running {
    pub id: Uuid,
    pub impersonator_id: Uuid,
    pub expires_at: i64,
    pub read_only: bool,
}

impl From<&impersonation_session::Model> for Running {
    fn from(session: &impersonation_session::Model) -> Self {
        Self {
            id: session.id,
            impersonator_id: session.impersonator_id,
            expires_at: session.expires_at,
            read_only: session.read_only,
        }
    }
}

/// What a session of this `read_only`-ness may be granted by `app` of `scopes`: all of
/// them for a full session; for a read-only one `openid profile email` and the scopes
/// the application declares read-only.
pub fn narrow(scopes: Vec<String>, app: &application::Model, read_only: bool) -> Vec<String> {
    const PROFILE: &[&str] = &["openid", "profile", "email"];
    if !read_only {
        return scopes;
    }
    scopes
        .into_iter()
        .filter(|s| PROFILE.contains(&s.as_str()) || app.read_only_scopes.0.contains(s))
        .collect()
}

/// The session if it is still running: not ended, not past its hard limit, and not over
/// for any other reason ([`why_over`]). A session found over here stops counting at once
/// (every token of it is inactive); the sweep ([`end_due`]) records its end.
pub async fn live(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<impersonation_session::Model>> {
    let running = impersonation_session::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|s| s.ended_at.is_none() && s.expires_at > clock::now());
    let Some(session) = running else {
        return Ok(None);
    };
    Ok(match why_over(db, &session).await? {
        Some(_) => None,
        None => Some(session),
    })
}

/// Why a running session is over before its limit, if it is: the impersonator was
/// deleted, the sign-in it runs in ended (signed out, signed out everywhere, or expired),
/// or the rules no longer allow it (`super::policy`: the impersonator disabled or locked
/// or without the permission, the target disabled, the application no longer enabled).
pub async fn why_over(
    db: &impl ConnectionTrait,
    session: &impersonation_session::Model,
) -> Result<Option<String>> {
    use super::policy::{self, Facts, SignIn};
    let Some(impersonator) = crate::users::find(db, session.impersonator_id).await? else {
        return Ok(Some(end_reason::IMPERSONATOR_DELETED.to_owned()));
    };
    if let Some(sign_in) = session.idp_session_id {
        let now = clock::now();
        let live = idp_session::Entity::find_by_id(sign_in)
            .one(db)
            .await?
            .is_some_and(|s| s.ended_at.is_none() && s.expires_at > now);
        if !live {
            return Ok(Some(end_reason::SIGNED_OUT.to_owned()));
        }
    }
    let Some(app) = crate::applications::find(db, session.application_id).await? else {
        return Ok(Some(end_reason::APPLICATION_DELETED.to_owned()));
    };
    let target = session.target_id.to_string();
    let pair = policy::pair(db, &app, &impersonator, &target).await?;
    let asked = policy::Asked::default();
    let facts = Facts::of(&app, &impersonator, &pair, SignIn::AtStart, None, &asked);
    Ok(policy::decide(&facts)
        .err()
        .map(|refusal| format!("no longer allowed: {refusal}")))
}

/// How a session ended (kept on the session and in its audit record).
pub mod end_reason {
    pub const STOPPED: &str = "stopped by the impersonator";
    pub const ENDED_BY_ADMINISTRATOR: &str = "ended by an administrator";
    pub const EXPIRED: &str = "expired";
    pub const SIGNED_OUT: &str = "the impersonator's sign-in ended";
    pub const IMPERSONATOR_DELETED: &str = "the impersonator was deleted";
    pub const APPLICATION_DELETED: &str = "the application was deleted";
    pub const SUPPORT_ACCESS_REVOKED: &str = "the user revoked support access";
}

/// How much Extend adds at a time.
pub const EXTEND_MINUTES: i64 = 15;

/// Whether a running session may be extended (it ends before its limit).
pub fn extendable(session: &impersonation_session::Model) -> bool {
    session
        .limit_at
        .is_some_and(|limit| session.ended_at.is_none() && session.expires_at < limit)
}

/// Extend: the running session lasts [`EXTEND_MINUTES`] more, up to its limit, on `db`
/// (pass a transaction). Returns the new end, or `None` when it cannot be extended (over,
/// or at its limit).
pub async fn extend(
    db: &impl ConnectionTrait,
    session: &impersonation_session::Model,
    by: Uuid,
) -> Result<Option<i64>> {
    let now = clock::now();
    let Some(limit) = session.limit_at else {
        return Ok(None);
    };
    if !extendable(session) || session.expires_at <= now {
        return Ok(None);
    }
    let until = (session.expires_at + EXTEND_MINUTES * 60).min(limit);
    let changed = impersonation_session::Entity::update_many()
        .col_expr(impersonation_session::Column::ExpiresAt, Expr::value(until))
        .filter(impersonation_session::Column::Id.eq(session.id))
        .filter(impersonation_session::Column::EndedAt.is_null())
        .filter(impersonation_session::Column::ExpiresAt.eq(session.expires_at))
        .filter(impersonation_session::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    if changed.rows_affected != 1 {
        return Ok(None);
    }
    audit::record(
        db,
        audit::Event {
            action: audit::action::IMPERSONATION_EXTENDED,
            success: true,
            actor_id: Some(by.to_string()),
            impersonator_id: Some(session.impersonator_id.to_string()),
            target_id: Some(session.target_id.to_string()),
            impersonation_session_id: Some(session.id),
            reason: format!("until {}", clock::rfc3339(until)),
            ..audit::Event::default()
        },
    )
    .await?;
    Ok(Some(until))
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
    let event = super::events::ended(db, session, ended_by, reason).await?;
    crate::events::publish(db, event).await?;
    // By the kind of end: a refusal's detail after the colon is left out.
    let kind = reason.split(':').next().unwrap_or(reason).to_owned();
    metrics::counter!("impersonation_sessions_ended_total", "reason" => kind).increment(1);
    Ok(true)
}

/// [`end`] in a transaction of its own.
pub async fn end_now(
    db: &sea_orm::DatabaseConnection,
    session: &impersonation_session::Model,
    ended_by: Option<Uuid>,
    reason: &str,
) -> Result<bool> {
    let txn = crate::store::db::begin_write(db).await?;
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

/// Ends every session that is over (the sweep): past its hard limit, or over for a reason
/// of [`why_over`], each in its own transaction with that reason. Returns how many ended.
pub async fn end_due(db: &sea_orm::DatabaseConnection) -> Result<u64> {
    let now = clock::now();
    let running = impersonation_session::Entity::find()
        .filter(impersonation_session::Column::EndedAt.is_null())
        .all(db)
        .await?;
    let mut ended = 0;
    for session in running {
        let reason = match session.expires_at <= now {
            true => Some(end_reason::EXPIRED.to_owned()),
            false => why_over(db, &session).await?,
        };
        if let Some(reason) = reason
            && end_now(db, &session, None, &reason).await?
        {
            ended += 1;
        }
    }
    Ok(ended)
}

/// Signs out: ends the sign-in behind `cookie_value` and the impersonation it runs, with
/// everything derived from it, in one transaction. Returns the sign-in, if it was live.
pub async fn sign_out(
    db: &sea_orm::DatabaseConnection,
    cookie_value: &str,
) -> Result<Option<idp_session::Model>> {
    let txn = crate::store::db::begin_write(db).await?;
    let ended = crate::sessions::end(&txn, cookie_value).await?;
    if let Some(sign_in) = &ended {
        end_signed_out(&txn, sign_in.user_id, Some(sign_in.id)).await?;
    }
    txn.commit().await?;
    Ok(ended)
}

/// Ends the sessions `impersonator` runs because they signed out: in the sign-in
/// `sign_in`, or in every sign-in of theirs (`None`: signed out everywhere). On `db` (pass
/// the transaction that ends the sign-in). Returns how many ended.
pub async fn end_signed_out(
    db: &impl ConnectionTrait,
    impersonator: Uuid,
    sign_in: Option<Uuid>,
) -> Result<u64> {
    let mut running = impersonation_session::Entity::find()
        .filter(impersonation_session::Column::ImpersonatorId.eq(impersonator))
        .filter(impersonation_session::Column::EndedAt.is_null());
    if let Some(sign_in) = sign_in {
        running = running.filter(impersonation_session::Column::IdpSessionId.eq(sign_in));
    }
    let mut ended = 0;
    for session in running.all(db).await? {
        if end(db, &session, Some(impersonator), end_reason::SIGNED_OUT).await? {
            ended += 1;
        }
    }
    Ok(ended)
}

/// Starts a session and attaches it to the impersonator's IdP session (so that later
/// sign-ins of this browser in enabled applications are as the target). The writes are
/// made only if that sign-in is still live and runs no impersonation when they commit
/// (one impersonation per sign-in, also for exchanges racing each other, on any instance):
/// otherwise the batch's condition is unmet and nothing of it is written.
pub fn start_in(
    batch: &mut crate::store::db::Batch,
    new: NewSession<'_>,
) -> impersonation_session::Model {
    let NewSession {
        id,
        impersonator,
        target,
        application_id,
        idp_session_id,
        sign_in_expires_at,
        reason,
        ticket,
        read_only,
        max_minutes,
        asked_minutes,
        approval,
    } = new;
    let now = clock::now();
    let limit_at = (now + max_minutes * 60)
        .min(sign_in_expires_at)
        .min(approval.ends_by(now).unwrap_or(i64::MAX));
    let expires_at = match asked_minutes {
        Some(minutes) => limit_at.min(now + minutes.max(1) * 60),
        None => limit_at,
    };
    let support_access_id = approval.standing().map(|access| access.id);
    let session = impersonation_session::Model {
        id,
        organization_id: target.organization_id,
        impersonator_id: impersonator.id,
        impersonator_name: impersonator.username.clone(),
        target_id: target.id,
        application_id,
        idp_session_id: Some(idp_session_id),
        reason: reason.to_owned(),
        ticket: ticket.to_owned(),
        read_only,
        started_at: now,
        expires_at,
        ended_at: None,
        ended_by: None,
        end_reason: None,
        request_id: approval.request().map(|r| r.id),
        support_access_id,
        limit_at: Some(limit_at),
    };
    batch.only_if(&attach(idp_session_id, session.id, now));
    super::approval::use_in(batch, approval, session.id);
    batch.push(&impersonation_session::Entity::insert(
        impersonation_session::ActiveModel::from(session.clone()),
    ));
    session
}

/// Attaches session `id` to the sign-in `idp_session_id` if that sign-in is live and the
/// session it carries, if any, is over; returns the sign-in's id when it did.
///
/// "Over" is asked of the session the row names (one lookup by primary key), never "not
/// running" of a list: on PostgreSQL a competing exchange's update, committed meanwhile,
/// is re-read with its new session id, which this statement's snapshot cannot find over.
fn attach(idp_session_id: Uuid, id: Uuid, now: i64) -> sea_orm::sea_query::UpdateStatement {
    use sea_orm::sea_query::{Condition, ExprTrait as _, Query};
    let over = Query::select()
        .expr(Expr::val(1))
        .from(impersonation_session::Entity)
        .and_where(
            Expr::col((
                impersonation_session::Entity,
                impersonation_session::Column::Id,
            ))
            .equals((
                idp_session::Entity,
                idp_session::Column::ImpersonationSessionId,
            )),
        )
        .cond_where(
            Condition::any()
                .add(impersonation_session::Column::EndedAt.is_not_null())
                .add(impersonation_session::Column::ExpiresAt.lte(now)),
        )
        .to_owned();
    Query::update()
        .table(idp_session::Entity)
        .value(idp_session::Column::ImpersonationSessionId, Some(id))
        .and_where(idp_session::Column::Id.eq(idp_session_id))
        .and_where(idp_session::Column::EndedAt.is_null())
        .and_where(idp_session::Column::ExpiresAt.gt(now))
        .cond_where(
            Condition::any()
                .add(idp_session::Column::ImpersonationSessionId.is_null())
                .add(Expr::exists(over)),
        )
        .returning_col(idp_session::Column::Id)
        .to_owned()
}

/// What an impersonation session starts with.
pub struct NewSession<'a> {
    /// Chosen by the caller, so that tokens can name the session before it is stored.
    pub id: Uuid,
    pub impersonator: &'a crate::entities::user::Model,
    pub target: &'a crate::entities::user::Model,
    pub application_id: Uuid,
    /// The impersonator's IdP session, which will carry the impersonation (SPEC §2.3).
    pub idp_session_id: Uuid,
    /// When that sign-in ends: the session ends then at the latest.
    pub sign_in_expires_at: i64,
    pub reason: &'a str,
    /// The help-desk ticket.
    pub ticket: &'a str,
    pub read_only: bool,
    /// The organization's hard limit.
    pub max_minutes: i64,
    /// What the impersonator asked for (at most `max_minutes`; `None`: all of it). Extend
    /// lengthens a shorter session up to the limit.
    pub asked_minutes: Option<i64>,
    /// What allowed it where the organization asks for approval (it bounds the session
    /// too).
    pub approval: &'a super::approval::Usable,
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
