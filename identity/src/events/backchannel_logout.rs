//! OpenID Connect Back-Channel Logout 1.0: when a session ends, every application that
//! signed someone in through it (and registered a `backchannel_logout_uri`) gets a logout
//! token. An impersonated sign-in has its own `sid` (the impersonation session's id), so
//! ending the impersonation signs out exactly the sessions it opened, and the token names
//! who really acted (`act`).

use super::kind;
use super::outbox::{Channel, Planned};
use crate::Result;
use crate::entities::{application, authorization_code, event};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::{Value, json};
use uuid::Uuid;

/// The event member of a logout token.
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The `typ` of a logout token's header.
pub const TOKEN_TYPE: &str = "logout+jwt";
/// How long a logout token is valid after it is signed (each attempt signs anew).
pub const LIFETIME_SECS: i64 = 120;

/// The sessions an event ends, as `(sid, sub, actor)`, and the sign-ins to look for:
/// codes issued through the impersonation session, or through the sign-in outside any
/// impersonation.
enum Ended {
    Impersonation {
        session: Uuid,
        user: String,
        actor: String,
    },
    SignIn {
        session: Uuid,
        user: String,
    },
}

fn ended(event: &event::Model) -> Option<Ended> {
    let data = &event.data;
    let uuid_at = |pointer: &str| {
        data.pointer(pointer)
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
    };
    let text_at = |pointer: &str| {
        data.pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match event.event_type.as_str() {
        kind::IMPERSONATION_ENDED => Some(Ended::Impersonation {
            session: uuid_at("/impersonationSessionId")?,
            user: text_at("/user/id")?,
            actor: text_at("/impersonator/id")?,
        }),
        kind::SESSION_REVOKED if text_at("/cause").as_deref() == Some(super::cause::SIGNED_OUT) => {
            Some(Ended::SignIn {
                session: uuid_at("/signInId")?,
                user: text_at("/user/id")?,
            })
        }
        _ => None,
    }
}

/// The logout tokens an event sends: one per application signed in through the session
/// it ends. Their claims are kept without `iat`/`exp`, which each attempt sets.
pub(super) async fn plan(
    db: &impl ConnectionTrait,
    issuer: &str,
    event: &event::Model,
) -> Result<Vec<Planned>> {
    let Some(ended) = ended(event) else {
        return Ok(Vec::new());
    };
    let (codes, sid, sub, act) = match ended {
        Ended::Impersonation {
            session,
            user,
            actor,
        } => (
            authorization_code::Entity::find()
                .filter(authorization_code::Column::ImpersonationSessionId.eq(session)),
            session,
            user,
            Some(json!({ "sub": actor })),
        ),
        Ended::SignIn { session, user } => (
            authorization_code::Entity::find()
                .filter(authorization_code::Column::IdpSessionId.eq(session))
                .filter(authorization_code::Column::ImpersonationSessionId.is_null()),
            session,
            user,
            None,
        ),
    };
    let app_ids: Vec<Uuid> = codes
        .select_only()
        .column(authorization_code::Column::ApplicationId)
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    if app_ids.is_empty() {
        return Ok(Vec::new());
    }
    let apps = application::Entity::find()
        .filter(application::Column::Id.is_in(app_ids))
        .filter(application::Column::BackchannelLogoutUri.is_not_null())
        .all(db)
        .await?;
    Ok(apps
        .into_iter()
        .filter_map(|app| {
            let url = app.backchannel_logout_uri.clone()?;
            let mut claims = json!({
                "iss": issuer,
                "aud": app.client_id,
                "jti": crate::store::db::new_record_id().to_string(),
                "sub": sub,
                "sid": sid.to_string(),
                "events": { EVENT: {} },
            });
            if let Some(act) = &act {
                claims["act"] = act.clone();
            }
            Some(Planned {
                channel: Channel::BackchannelLogout,
                destination_id: app.id,
                url,
                payload: claims,
                held: false,
            })
        })
        .collect())
}

/// The claims of the logout token an attempt sends, signed at `now`.
pub fn claims_at(payload: &Value, now: i64) -> Value {
    let mut claims = payload.clone();
    claims["iat"] = json!(now);
    claims["exp"] = json!(now + LIFETIME_SECS);
    claims
}
