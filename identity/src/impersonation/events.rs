//! What the impersonation domain tells receivers outside (`crate::events`): requests and
//! their decisions, and each session's start and end, with who, whom, why (reason and
//! ticket), the mode, and how it ended.

use crate::entities::{impersonation_request, impersonation_session};
use crate::events::{Event, kind, user_ref};
use crate::{Result, clock, users};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use uuid::Uuid;

fn mode(read_only: bool) -> &'static str {
    if read_only { "read-only" } else { "full" }
}

async fn username(db: &impl ConnectionTrait, id: Uuid) -> Result<String> {
    Ok(users::find(db, id)
        .await?
        .map(|u| u.username)
        .unwrap_or_default())
}

/// `impersonation.requested`, `.approved` or `.denied` about `request`; `decided_by` is who
/// decided it, and `comment` what they said.
pub async fn request(
    db: &impl ConnectionTrait,
    event_kind: &'static str,
    request: &impersonation_request::Model,
    decided_by: Option<Uuid>,
) -> Result<Event> {
    let mut data = json!({
        "requestId": request.id,
        "impersonator": user_ref(request.requester_id, &request.requester_name),
        "user": user_ref(request.target_id, &username(db, request.target_id).await?),
        "organizationId": request.organization_id,
        "reason": request.reason,
        "ticket": request.ticket,
        "mode": mode(request.read_only),
        "durationMinutes": request.duration_minutes,
        "decideBy": clock::rfc3339(request.decide_by),
    });
    if let Some(by) = decided_by {
        data["decidedBy"] = user_ref(by, &username(db, by).await?);
        if !request.comment.is_empty() {
            data["comment"] = json!(request.comment);
        }
    }
    Ok(Event {
        kind: event_kind,
        organization_id: Some(request.organization_id),
        subject: Some(request.target_id),
        data,
    })
}

fn session_data(session: &impersonation_session::Model, target_username: &str) -> Value {
    json!({
        "impersonationSessionId": session.id,
        "impersonator": user_ref(session.impersonator_id, &session.impersonator_name),
        "user": user_ref(session.target_id, target_username),
        "organizationId": session.organization_id,
        "applicationId": session.application_id,
        "reason": session.reason,
        "ticket": session.ticket,
        "mode": mode(session.read_only),
        "requestId": session.request_id,
        "startedAt": clock::rfc3339(session.started_at),
        "expiresAt": clock::rfc3339(session.expires_at),
    })
}

/// `impersonation.started`.
pub fn started(session: &impersonation_session::Model, target_username: &str) -> Event {
    Event {
        kind: kind::IMPERSONATION_STARTED,
        organization_id: Some(session.organization_id),
        subject: Some(session.target_id),
        data: session_data(session, target_username),
    }
}

/// `impersonation.ended`: who ended it (none: it expired or was found over) and why.
pub async fn ended(
    db: &impl ConnectionTrait,
    session: &impersonation_session::Model,
    ended_by: Option<Uuid>,
    reason: &str,
) -> Result<Event> {
    let mut data = session_data(session, &username(db, session.target_id).await?);
    data["endedAt"] = json!(clock::rfc3339(clock::now()));
    data["endReason"] = json!(reason);
    if let Some(by) = ended_by {
        data["endedBy"] = user_ref(by, &username(db, by).await?);
    }
    Ok(Event {
        kind: kind::IMPERSONATION_ENDED,
        organization_id: Some(session.organization_id),
        subject: Some(session.target_id),
        data,
    })
}
