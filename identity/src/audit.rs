//! The audit trail: written in the same transaction as what it records (pass the
//! transaction), and as a log line in WSO2's audit format. Never a token or a secret.

use crate::entities::audit_event;
use crate::{Result, clock};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::{Value, json};
use uuid::Uuid;

/// Action names (WSO2's where it has them).
pub mod action {
    pub const IMPERSONATION_DENIED: &str = "impersonation-denied";
    pub const SUBJECT_TOKEN_ISSUED: &str = "subject-token-issued";
    pub const IMPERSONATION_STARTED: &str = "impersonation-started";
    pub const IMPERSONATED_TOKEN_ISSUED: &str = "impersonated-token-issued";
    pub const IMPERSONATION_ENDED: &str = "impersonation-ended";
    pub const IMPERSONATED_SIGN_IN: &str = "impersonated-sign-in";
    pub const RESOURCE_ACCESS: &str = "resource-access-via-impersonation";
    pub const RESOURCE_CREATION: &str = "resource-creation-via-impersonation";
    pub const RESOURCE_MODIFICATION: &str = "resource-modification-via-impersonation";
    pub const RESOURCE_DELETION: &str = "resource-deletion-via-impersonation";
    /// A request refused as malformed, forged, expired, replayed or unauthorized.
    pub const REQUEST_REJECTED: &str = "request-rejected";
    /// A sign-in with wrong credentials, or to a locked or disabled account.
    pub const SIGN_IN_FAILED: &str = "sign-in-failed";
    /// A sign-in at the sign-in page that started a session.
    pub const SIGNED_IN: &str = "sign-in";
    /// A sign-out that ended a live session.
    pub const SIGNED_OUT: &str = "sign-out";
    /// An account locked: by itself after repeated sign-in failures (no actor), or by an
    /// administrator.
    pub const ACCOUNT_LOCKED: &str = "account-locked";
    /// An account unlocked by an administrator or by the operator's command line.
    pub const ACCOUNT_UNLOCKED: &str = "account-unlocked";
    /// An administrator asked to impersonate a user (where approval is asked for).
    pub const IMPERSONATION_REQUESTED: &str = "impersonation-requested";
    /// The user or an administrator approved their part of a request.
    pub const IMPERSONATION_REQUEST_APPROVED: &str = "impersonation-request-approved";
    pub const IMPERSONATION_REQUEST_DENIED: &str = "impersonation-request-denied";
    pub const IMPERSONATION_REQUEST_WITHDRAWN: &str = "impersonation-request-withdrawn";
    /// Not decided, or not used, in time (no actor).
    pub const IMPERSONATION_REQUEST_EXPIRED: &str = "impersonation-request-expired";
    /// A running impersonation session made longer (Extend), within its limit.
    pub const IMPERSONATION_EXTENDED: &str = "impersonation-extended";
    /// A user granted standing support access to their account.
    pub const SUPPORT_ACCESS_GRANTED: &str = "support-access-granted";
    /// A user revoked it (the sessions it allowed end).
    pub const SUPPORT_ACCESS_REVOKED: &str = "support-access-revoked";

    /// A webhook subscription created, changed or deleted, or its secret rotated.
    pub const WEBHOOK_CREATED: &str = "webhook-created";
    pub const WEBHOOK_UPDATED: &str = "webhook-updated";
    pub const WEBHOOK_DELETED: &str = "webhook-deleted";
    pub const WEBHOOK_SECRET_ROTATED: &str = "webhook-secret-rotated";
    /// A delivery sent again by an administrator (Redeliver).
    pub const WEBHOOK_REDELIVERED: &str = "webhook-redelivered";
    /// A Shared Signals receiver created, changed or deleted its stream.
    pub const SSF_STREAM_CREATED: &str = "ssf-stream-created";
    pub const SSF_STREAM_UPDATED: &str = "ssf-stream-updated";
    pub const SSF_STREAM_DELETED: &str = "ssf-stream-deleted";

    /// What a user's Access history shows beside the sessions: the requests about them,
    /// their decisions, and their support access.
    pub const ACCESS_REQUESTS: &[&str] = &[
        IMPERSONATION_REQUESTED,
        IMPERSONATION_REQUEST_APPROVED,
        IMPERSONATION_REQUEST_DENIED,
        IMPERSONATION_REQUEST_WITHDRAWN,
        IMPERSONATION_REQUEST_EXPIRED,
        SUPPORT_ACCESS_GRANTED,
        SUPPORT_ACCESS_REVOKED,
    ];

    /// What the Console's impersonation desk shows: starts, ends, refusals, extensions,
    /// requests and their decisions, support access.
    pub const IMPERSONATION_DESK: &[&str] = &[
        IMPERSONATION_DENIED,
        IMPERSONATION_STARTED,
        IMPERSONATION_ENDED,
        IMPERSONATION_EXTENDED,
        IMPERSONATION_REQUESTED,
        IMPERSONATION_REQUEST_APPROVED,
        IMPERSONATION_REQUEST_DENIED,
        IMPERSONATION_REQUEST_WITHDRAWN,
        IMPERSONATION_REQUEST_EXPIRED,
        SUPPORT_ACCESS_GRANTED,
        SUPPORT_ACCESS_REVOKED,
    ];
}

