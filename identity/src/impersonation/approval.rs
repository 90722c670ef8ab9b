//! Impersonation that asks first (issue 14). Where the organization's `approval` setting
//! asks for it, an impersonation starts only with an approval to use ([`usable`]):
//!
//! - a **request** ([`create`]) that the user, an approving administrator, or both approved
//!   ([`decide`]); it may start one session within the approval window, and the session
//!   lasts at most the duration asked for. Requests not decided in time expire
//!   ([`expire_due`]); the requester may withdraw theirs ([`withdraw`]).
//! - the user's **standing support access** ([`grant_support_access`]): for 1 to 72 hours,
//!   it stands in for the user's approval. Revoking it ([`revoke_support_access`]) ends the
//!   sessions it allowed, at once.
//!
//! The subject token and the exchange both ask [`usable`]; the exchange uses the approval
//! up in the transaction that starts the session ([`use_in`]), so one approval starts one
//! session however many exchanges race for it. Every request, decision, expiry, grant and
//! revocation is audited.

use super::policy::{self, Refusal, SignIn};
use crate::audit::{self, Event, action};
use crate::entities::{
    impersonation_request as request, impersonation_session, support_access, user,
};
use crate::events::kind;
use crate::settings::{Approval, Impersonation, Mode};
use crate::store::db::Batch;
use crate::{Result, clock, roles, scopes};
use sea_orm::sea_query::{Condition, Expr, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Waiting for an approval the organization asked for.
    Pending,
    /// Approved: it may start its one session within the window.
    Approved,
    Denied,
    /// Not decided in time, or approved and not used in time.
    Expired,
    Withdrawn,
    /// It started its session.
    Used,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Pending,
        Status::Approved,
        Status::Denied,
        Status::Expired,
        Status::Withdrawn,
        Status::Used,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Denied => "denied",
            Status::Expired => "expired",
            Status::Withdrawn => "withdrawn",
            Status::Used => "used",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Where `request` stands at `now`: a stored status that time has overtaken (not
    /// decided, or not used, in time) reads as expired before the sweep records it.
    pub fn of(request: &request::Model, now: i64) -> Self {
        match Self::parse(&request.status).unwrap_or(Status::Expired) {
            Status::Pending if request.decide_by <= now => Status::Expired,
            Status::Approved if request.valid_until.is_none_or(|until| until <= now) => {
                Status::Expired
            }
            status => status,
        }
    }

    /// Whether a request in this status may still lead to a session.
    pub fn open(self) -> bool {
        matches!(self, Status::Pending | Status::Approved)
    }

    /// The rows whose status reads as `self` at `now` (see [`Status::of`]).
    fn condition(self, now: i64) -> Condition {
        let stored = |s: Status| request::Column::Status.eq(s.as_str());
        match self {
            Status::Pending => Condition::all()
                .add(stored(Status::Pending))
                .add(request::Column::DecideBy.gt(now)),
            Status::Approved => Condition::all()
                .add(stored(Status::Approved))
                .add(request::Column::ValidUntil.gt(now)),
            Status::Expired => Condition::any()
                .add(stored(Status::Expired))
                .add(
                    Condition::all()
                        .add(stored(Status::Pending))
                        .add(request::Column::DecideBy.lte(now)),
                )
                .add(
                    Condition::all()
                        .add(stored(Status::Approved))
                        .add(request::Column::ValidUntil.lte(now)),
                ),
            other => Condition::all().add(stored(other)),
        }
    }
}

/// The longest reason or comment kept, in characters.
pub const MAX_TEXT: usize = 500;
/// How many open requests one requester may have at once (each may mail a user).
pub const MAX_OPEN_PER_REQUESTER: usize = 20;
/// How many requests one requester may make in a day (each may mail a user).
pub const MAX_REQUESTS_A_DAY: u64 = 50;
/// Standing support access lasts 1 to this many hours.
pub const MAX_SUPPORT_ACCESS_HOURS: i64 = 72;

/// The request's resource, in audit records.
pub fn path(id: Uuid) -> String {
    format!("/api/server/v1/impersonation-requests/{id}")
}

/// A request as the requester asks it.
pub struct NewRequest<'a> {
    pub requester: &'a user::Model,
    /// The id of the user to impersonate, as given.
    pub target: &'a str,
    pub reason: &'a str,
    pub ticket: &'a str,
    /// `None`: the organization's default.
    pub mode: Option<Mode>,
    /// `None`: the organization's maximum.
    pub duration_minutes: Option<i64>,
    /// Where the user decides (My Account → Access requests), for the mail.
    pub access_requests_url: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("This organization does not ask for approval: impersonate the user directly.")]
    NotNeeded,
    /// The rules refuse this impersonation whatever is approved.
    #[error("{0}")]
    Refused(Refusal),
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("You already have an open request for this user.")]
    AlreadyOpen,
    #[error(
        "You have {MAX_OPEN_PER_REQUESTER} open requests already: withdraw one, or wait for their decisions."
    )]
    TooMany,
    #[error("This user denied your last request less than a day ago.")]
    RecentlyDenied,
    #[error("You made {MAX_REQUESTS_A_DAY} requests in the last day; wait before asking again.")]
    TooOften,
    #[error(transparent)]
    Internal(#[from] crate::Error),
}

