//! Events for receivers outside the server: an administrator's webhook endpoints, the
//! Shared Signals receivers (OpenID SSF 1.0 with CAEP events), and the back-channel logout
//! endpoints of applications (OpenID Connect Back-Channel Logout 1.0).
//!
//! An event is written once, in the transaction of what it records ([`publish_in`],
//! [`publish`]): it exists exactly when that happened. The server's delivery worker then
//! fans each event out into one delivery per receiver that wants it ([`outbox`]) and
//! sends them, retrying with backoff for up to a day, so nothing is lost while a receiver
//! is down.

pub mod backchannel_logout;
pub mod outbox;
pub mod shared_signals;
pub mod webhooks;

use crate::entities::event;
use crate::{Result, clock};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde_json::Value;
use uuid::Uuid;

/// The event types, as webhook subscriptions name them.
pub mod kind {
    /// An administrator asked to impersonate a user (approval is needed).
    pub const IMPERSONATION_REQUESTED: &str = "impersonation.requested";
    /// A request was approved (by the user or an approving administrator).
    pub const IMPERSONATION_APPROVED: &str = "impersonation.approved";
    pub const IMPERSONATION_DENIED: &str = "impersonation.denied";
    pub const IMPERSONATION_STARTED: &str = "impersonation.started";
    /// With how it ended: stopped, ended by an administrator, expired, signed out, …
    pub const IMPERSONATION_ENDED: &str = "impersonation.ended";
    /// Locked after repeated sign-in failures, or by an administrator.
    pub const USER_LOCKED: &str = "user.locked";
    pub const USER_DISABLED: &str = "user.disabled";
    /// A user's password was set: changed, reset, or set by an administrator.
    pub const USER_PASSWORD_CHANGED: &str = "user.password-changed";
    /// A sign-in session ended (sign-out), or a token was revoked at `/oauth2/revoke`.
    pub const SESSION_REVOKED: &str = "session.revoked";
    pub const SIGNING_KEY_ROTATED: &str = "signing-key.rotated";
    /// Asked for by a Shared Signals receiver (`POST /ssf/verify`); only its stream gets it.
    pub const STREAM_VERIFICATION: &str = "ssf.verification";

    /// The types that are about the server as a whole: only the root organization's
    /// webhooks may ask for them.
    pub const SERVER_WIDE: &[&str] = &[SIGNING_KEY_ROTATED];

    /// Every type a webhook may subscribe to.
    pub const SUBSCRIBABLE: &[&str] = &[
        IMPERSONATION_REQUESTED,
        IMPERSONATION_APPROVED,
        IMPERSONATION_DENIED,
        IMPERSONATION_STARTED,
        IMPERSONATION_ENDED,
        USER_LOCKED,
        USER_DISABLED,
        USER_PASSWORD_CHANGED,
        SESSION_REVOKED,
        SIGNING_KEY_ROTATED,
    ];
}

/// Something that happened, for receivers outside.
#[derive(Clone, Debug)]
pub struct Event {
    pub kind: &'static str,
    /// Where it happened (`None`: the server as a whole; the root organization's
    /// receivers get it).
    pub organization_id: Option<Uuid>,
    /// The user it is about.
    pub subject: Option<Uuid>,
    /// What a receiver is told (camelCase members; never a token or a secret).
    pub data: Value,
}

fn row(event: Event) -> event::ActiveModel {
    event::ActiveModel {
        id: Set(crate::store::db::new_record_id()),
        organization_id: Set(event.organization_id),
        event_type: Set(event.kind.to_owned()),
        subject_id: Set(event.subject.map(|s| s.to_string())),
        occurred_at: Set(clock::now()),
        data: Set(event.data),
        dispatched_at: Set(None),
    }
}

/// Records `event` as part of a batch of writes (the event's own transaction).
pub fn publish_in(batch: &mut crate::store::db::Batch, event: Event) {
    batch.push(&event::Entity::insert(row(event)));
}

/// Records `event` on `db` (pass the transaction of what it records).
pub async fn publish(db: &impl ConnectionTrait, event: Event) -> Result<()> {
    event::Entity::insert(row(event))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Why a `session.revoked` event happened (its `cause`).
pub mod cause {
    /// The user signed out: their sign-in ended (back-channel logout follows).
    pub const SIGNED_OUT: &str = "signed-out";
    /// A token was revoked at `/oauth2/revoke`.
    pub const TOKEN_REVOKED: &str = "token-revoked";
}

/// An event about `user` (`data`: the user and their organization; add what it needs).
pub fn about_user(kind: &'static str, user: &crate::entities::user::Model) -> Event {
    Event {
        kind,
        organization_id: Some(user.organization_id),
        subject: Some(user.id),
        data: serde_json::json!({
            "user": user_ref(user.id, &user.username),
            "organizationId": user.organization_id,
        }),
    }
}

/// A user as events name them.
pub fn user_ref(id: Uuid, username: &str) -> Value {
    serde_json::json!({ "id": id, "username": username })
}
