//! A Shared Signals transmitter (OpenID SSF 1.0, CAEP 1.0): receivers (applications of
//! ours, with a token) manage their stream; the events they ask for are pushed to them as
//! Security Event Tokens (RFC 8417, RFC 8935) signed with our keys.
//!
//! - `session-revoked` when an impersonation session ends (subject: the user and that
//!   session), when someone signs out, and when a token is revoked at `/oauth2/revoke`;
//! - `credential-change` when a password is set.

use super::outbox::{Channel, Planned};
use super::{kind, webhooks::Outbound};
use crate::entities::{StringList, event, ssf_stream};
use crate::{Result, clock};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder,
};
use serde_json::{Value, json};
use uuid::Uuid;

pub const SESSION_REVOKED: &str =
    "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
pub const CREDENTIAL_CHANGE: &str =
    "https://schemas.openid.net/secevent/caep/event-type/credential-change";
pub const VERIFICATION: &str = "https://schemas.openid.net/secevent/ssf/event-type/verification";
pub const STREAM_UPDATED: &str =
    "https://schemas.openid.net/secevent/ssf/event-type/stream-updated";
/// Push delivery (RFC 8935), the one method we offer.
pub const PUSH: &str = "urn:ietf:rfc:8935";
/// The `typ` of a Security Event Token's header.
pub const TOKEN_TYPE: &str = "secevent+jwt";
/// The events a stream may ask for.
pub const SUPPORTED: &[&str] = &[SESSION_REVOKED, CREDENTIAL_CHANGE];
const MAX_DESCRIPTION_CHARS: usize = 200;
/// A receiver asks for a verification event at most this often.
pub const MIN_VERIFICATION_INTERVAL_SECS: i64 = 30;
const MAX_AUTHORIZATION_CHARS: usize = 2000;

/// What a receiver chooses for its stream.
#[derive(Clone, Debug, Default)]
pub struct StreamSettings {
    pub endpoint_url: String,
    pub authorization_header: Option<String>,
    pub events_requested: Vec<String>,
    pub description: String,
}

/// Problems with a stream's settings, as (field, message).
pub type Problems = Vec<(&'static str, String)>;

fn problems(s: &StreamSettings, outbound: &Outbound) -> Problems {
    let mut problems = Vec::new();
    if let Err(why) = outbound.check_url(&s.endpoint_url) {
        problems.push(("delivery.endpoint_url", why));
    }
    if s.authorization_header
        .as_ref()
        .is_some_and(|h| h.len() > MAX_AUTHORIZATION_CHARS || h.chars().any(char::is_control))
    {
        problems.push((
            "delivery.authorization_header",
            "Not a valid header value.".to_owned(),
        ));
    }
    if s.description.chars().count() > MAX_DESCRIPTION_CHARS {
        problems.push((
            "description",
            format!("At most {MAX_DESCRIPTION_CHARS} characters."),
        ));
    }
    if s.events_requested.len() > 32 || s.events_requested.iter().any(|e| e.len() > 256) {
        problems.push((
            "events_requested",
            "At most 32 event types of at most 256 characters.".to_owned(),
        ));
    }
    problems
}

/// What a stream delivers: what it asked for that we support.
pub fn delivered(stream: &ssf_stream::Model) -> Vec<&'static str> {
    SUPPORTED
        .iter()
        .copied()
        .filter(|e| stream.events_requested.0.iter().any(|r| r == e))
        .collect()
}

/// The stream configuration as SSF 1.0 describes it.
pub fn configuration(stream: &ssf_stream::Model, issuer: &str) -> Value {
    let mut delivery = json!({ "method": PUSH, "endpoint_url": stream.endpoint_url });
    if stream.authorization_header.is_some() {
        // Write-only: a receiver's credential is never read back.
        delivery["authorization_header"] = json!("(set)");
    }
    let mut config = json!({
        "stream_id": stream.id.to_string(),
        "iss": issuer,
        "aud": stream.audience,
        "events_supported": SUPPORTED,
        "events_requested": stream.events_requested.0,
        "events_delivered": delivered(stream),
        "delivery": delivery,
        "min_verification_interval": MIN_VERIFICATION_INTERVAL_SECS,
    });
    if !stream.description.is_empty() {
        config["description"] = json!(stream.description);
    }
    config
}