impl From<sea_orm::DbErr> for RequestError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Internal(error.into())
    }
}

/// Creates a request, on `db` (pass a transaction): checked against the rules as an
/// impersonation through My Account would be (everything but the approval and the
/// step-up, which count when the session starts), recorded, and mailed to the user when
/// their approval is asked for. With the user's standing support access, the user's part
/// is approved at once.
pub async fn create(
    db: &impl ConnectionTrait,
    new: NewRequest<'_>,
) -> std::result::Result<request::Model, RequestError> {
    let requester = new.requester;
    let settings = crate::settings::impersonation(db, requester.organization_id).await?;
    if settings.approval == Approval::None {
        return Err(RequestError::NotNeeded);
    }
    let (reason, ticket) = (new.reason.trim(), new.ticket.trim());
    if reason.chars().count() > MAX_TEXT {
        return Err(RequestError::Invalid {
            field: "reason",
            message: format!("reason takes at most {MAX_TEXT} characters."),
        });
    }
    let max = settings.max_session_duration_minutes;
    let duration = new.duration_minutes.unwrap_or(max);
    if !(1..=max).contains(&duration) {
        return Err(RequestError::Invalid {
            field: "durationMinutes",
            message: format!("durationMinutes takes 1 to {max} (the organization's maximum)."),
        });
    }
    let now = clock::now();
    let target = check_rules(
        db, requester, new.target, &settings, reason, ticket, new.mode, now,
    )
    .await?;
    let mode = settings.mode_for(new.mode).unwrap_or_default();

    let open: Vec<request::Model> = request::Entity::find()
        .filter(request::Column::RequesterId.eq(requester.id))
        .filter(
            Condition::any()
                .add(Status::Pending.condition(now))
                .add(Status::Approved.condition(now)),
        )
        .limit(MAX_OPEN_PER_REQUESTER as u64 + 1)
        .all(db)
        .await?;
    if open.iter().any(|r| r.target_id == target.id) {
        return Err(RequestError::AlreadyOpen);
    }
    if open.len() >= MAX_OPEN_PER_REQUESTER {
        return Err(RequestError::TooMany);
    }
    // No asking again and again: not after a denial for a day, not more than so many a day.
    let day_ago = now - 24 * 3600;
    let recently_denied = request::Entity::find()
        .filter(request::Column::RequesterId.eq(requester.id))
        .filter(request::Column::TargetId.eq(target.id))
        .filter(request::Column::Status.eq(Status::Denied.as_str()))
        .filter(request::Column::ClosedAt.gt(day_ago))
        .count(db)
        .await?;
    if recently_denied > 0 {
        return Err(RequestError::RecentlyDenied);
    }
    let today = request::Entity::find()
        .filter(request::Column::RequesterId.eq(requester.id))
        .filter(request::Column::CreatedAt.gt(day_ago))
        .count(db)
        .await?;
    if today >= MAX_REQUESTS_A_DAY {
        return Err(RequestError::TooOften);
    }

    let standing = live_support_access(db, target.id, now).await?;
    let needs_user = settings.approval.needs_user();
    let needs_administrator = settings.approval.needs_administrator();
    let user_approved_at = (needs_user && standing.is_some()).then_some(now);
    let approved = !needs_administrator && (!needs_user || user_approved_at.is_some());
    let created = request::Model {
        id: crate::store::db::new_record_id(),
        organization_id: target.organization_id,
        requester_id: requester.id,
        requester_name: requester.username.clone(),
        target_id: target.id,
        reason: reason.to_owned(),
        ticket: ticket.to_owned(),
        read_only: mode == Mode::ReadOnly,
        duration_minutes: duration,
        needs_user,
        needs_administrator,
        status: if approved {
            Status::Approved
        } else {
            Status::Pending
        }
        .as_str()
        .to_owned(),
        created_at: now,
        decide_by: now + settings.request_expiry_minutes * 60,
        user_approved_at,
        administrator_id: None,
        administrator_approved_at: None,
        closed_by: None,
        closed_at: None,
        comment: String::new(),
        valid_until: approved.then_some(now + settings.approval_window_minutes * 60),
        session_id: None,
        support_access_id: user_approved_at.and(standing.as_ref().map(|a| a.id)),
    };
    let mut writes = Batch::new(db);
    writes.push(&request::Entity::insert(request::ActiveModel::from(
        created.clone(),
    )));
    audit::record_in(
        &mut writes,
        event(
            action::IMPERSONATION_REQUESTED,
            requester.id,
            &created,
            reason,
        ),
    );
    let requested = super::events::request(db, kind::IMPERSONATION_REQUESTED, &created, None);
    crate::events::publish_in(&mut writes, requested.await?);
    if approved {
        let approved = super::events::request(db, kind::IMPERSONATION_APPROVED, &created, None);
        crate::events::publish_in(&mut writes, approved.await?);
    }
    if needs_user && user_approved_at.is_none() && !target.email.is_empty() {
        let template = crate::mail::template(
            db,
            target.organization_id,
            crate::mail::IMPERSONATION_REQUEST,
            crate::mail::DEFAULT_LOCALE,
        )
        .await?;
        let minutes = duration.to_string();
        let mail = crate::mail::render(
            &template,
            &[
                ("user-name", target.username.as_str()),
                ("impersonator-user-name", requester.username.as_str()),
                (
                    "reason",
                    if reason.is_empty() {
                        "(none given)"
                    } else {
                        reason
                    },
                ),
                ("ticket", if ticket.is_empty() { "(none)" } else { ticket }),
                (
                    "mode",
                    if mode == Mode::ReadOnly {
                        "read-only"
                    } else {
                        "full"
                    },
                ),
                ("duration-minutes", minutes.as_str()),
                ("decide-by", &clock::rfc3339(created.decide_by)),
                ("access-requests-url", new.access_requests_url),
            ],
        );
        crate::mail::enqueue_in(&mut writes, &target.email, &mail);
    }
    writes.run(db).await?;
    Ok(created)
}