/// An event to record.
#[derive(Clone, Debug, Default)]
pub struct Event {
    pub action: &'static str,
    pub success: bool,
    /// Who acted: the impersonated user for actions taken with an impersonated token.
    pub actor_id: Option<String>,
    pub impersonator_id: Option<String>,
    pub target_id: Option<String>,
    pub client_id: Option<String>,
    pub impersonation_session_id: Option<Uuid>,
    pub scope: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    /// Why (a denial's reason, the impersonator's stated reason, how a session ended).
    pub reason: String,
}

/// Appends `event` and writes its log line.
pub async fn record(db: &impl ConnectionTrait, event: Event) -> Result<()> {
    let mut batch = crate::store::db::Batch::new(db);
    record_in(&mut batch, event);
    batch.run(db).await
}

/// [`record`] as part of a batch of writes (the log line once the batch has run).
pub fn record_in(batch: &mut crate::store::db::Batch, mut event: Event) {
    // Any of these may hold what a caller sent (a path, a client id, an error's text).
    for text in [
        &mut event.actor_id,
        &mut event.impersonator_id,
        &mut event.target_id,
        &mut event.client_id,
        &mut event.scope,
        &mut event.method,
        &mut event.path,
    ]
    .into_iter()
    .flatten()
    {
        crate::text::bound(text, crate::text::ECHO_LIMIT);
    }
    crate::text::bound(&mut event.reason, crate::text::ECHO_LIMIT);
    let outcome = if event.success { "success" } else { "failure" };
    let mut data = json!({});
    for (key, value) in [
        ("ResourcePath", &event.path),
        ("clientId", &event.client_id),
        ("subject", &event.target_id),
        ("scope", &event.scope),
        ("impersonator", &event.impersonator_id),
        ("httpMethod", &event.method),
    ] {
        if let Some(value) = value {
            data[key] = json!(value);
        }
    }
    if !event.reason.is_empty() {
        data["reason"] = json!(event.reason);
    }
    if let Some(session) = event.impersonation_session_id {
        data["impersonationSession"] = json!(session.to_string());
    }
    let line = format!(
        "Initiator={} Action={} Target={} Data={} Outcome={}",
        event.actor_id.as_deref().unwrap_or("-"),
        event.action,
        event.target_id.as_deref().unwrap_or("-"),
        data,
        if event.success {
            "AUTHORIZED"
        } else {
            "DENIED"
        },
    );
    batch.after_run(move || tracing::info!(target: "AUDIT_LOG", "{line}"));
    batch.push(&audit_event::Entity::insert(audit_event::ActiveModel {
        created_at: Set(clock::now()),
        action: Set(event.action.to_owned()),
        outcome: Set(outcome.to_owned()),
        actor_id: Set(event.actor_id),
        impersonator_id: Set(event.impersonator_id),
        target_id: Set(event.target_id),
        client_id: Set(event.client_id),
        impersonation_session_id: Set(event.impersonation_session_id),
        scope: Set(event.scope),
        method: Set(event.method),
        path: Set(event.path),
        reason: Set(event.reason),
        detail: Set(None::<Value>),
        ..Default::default()
    }));
}

/// Filters of the audit log.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// Matches the actor or the impersonator.
    pub actor: Option<String>,
    pub target: Option<String>,
    pub action: Option<String>,
    /// Any of these actions (empty: any action).
    pub any_action: Vec<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Only events whose actor, impersonator or target is a user of an organization the
    /// caller's rights reach (`None`: no limit). Events naming no such user (anonymous
    /// refusals, applications) are beyond any sub-organization's reach.
    pub within: Option<crate::organizations::Reach>,
}

/// A page of events, newest first, and the total.
pub async fn search(
    db: &impl ConnectionTrait,
    q: &Query,
    offset: u64,
    limit: u64,
) -> Result<(u64, Vec<audit_event::Model>)> {
    use sea_orm::Condition;
    let mut query = audit_event::Entity::find().order_by_desc(audit_event::Column::Id);
    if let Some(crate::organizations::Reach::Within(organizations)) = &q.within {
        use crate::entities::user;
        let ids: Vec<Uuid> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::OrganizationId.is_in(organizations.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        query = query.filter(
            Condition::any()
                .add(audit_event::Column::ActorId.is_in(ids.clone()))
                .add(audit_event::Column::ImpersonatorId.is_in(ids.clone()))
                .add(audit_event::Column::TargetId.is_in(ids)),
        );
    }
    if let Some(actor) = &q.actor {
        query = query.filter(
            Condition::any()
                .add(audit_event::Column::ActorId.eq(actor.clone()))
                .add(audit_event::Column::ImpersonatorId.eq(actor.clone())),
        );
    }
    if let Some(target) = &q.target {
        query = query.filter(audit_event::Column::TargetId.eq(target.clone()));
    }
    if let Some(action) = &q.action {
        query = query.filter(audit_event::Column::Action.eq(action.clone()));
    }
    if !q.any_action.is_empty() {
        query = query.filter(audit_event::Column::Action.is_in(q.any_action.clone()));
    }
    if let Some(since) = q.since {
        query = query.filter(audit_event::Column::CreatedAt.gte(since));
    }
    if let Some(until) = q.until {
        query = query.filter(audit_event::Column::CreatedAt.lte(until));
    }
    let total = query.clone().count(db).await?;
    let page = query.offset(offset).limit(limit).all(db).await?;
    Ok((total, page))
}