/// Why a receiver's stream request was refused.
#[derive(Debug)]
pub enum StreamError {
    Invalid(Problems),
    /// One stream per receiver.
    Exists,
}

/// Creates the stream of a receiver (one per receiver).
pub async fn create(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    application_id: Uuid,
    audience: &str,
    settings: StreamSettings,
    outbound: &Outbound,
) -> Result<std::result::Result<ssf_stream::Model, StreamError>> {
    let problems = problems(&settings, outbound);
    if !problems.is_empty() {
        return Ok(Err(StreamError::Invalid(problems)));
    }
    if !list(db, application_id).await?.is_empty() {
        return Ok(Err(StreamError::Exists));
    }
    let now = clock::now();
    let model = ssf_stream::ActiveModel {
        id: Set(Uuid::new_v4()),
        organization_id: Set(organization_id),
        application_id: Set(application_id),
        audience: Set(audience.to_owned()),
        endpoint_url: Set(settings.endpoint_url),
        authorization_header: Set(settings.authorization_header),
        events_requested: Set(StringList(settings.events_requested)),
        description: Set(settings.description),
        status: Set(status::ENABLED.to_owned()),
        status_reason: Set(String::new()),
        verified_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(Ok(model))
}

/// The streams of a receiver.
pub async fn list(
    db: &impl ConnectionTrait,
    application_id: Uuid,
) -> Result<Vec<ssf_stream::Model>> {
    Ok(ssf_stream::Entity::find()
        .filter(ssf_stream::Column::ApplicationId.eq(application_id))
        .order_by_asc(ssf_stream::Column::CreatedAt)
        .all(db)
        .await?)
}

/// A stream of the receiver (`None`: none, or another receiver's).
pub async fn find(
    db: &impl ConnectionTrait,
    application_id: Uuid,
    stream_id: &str,
) -> Result<Option<ssf_stream::Model>> {
    let Ok(id) = Uuid::parse_str(stream_id) else {
        return Ok(None);
    };
    Ok(ssf_stream::Entity::find_by_id(id)
        .filter(ssf_stream::Column::ApplicationId.eq(application_id))
        .one(db)
        .await?)
}

/// The settings of an existing stream.
pub fn settings_of(stream: &ssf_stream::Model) -> StreamSettings {
    StreamSettings {
        endpoint_url: stream.endpoint_url.clone(),
        authorization_header: stream.authorization_header.clone(),
        events_requested: stream.events_requested.0.clone(),
        description: stream.description.clone(),
    }
}

/// Replaces a stream's receiver-supplied settings.
pub async fn update(
    db: &impl ConnectionTrait,
    stream: ssf_stream::Model,
    settings: StreamSettings,
    outbound: &Outbound,
) -> Result<std::result::Result<ssf_stream::Model, Problems>> {
    let problems = problems(&settings, outbound);
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let mut model = stream.into_active_model();
    model.endpoint_url = Set(settings.endpoint_url);
    model.authorization_header = Set(settings.authorization_header);
    model.events_requested = Set(StringList(settings.events_requested));
    model.description = Set(settings.description);
    model.updated_at = Set(clock::now());
    Ok(Ok(model.update(db).await?))
}

/// Deletes a stream; what was on its way is given up.
pub async fn delete(db: &impl ConnectionTrait, stream: &ssf_stream::Model) -> Result<()> {
    super::outbox::give_up_pending(db, stream.id, "The stream was deleted.").await?;
    ssf_stream::Entity::delete_by_id(stream.id).exec(db).await?;
    Ok(())
}

/// A stream's status values.
pub mod status {
    pub const ENABLED: &str = "enabled";
    /// Events are kept and sent, in order, when it is enabled again.
    pub const PAUSED: &str = "paused";
    /// Nothing is kept.
    pub const DISABLED: &str = "disabled";
    pub const ALL: &[&str] = &[ENABLED, PAUSED, DISABLED];
}

/// Sets a stream's status: enabling sends what a pause kept; disabling drops it.
pub async fn set_status(
    db: &impl ConnectionTrait,
    stream: ssf_stream::Model,
    new_status: &'static str,
    reason: String,
) -> Result<ssf_stream::Model> {
    let id = stream.id;
    let mut model = stream.into_active_model();
    model.status = Set(new_status.to_owned());
    model.status_reason = Set(reason);
    model.updated_at = Set(clock::now());
    let model = model.update(db).await?;
    match new_status {
        status::ENABLED => super::outbox::release_held(db, id).await?,
        status::DISABLED => {
            super::outbox::give_up_pending(db, id, "The stream was disabled.").await?
        }
        _ => {}
    }
    Ok(model)
}

/// Takes the stream's turn for a verification event: `false` when the last one was asked
/// for less than [`MIN_VERIFICATION_INTERVAL_SECS`] ago (the receiver gets 429).
pub async fn take_verification_turn(
    db: &impl ConnectionTrait,
    stream: &ssf_stream::Model,
) -> Result<bool> {
    let now = clock::now();
    let due = sea_orm::Condition::any()
        .add(ssf_stream::Column::VerifiedAt.is_null())
        .add(ssf_stream::Column::VerifiedAt.lte(now - MIN_VERIFICATION_INTERVAL_SECS));
    let taken = ssf_stream::Entity::update_many()
        .col_expr(
            ssf_stream::Column::VerifiedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(ssf_stream::Column::Id.eq(stream.id))
        .filter(due)
        .exec(db)
        .await?;
    Ok(taken.rows_affected == 1)
}

/// Whether the receiver behind a stream may still receive: its application exists, is
/// enabled, and is still authorized for `internal_ssf_stream_manage`.
pub async fn receiver_allowed(
    db: &impl ConnectionTrait,
    stream: &ssf_stream::Model,
) -> Result<bool> {
    let Some(app) = crate::applications::find(db, stream.application_id).await? else {
        return Ok(false);
    };
    if !app.enabled {
        return Ok(false);
    }
    let granted = crate::api_resources::authorized_scopes(db, app.id).await?;
    Ok(granted
        .iter()
        .any(|s| s == crate::scopes::SSF_STREAM_MANAGE))
}

/// Deletes the streams of an application (it is being deleted).
pub async fn delete_for_application(db: &impl ConnectionTrait, application_id: Uuid) -> Result<()> {
    for stream in list(db, application_id).await? {
        delete(db, &stream).await?;
    }
    Ok(())
}

/// A user as a subject (RFC 9493 `iss_sub`): the `sub` of our tokens.
fn user_subject(issuer: &str, user: &str) -> Value {
    json!({ "format": "iss_sub", "iss": issuer, "sub": user })
}

/// A user's session as a subject: SSF's complex subject with the user and the session.
fn session_subject(issuer: &str, user: &str, session: &str) -> Value {
    json!({
        "format": "complex",
        "user": user_subject(issuer, user),
        "session": { "format": "opaque", "id": session },
    })
}

/// The SET event an event makes (type, `sub_id`, claims), if any.
fn security_event(issuer: &str, event: &event::Model) -> Option<(&'static str, Value, Value)> {
    let data = &event.data;
    let text = |pointer: &str| data.pointer(pointer).and_then(Value::as_str);
    let reason = |text: String| json!({ "en": text });
    match event.event_type.as_str() {
        kind::IMPERSONATION_ENDED => {
            let user = text("/user/id")?;
            let session = text("/impersonationSessionId")?;
            let ended_by_user = text("/endedBy/id") == Some(user);
            let initiating = match text("/endedBy/id") {
                None => "policy",
                Some(_) if ended_by_user => "user",
                Some(_) => "admin",
            };
            Some((
                SESSION_REVOKED,
                session_subject(issuer, user, session),
                json!({
                    "event_timestamp": event.occurred_at,
                    "initiating_entity": initiating,
                    "reason_admin": reason(format!(
                        "Impersonation by {} ended: {}",
                        text("/impersonator/username").unwrap_or("an administrator"),
                        text("/endReason").unwrap_or("ended"),
                    )),
                }),
            ))
        }
        kind::SESSION_REVOKED => {
            let user = text("/user/id")?;
            // A revoked token ends the user's session at that application, not their
            // sign-in: the subject names the application, not the sign-in.
            let (subject, admin) = match (text("/cause"), text("/clientId")) {
                (Some(super::cause::TOKEN_REVOKED), Some(client)) => (
                    json!({
                        "format": "complex",
                        "user": user_subject(issuer, user),
                        "application": { "format": "opaque", "id": client },
                    }),
                    "A token was revoked.",
                ),
                _ => match text("/signInId") {
                    Some(session) => (
                        session_subject(issuer, user, session),
                        "The user signed out.",
                    ),
                    None => (user_subject(issuer, user), "The user signed out."),
                },
            };
            Some((
                SESSION_REVOKED,
                subject,
                json!({
                    "event_timestamp": event.occurred_at,
                    "initiating_entity": "user",
                    "reason_admin": reason(admin.to_owned()),
                }),
            ))
        }
        kind::USER_PASSWORD_CHANGED => {
            let user = text("/user/id")?;
            let by_admin = text("/changedBy/id").is_some_and(|by| by != user);
            Some((
                CREDENTIAL_CHANGE,
                user_subject(issuer, user),
                json!({
                    "event_timestamp": event.occurred_at,
                    "credential_type": "password",
                    "change_type": "update",
                    "initiating_entity": if by_admin { "admin" } else { "user" },
                }),
            ))
        }
        _ => None,
    }
}

fn set_claims(
    issuer: &str,
    stream: &ssf_stream::Model,
    event: &event::Model,
    kind: &str,
    sub_id: Value,
    body: Value,
) -> Value {
    json!({
        "iss": issuer,
        "jti": crate::store::db::new_record_id().simple().to_string(),
        "iat": event.occurred_at,
        "aud": stream.audience,
        "txn": event.id.to_string(),
        "sub_id": sub_id,
        "events": { kind: body },
    })
}

/// The SETs an event sends: one per stream of the organization that asked for its type
/// (kept while a stream is paused), or the verification a stream asked for.
pub(super) async fn plan(
    db: &impl ConnectionTrait,
    issuer: &str,
    organization_id: Uuid,
    event: &event::Model,
) -> Result<Vec<Planned>> {
    let planned = |stream: &ssf_stream::Model, claims: Value| Planned {
        channel: Channel::SharedSignals,
        destination_id: stream.id,
        url: stream.endpoint_url.clone(),
        payload: claims,
        held: stream.status == status::PAUSED,
    };
    if event.event_type == kind::STREAM_VERIFICATION {
        let Some(stream_id) = event.data.pointer("/streamId").and_then(Value::as_str) else {
            return Ok(Vec::new());
        };
        let Ok(id) = Uuid::parse_str(stream_id) else {
            return Ok(Vec::new());
        };
        let Some(stream) = ssf_stream::Entity::find_by_id(id).one(db).await? else {
            return Ok(Vec::new());
        };
        let mut body = json!({});
        if let Some(state) = event.data.pointer("/state").and_then(Value::as_str) {
            body["state"] = json!(state);
        }
        let sub_id = json!({ "format": "opaque", "id": stream_id });
        let claims = set_claims(issuer, &stream, event, VERIFICATION, sub_id, body);
        return Ok(vec![Planned {
            held: false,
            ..planned(&stream, claims)
        }]);
    }
    let Some((kind, sub_id, body)) = security_event(issuer, event) else {
        return Ok(Vec::new());
    };
    let streams = ssf_stream::Entity::find()
        .filter(ssf_stream::Column::OrganizationId.eq(organization_id))
        .filter(ssf_stream::Column::Status.ne(status::DISABLED))
        .all(db)
        .await?;
    let mut planned_sets = Vec::new();
    for stream in streams.iter().filter(|s| delivered(s).contains(&kind)) {
        if receiver_allowed(db, stream).await? {
            let claims = set_claims(issuer, stream, event, kind, sub_id.clone(), body.clone());
            planned_sets.push(planned(stream, claims));
        }
    }
    Ok(planned_sets)
}