/// The rules for `requester` impersonating `target_id`, with what the request brings
/// (the permission held through any application: which one is used is checked when the
/// session starts); the target if they allow it.
#[allow(clippy::too_many_arguments)]
async fn check_rules(
    db: &impl ConnectionTrait,
    requester: &user::Model,
    target_id: &str,
    settings: &Impersonation,
    reason: &str,
    ticket: &str,
    mode: Option<Mode>,
    now: i64,
) -> std::result::Result<user::Model, RequestError> {
    let my_account = crate::oauth::clients::find(db, scopes::MY_ACCOUNT_CLIENT_ID)
        .await?
        .ok_or(RequestError::Refused(Refusal::ApplicationNotEnabled))?;
    let pair = policy::pair_anywhere(db, requester, target_id).await?;
    let asked = policy::Asked {
        reason,
        ticket,
        // The step-up counts when the session starts, not now.
        auth_time: now,
        at: now,
        mode,
        approved: true,
    };
    let mut facts = policy::Facts::of(
        &my_account,
        requester,
        &pair,
        SignIn::AtStart,
        Some(settings),
        &asked,
    );
    // Which application is used is checked when the session starts.
    facts.application_enabled = true;
    match (policy::decide(&facts), pair.target) {
        (Ok(()), Some(target)) => Ok(target),
        (refused, _) => Err(RequestError::Refused(
            refused.err().unwrap_or(Refusal::UnknownTarget),
        )),
    }
}

fn event(action: &'static str, actor: Uuid, request: &request::Model, reason: &str) -> Event {
    Event {
        action,
        success: true,
        actor_id: Some(actor.to_string()),
        impersonator_id: Some(request.requester_id.to_string()),
        target_id: Some(request.target_id.to_string()),
        path: Some(path(request.id)),
        reason: reason.to_owned(),
        ..Event::default()
    }
}

/// Who decides.
#[derive(Clone, Copy, Debug)]
pub enum Decider<'a> {
    /// The user the request is about.
    User(&'a user::Model),
    /// An administrator holding `internal_impersonation_approve` where the request is (the
    /// caller checks that).
    Administrator(&'a user::Model),
}

impl Decider<'_> {
    fn id(&self) -> Uuid {
        match self {
            Decider::User(user) | Decider::Administrator(user) => user.id,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Deny { comment: String },
}

#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("There is no such request.")]
    NotFound,
    #[error("This request is {}: it can no longer be decided.", .0.as_str())]
    Closed(Status),
    #[error("Nobody decides a request they made or that is about them as an administrator.")]
    OwnRequest,
    #[error("This request does not ask for the user's decision.")]
    UserNotAsked,
    #[error("This request does not ask for an administrator's decision.")]
    AdministratorNotAsked,
    #[error("This part of the request is already approved.")]
    AlreadyApproved,
    #[error("You hold fewer privileges than the requester, so you cannot decide their request.")]
    UnderPrivileged,
    #[error(transparent)]
    Internal(#[from] crate::Error),
}

impl From<sea_orm::DbErr> for DecideError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Internal(error.into())
    }
}

/// A request by id.
pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<request::Model>> {
    Ok(request::Entity::find_by_id(id).one(db).await?)
}

/// Approves the decider's part of a pending request, or denies it, on `db` (pass a
/// transaction). The user decides requests about them; an administrator decides others'
/// requests, never their own or one about them, and only holding every management right
/// the requester holds. Once every part asked for is approved, the request is approved for
/// the organization's approval window. Returns the request as it is now.
pub async fn decide(
    db: &impl ConnectionTrait,
    id: Uuid,
    decider: Decider<'_>,
    decision: Decision,
) -> std::result::Result<request::Model, DecideError> {
    let now = clock::now();
    let found = find(db, id).await?.ok_or(DecideError::NotFound)?;
    match decider {
        Decider::User(user) => {
            if found.target_id != user.id {
                return Err(DecideError::NotFound);
            }
            if !found.needs_user {
                return Err(DecideError::UserNotAsked);
            }
        }
        Decider::Administrator(approver) => {
            if approver.id == found.requester_id || approver.id == found.target_id {
                return Err(DecideError::OwnRequest);
            }
            if !found.needs_administrator {
                return Err(DecideError::AdministratorNotAsked);
            }
            // The requester's rights as an administrator (the permission to impersonate
            // is what the approval is for: an approver need not hold it).
            let mine = roles::held(db, approver.id)
                .await?
                .scopes(roles::Audience::Administration);
            let theirs = roles::held(db, found.requester_id)
                .await?
                .scopes(roles::Audience::Administration);
            let weaker = theirs
                .iter()
                .any(|s| scopes::MANAGEMENT.contains(&s.as_str()) && !mine.contains(s));
            if weaker {
                return Err(DecideError::UnderPrivileged);
            }
        }
    }
    // Approving needs a pending request; a denial also takes back an approval not used
    // yet (the user changed their mind).
    let status = Status::of(&found, now);
    let decidable = match decision {
        Decision::Approve => status == Status::Pending,
        Decision::Deny { .. } => status.open(),
    };
    if !decidable {
        return Err(DecideError::Closed(status));
    }
    let part_approved = match decider {
        Decider::User(_) => found.user_approved_at.is_some(),
        Decider::Administrator(_) => found.administrator_approved_at.is_some(),
    };
    if part_approved && decision == Decision::Approve {
        return Err(DecideError::AlreadyApproved);
    }
    let update = request::Entity::update_many().filter(request::Column::Id.eq(id));
    let (action, reason) = match &decision {
        Decision::Approve => {
            let update = match decider {
                Decider::User(_) => update
                    .col_expr(request::Column::UserApprovedAt, Expr::value(now))
                    .filter(request::Column::UserApprovedAt.is_null()),
                Decider::Administrator(approver) => update
                    .col_expr(request::Column::AdministratorApprovedAt, Expr::value(now))
                    .col_expr(request::Column::AdministratorId, Expr::value(approver.id))
                    .filter(request::Column::AdministratorApprovedAt.is_null()),
            };
            if update
                .filter(Status::Pending.condition(now))
                .exec(db)
                .await?
                .rows_affected
                != 1
            {
                return Err(decided_meanwhile(db, id).await);
            }
            // Read again after the update (which holds the row now): an approval of the
            // other part committed meanwhile counts, so two approvers deciding at once
            // leave the request approved, not pending.
            let now_found = find(db, id).await?.ok_or(DecideError::NotFound)?;
            let complete = (!now_found.needs_user || now_found.user_approved_at.is_some())
                && (!now_found.needs_administrator
                    || now_found.administrator_approved_at.is_some());
            if complete {
                let settings = crate::settings::impersonation(db, found.organization_id).await?;
                request::Entity::update_many()
                    .col_expr(
                        request::Column::Status,
                        Expr::value(Status::Approved.as_str()),
                    )
                    .col_expr(
                        request::Column::ValidUntil,
                        Expr::value(now + settings.approval_window_minutes * 60),
                    )
                    .filter(request::Column::Id.eq(id))
                    .filter(Status::Pending.condition(now))
                    .exec(db)
                    .await?;
            }
            let who = match decider {
                Decider::User(_) => "approved by the user",
                Decider::Administrator(_) => "approved by an administrator",
            };
            let reason = if complete {
                format!("{who}; the request is approved")
            } else {
                format!("{who}; another approval is still needed")
            };
            (action::IMPERSONATION_REQUEST_APPROVED, reason)
        }
        Decision::Deny { comment } => {
            let mut comment = comment.trim().to_owned();
            crate::text::bound(&mut comment, MAX_TEXT);
            let denied = update
                .col_expr(
                    request::Column::Status,
                    Expr::value(Status::Denied.as_str()),
                )
                .col_expr(request::Column::ClosedBy, Expr::value(decider.id()))
                .col_expr(request::Column::ClosedAt, Expr::value(now))
                .col_expr(request::Column::Comment, Expr::value(comment.clone()))
                .filter(
                    Condition::any()
                        .add(Status::Pending.condition(now))
                        .add(Status::Approved.condition(now)),
                )
                .exec(db)
                .await?;
            if denied.rows_affected != 1 {
                return Err(decided_meanwhile(db, id).await);
            }
            let who = match decider {
                Decider::User(_) => "denied by the user",
                Decider::Administrator(_) => "denied by an administrator",
            };
            let reason = match comment.is_empty() {
                true => who.to_owned(),
                false => format!("{who}: {comment}"),
            };
            (action::IMPERSONATION_REQUEST_DENIED, reason)
        }
    };
    audit::record(db, event(action, decider.id(), &found, &reason)).await?;
    let decided = find(db, id).await?.ok_or(DecideError::NotFound)?;
    let published = match decided.status.as_str() {
        s if s == Status::Approved.as_str() && action == action::IMPERSONATION_REQUEST_APPROVED => {
            Some(kind::IMPERSONATION_APPROVED)
        }
        s if s == Status::Denied.as_str() => Some(kind::IMPERSONATION_DENIED),
        _ => None,
    };
    if let Some(published) = published {
        let event = super::events::request(db, published, &decided, Some(decider.id()));
        crate::events::publish(db, event.await?).await?;
    }
    Ok(decided)
}

/// Why a decision changed nothing: the request was decided, used or expired meanwhile.
async fn decided_meanwhile(db: &impl ConnectionTrait, id: Uuid) -> DecideError {
    match find(db, id).await {
        Ok(Some(found)) => match Status::of(&found, clock::now()) {
            Status::Pending => DecideError::AlreadyApproved,
            other => DecideError::Closed(other),
        },
        Ok(None) => DecideError::NotFound,
        Err(error) => DecideError::Internal(error),
    }
}

/// The requester withdraws their open request (pending, or approved and not used yet), on
/// `db` (pass a transaction).
pub async fn withdraw(
    db: &impl ConnectionTrait,
    id: Uuid,
    requester: &user::Model,
) -> std::result::Result<request::Model, DecideError> {
    let now = clock::now();
    let found = find(db, id)
        .await?
        .filter(|r| r.requester_id == requester.id)
        .ok_or(DecideError::NotFound)?;
    let status = Status::of(&found, now);
    if !status.open() {
        return Err(DecideError::Closed(status));
    }
    let withdrawn = request::Entity::update_many()
        .col_expr(
            request::Column::Status,
            Expr::value(Status::Withdrawn.as_str()),
        )
        .col_expr(request::Column::ClosedBy, Expr::value(requester.id))
        .col_expr(request::Column::ClosedAt, Expr::value(now))
        .filter(request::Column::Id.eq(id))
        .filter(
            Condition::any()
                .add(Status::Pending.condition(now))
                .add(Status::Approved.condition(now)),
        )
        .exec(db)
        .await?;
    if withdrawn.rows_affected != 1 {
        let now_found = find(db, id).await?.ok_or(DecideError::NotFound)?;
        return Err(DecideError::Closed(Status::of(&now_found, clock::now())));
    }
    let record = event(
        action::IMPERSONATION_REQUEST_WITHDRAWN,
        requester.id,
        &found,
        "withdrawn by the requester",
    );
    audit::record(db, record).await?;
    find(db, id).await?.ok_or(DecideError::NotFound)
}

/// Records the expiry of every request that time has overtaken (not decided, or approved
/// and not used, in time), each audited once. Returns how many.
pub async fn expire_due(db: &sea_orm::DatabaseConnection) -> Result<u64> {
    let now = clock::now();
    let due = request::Entity::find()
        .filter(Status::Expired.condition(now))
        .filter(request::Column::Status.ne(Status::Expired.as_str()))
        .limit(500)
        .all(db)
        .await?;
    let mut expired = 0;
    for found in due {
        let txn = crate::store::db::begin_write(db).await?;
        let changed = request::Entity::update_many()
            .col_expr(
                request::Column::Status,
                Expr::value(Status::Expired.as_str()),
            )
            .filter(request::Column::Id.eq(found.id))
            .filter(request::Column::Status.eq(found.status.clone()))
            .exec(&txn)
            .await?;
        if changed.rows_affected == 1 {
            let why = match Status::parse(&found.status) {
                Some(Status::Approved) => "approved, and not used in time",
                _ => "not decided in time",
            };
            let mut record = event(
                action::IMPERSONATION_REQUEST_EXPIRED,
                found.requester_id,
                &found,
                why,
            );
            record.actor_id = None;
            audit::record(&txn, record).await?;
            expired += 1;
        }
        txn.commit().await?;
    }
    Ok(expired)
}

/// Filters of the request list.
#[derive(Clone, Debug, Default)]
pub struct RequestQuery {
    pub status: Option<Status>,
    pub requester: Option<Uuid>,
    pub target: Option<Uuid>,
    /// Only requests of organizations the caller's rights reach (`None`: no limit).
    pub within: Option<crate::organizations::Reach>,
    /// Only requests still waiting for an approving administrator.
    pub awaiting_administrator: bool,
    /// Only requests neither made by nor about this user.
    pub not_involving: Option<Uuid>,
}

/// A page of requests, newest first, and the total.
pub async fn list(
    db: &impl ConnectionTrait,
    q: &RequestQuery,
    offset: u64,
    limit: u64,
) -> Result<(u64, Vec<request::Model>)> {
    let now = clock::now();
    let mut query = request::Entity::find().order_by_desc(request::Column::CreatedAt);
    if let Some(status) = q.status {
        query = query.filter(status.condition(now));
    }
    if let Some(id) = q.requester {
        query = query.filter(request::Column::RequesterId.eq(id));
    }
    if let Some(id) = q.target {
        query = query.filter(request::Column::TargetId.eq(id));
    }
    if let Some(crate::organizations::Reach::Within(organizations)) = &q.within {
        query = query.filter(request::Column::OrganizationId.is_in(organizations.iter().copied()));
    }
    if q.awaiting_administrator {
        query = query
            .filter(request::Column::NeedsAdministrator.eq(true))
            .filter(request::Column::AdministratorApprovedAt.is_null());
    }
    if let Some(user) = q.not_involving {
        query = query
            .filter(request::Column::RequesterId.ne(user))
            .filter(request::Column::TargetId.ne(user));
    }
    let total = query.clone().count(db).await?;
    Ok((total, query.offset(offset).limit(limit).all(db).await?))
}

/// What lets an impersonation start where the organization asks for approval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Usable {
    /// The organization asks for none.
    NotAsked,
    /// An approved request of this impersonator for this user, not used yet, and the
    /// standing support access that stood for the user's approval, if one did (still
    /// granted).
    Request {
        request: Box<request::Model>,
        standing: Option<support_access::Model>,
    },
    /// The user's standing support access (stands in for the user's approval alone).
    Standing(support_access::Model),
    /// Nothing: the impersonation needs an approval first.
    Missing,
}

impl Usable {
    /// The standing support access it relies on, if any (revoking it ends the session).
    pub fn standing(&self) -> Option<&support_access::Model> {
        match self {
            Usable::Request { standing, .. } => standing.as_ref(),
            Usable::Standing(access) => Some(access),
            Usable::NotAsked | Usable::Missing => None,
        }
    }

    /// Whether an impersonation may start with it.
    pub fn approved(&self) -> bool {
        !matches!(self, Usable::Missing)
    }

    /// The approved request, when it is one.
    pub fn request(&self) -> Option<&request::Model> {
        match self {
            Usable::Request { request, .. } => Some(request.as_ref()),
            _ => None,
        }
    }

    /// When a session started with it must end at the latest (`None`: no bound of its
    /// own), started at `now`.
    pub fn ends_by(&self, now: i64) -> Option<i64> {
        match self {
            Usable::Request { request, standing } => Some(
                (now + request.duration_minutes * 60)
                    .min(standing.as_ref().map_or(i64::MAX, |a| a.expires_at)),
            ),
            Usable::Standing(access) => Some(access.expires_at),
            Usable::NotAsked | Usable::Missing => None,
        }
    }
}

/// Which approved requests may count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pinned {
    /// Any (a new subject token: the newest approved one).
    Any,
    /// Only this one (the one a subject token was issued with).
    Request(Uuid),
    /// None (a subject token issued without a request: it started under standing access
    /// or while no approval was asked, and must not use up a request of another mode).
    NoRequest,
}

/// What lets `impersonator` impersonate `target` now under `settings`: an approved request
/// as `pinned` allows (one whose user's part standing access stood for only while that
/// access is granted); the user's standing access where only the user's approval is asked
/// for. A request counts only if it was asked with at least today's approvals.
pub async fn usable(
    db: &impl ConnectionTrait,
    settings: &Impersonation,
    impersonator: Uuid,
    target: Uuid,
    pinned: Pinned,
) -> Result<Usable> {
    let approval = settings.approval;
    if approval == Approval::None {
        return Ok(Usable::NotAsked);
    }
    let now = clock::now();
    let mut approved = request::Entity::find()
        .filter(request::Column::RequesterId.eq(impersonator))
        .filter(request::Column::TargetId.eq(target))
        .filter(Status::Approved.condition(now))
        .order_by_desc(request::Column::CreatedAt);
    match pinned {
        Pinned::Any => {}
        Pinned::Request(id) => approved = approved.filter(request::Column::Id.eq(id)),
        Pinned::NoRequest => approved = approved.filter(Expr::val(false)),
    }
    let covering = approved.all(db).await?.into_iter().filter(|r| {
        (r.needs_user || !approval.needs_user())
            && (r.needs_administrator || !approval.needs_administrator())
    });
    for request in covering {
        let standing = match request.support_access_id {
            None => None,
            // Standing access stood for the user's approval: only while it is granted.
            Some(id) => match live_support_access(db, target, now).await? {
                Some(access) if access.id == id => Some(access),
                _ => continue,
            },
        };
        return Ok(Usable::Request {
            request: Box::new(request),
            standing,
        });
    }
    if !matches!(pinned, Pinned::Request(_))
        && approval == Approval::User
        && let Some(access) = live_support_access(db, target, now).await?
    {
        return Ok(Usable::Standing(access));
    }
    Ok(Usable::Missing)
}

/// Makes the writes of `batch` (the exchange's) depend on `usable` still being usable
/// when they commit: an approved request becomes used by `session` (one session per
/// approval, however many exchanges race for it); standing support access must not have
/// been revoked meanwhile.
pub fn use_in(batch: &mut Batch, usable: &Usable, session: Uuid) {
    let now = clock::now();
    if let Some(access) = usable.standing() {
        hold_support_access(batch, access.id, now);
    }
    if let Usable::Request { request: found, .. } = usable {
        batch.only_if(
            &Query::update()
                .table(request::Entity)
                .value(request::Column::Status, Status::Used.as_str())
                .value(request::Column::SessionId, session)
                .and_where(request::Column::Id.eq(found.id))
                .cond_where(Status::Approved.condition(now))
                .returning_col(request::Column::Id)
                .to_owned(),
        );
    }
}

/// Makes the writes of `batch` depend on support access `id` being granted when they
/// commit. The statement changes nothing; it takes the row's lock, so that a revocation
/// waits for this commit (and then ends the session) or this sees it.
fn hold_support_access(batch: &mut Batch, id: Uuid, now: i64) {
    batch.only_if(
        &Query::update()
            .table(support_access::Entity)
            .value(
                support_access::Column::ExpiresAt,
                Expr::col(support_access::Column::ExpiresAt),
            )
            .and_where(support_access::Column::Id.eq(id))
            .and_where(support_access::Column::RevokedAt.is_null())
            .and_where(support_access::Column::ExpiresAt.gt(now))
            .returning_col(support_access::Column::Id)
            .to_owned(),
    );
}

#[derive(Debug, thiserror::Error)]
pub enum SupportAccessError {
    #[error("hours takes 1 to {MAX_SUPPORT_ACCESS_HOURS}.")]
    Hours,
    #[error("Support access is already granted; revoke it first to change it.")]
    AlreadyGranted,
    #[error(transparent)]
    Internal(#[from] crate::Error),
}

impl From<sea_orm::DbErr> for SupportAccessError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Internal(error.into())
    }
}

/// The user's standing support access running at `now`, if any.
pub async fn live_support_access(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    now: i64,
) -> Result<Option<support_access::Model>> {
    Ok(support_access::Entity::find()
        .filter(support_access::Column::UserId.eq(user_id))
        .filter(support_access::Column::RevokedAt.is_null())
        .filter(support_access::Column::ExpiresAt.gt(now))
        .one(db)
        .await?)
}

/// The user grants support access to their account for `hours`, on `db` (pass a
/// transaction).
pub async fn grant_support_access(
    db: &impl ConnectionTrait,
    user: &user::Model,
    hours: i64,
) -> std::result::Result<support_access::Model, SupportAccessError> {
    if !(1..=MAX_SUPPORT_ACCESS_HOURS).contains(&hours) {
        return Err(SupportAccessError::Hours);
    }
    let now = clock::now();
    if live_support_access(db, user.id, now).await?.is_some() {
        return Err(SupportAccessError::AlreadyGranted);
    }
    let access = support_access::Model {
        id: crate::store::db::new_record_id(),
        user_id: user.id,
        organization_id: user.organization_id,
        granted_at: now,
        expires_at: now + hours * 3600,
        revoked_at: None,
    };
    support_access::Entity::insert(support_access::ActiveModel {
        id: Set(access.id),
        user_id: Set(access.user_id),
        organization_id: Set(access.organization_id),
        granted_at: Set(access.granted_at),
        expires_at: Set(access.expires_at),
        revoked_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    audit::record(
        db,
        Event {
            action: action::SUPPORT_ACCESS_GRANTED,
            success: true,
            actor_id: Some(user.id.to_string()),
            target_id: Some(user.id.to_string()),
            reason: format!(
                "for {hours} hours, until {}",
                clock::rfc3339(access.expires_at)
            ),
            ..Event::default()
        },
    )
    .await?;
    Ok(access)
}

/// The user revokes their standing support access, on `db` (pass a transaction): every
/// session it allowed ends now, with everything derived from it, and every open request
/// it approved for them is denied. Returns whether there was any to revoke (all of it,
/// should two grants have raced).
pub async fn revoke_support_access(db: &impl ConnectionTrait, user: &user::Model) -> Result<bool> {
    let now = clock::now();
    let live: Vec<Uuid> = support_access::Entity::find()
        .filter(support_access::Column::UserId.eq(user.id))
        .filter(support_access::Column::RevokedAt.is_null())
        .filter(support_access::Column::ExpiresAt.gt(now))
        .all(db)
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    if live.is_empty() {
        return Ok(false);
    }
    support_access::Entity::update_many()
        .col_expr(support_access::Column::RevokedAt, Expr::value(now))
        .filter(support_access::Column::Id.is_in(live.clone()))
        .filter(support_access::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    let sessions = impersonation_session::Entity::find()
        .filter(impersonation_session::Column::SupportAccessId.is_in(live.clone()))
        .filter(impersonation_session::Column::EndedAt.is_null())
        .all(db)
        .await?;
    let reason = super::session::end_reason::SUPPORT_ACCESS_REVOKED;
    for session in &sessions {
        super::session::end(db, session, Some(user.id), reason).await?;
    }
    request::Entity::update_many()
        .col_expr(
            request::Column::Status,
            Expr::value(Status::Denied.as_str()),
        )
        .col_expr(request::Column::ClosedBy, Expr::value(user.id))
        .col_expr(request::Column::ClosedAt, Expr::value(now))
        .col_expr(
            request::Column::Comment,
            Expr::value("support access revoked"),
        )
        .filter(request::Column::SupportAccessId.is_in(live))
        .filter(
            Condition::any()
                .add(Status::Pending.condition(now))
                .add(Status::Approved.condition(now)),
        )
        .exec(db)
        .await?;
    audit::record(
        db,
        Event {
            action: action::SUPPORT_ACCESS_REVOKED,
            success: true,
            actor_id: Some(user.id.to_string()),
            target_id: Some(user.id.to_string()),
            reason: format!("{} running session(s) ended", sessions.len()),
            ..Event::default()
        },
    )
    .await?;
    Ok(true)
}
