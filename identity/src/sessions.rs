//! IdP sessions: the server-side record behind the browser's session cookie.
//!
//! The cookie holds 256 random bits; the database holds only their hash. A new id is issued
//! at every sign-in, so a session id planted before login is worthless afterwards.

use crate::entities::{
    idp_session,
    user::{self, UserStatus},
};
use crate::{Result, clock, tokens};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr,
};
use uuid::Uuid;

/// Gives the live session `id` a new cookie value (when it starts or stops impersonating:
/// a value copied before is worthless after) and returns it, once, here.
pub async fn rotate(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<String>> {
    let cookie_value = tokens::random_token();
    let rotated = idp_session::Entity::update_many()
        .col_expr(
            idp_session::Column::TokenHash,
            Expr::value(tokens::hash_token(&cookie_value)),
        )
        .filter(idp_session::Column::Id.eq(id))
        .filter(idp_session::Column::EndedAt.is_null())
        .exec(db)
        .await?;
    Ok((rotated.rows_affected == 1).then_some(cookie_value))
}

/// A session that was just started: the cookie value is returned once, here.
pub struct Started {
    pub cookie_value: String,
    pub session: idp_session::Model,
}

/// The signed-in user behind a valid session cookie.
#[derive(Clone, Debug)]
pub struct Current {
    pub session: idp_session::Model,
    pub user: user::Model,
}

/// Starts a session for `user_id` that lasts `lifetime_secs`.
pub async fn start(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    lifetime_secs: i64,
) -> Result<Started> {
    let now = clock::now();
    let cookie_value = tokens::random_token();
    let session = idp_session::ActiveModel {
        id: Set(crate::store::db::new_record_id()),
        token_hash: Set(tokens::hash_token(&cookie_value)),
        user_id: Set(user_id),
        auth_time: Set(now),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(now + lifetime_secs),
        ended_at: Set(None),
        impersonation_session_id: Set(None),
    };
    let session = idp_session::Entity::insert(session)
        .exec_with_returning(db)
        .await?;
    Ok(Started {
        cookie_value,
        session,
    })
}

/// Records that the user of session `id` entered their password again now (a step-up):
/// `auth_time` moves to now.
pub async fn reauthenticated(db: &impl ConnectionTrait, id: Uuid) -> Result<()> {
    idp_session::Entity::update_many()
        .col_expr(
            idp_session::Column::AuthTime,
            sea_orm::sea_query::Expr::value(clock::now()),
        )
        .filter(idp_session::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Resolves a cookie value to its live session and active user. An ended or expired
/// session, or a user who is no longer active, resolves to `None`.
pub async fn resolve(db: &impl ConnectionTrait, cookie_value: &str) -> Result<Option<Current>> {
    let now = clock::now();
    let Some(session) = idp_session::Entity::find()
        .filter(idp_session::Column::TokenHash.eq(tokens::hash_token(cookie_value)))
        .filter(idp_session::Column::EndedAt.is_null())
        .filter(idp_session::Column::ExpiresAt.gt(now))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let user = user::Entity::find_by_id(session.user_id).one(db).await?;
    Ok(user
        .filter(|user| user.status == UserStatus::Active)
        .map(|user| Current { session, user }))
}

/// Ends the session behind `cookie_value` and returns it, if it was still live. Ending
/// twice is harmless. Signing out is `crate::impersonation::session::sign_out`, which
/// ends the impersonation the session runs too.
pub async fn end(
    db: &impl ConnectionTrait,
    cookie_value: &str,
) -> Result<Option<idp_session::Model>> {
    let hash = tokens::hash_token(cookie_value);
    let Some(live) = idp_session::Entity::find()
        .filter(idp_session::Column::TokenHash.eq(&hash))
        .filter(idp_session::Column::EndedAt.is_null())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let result = idp_session::Entity::update_many()
        .col_expr(idp_session::Column::EndedAt, Expr::value(clock::now()))
        .filter(idp_session::Column::Id.eq(live.id))
        .filter(idp_session::Column::EndedAt.is_null())
        .exec(db)
        .await?;
    if result.rows_affected != 1 {
        return Ok(None);
    }
    publish_signed_out(db, &live).await?;
    Ok(Some(live))
}

/// Tells receivers outside that a sign-in ended (`session.revoked`; applications signed
/// in through it get a back-channel logout token).
async fn publish_signed_out(db: &impl ConnectionTrait, ended: &idp_session::Model) -> Result<()> {
    let Some(user) = crate::users::find(db, ended.user_id).await? else {
        return Ok(());
    };
    let mut event = crate::events::about_user(crate::events::kind::SESSION_REVOKED, &user);
    event.data["cause"] = serde_json::json!(crate::events::cause::SIGNED_OUT);
    event.data["signInId"] = serde_json::json!(ended.id);
    crate::events::publish(db, event).await
}

/// A user's live sessions, the most recently used first.
pub async fn live_for_user(
    db: &impl ConnectionTrait,
    user_id: Uuid,
) -> Result<Vec<idp_session::Model>> {
    use sea_orm::QueryOrder;
    Ok(idp_session::Entity::find()
        .filter(idp_session::Column::UserId.eq(user_id))
        .filter(idp_session::Column::EndedAt.is_null())
        .filter(idp_session::Column::ExpiresAt.gt(clock::now()))
        .order_by_desc(idp_session::Column::LastSeenAt)
        .all(db)
        .await?)
}

/// Ends every live session of a user (sign out everywhere). Returns how many ended. (The
/// caller ends the impersonations they run, as for [`end`].)
pub async fn end_all_for_user(db: &impl ConnectionTrait, user_id: Uuid) -> Result<u64> {
    let live = idp_session::Entity::find()
        .filter(idp_session::Column::UserId.eq(user_id))
        .filter(idp_session::Column::EndedAt.is_null())
        .all(db)
        .await?;
    let mut ended = 0;
    for session in live {
        let result = idp_session::Entity::update_many()
            .col_expr(idp_session::Column::EndedAt, Expr::value(clock::now()))
            .filter(idp_session::Column::Id.eq(session.id))
            .filter(idp_session::Column::EndedAt.is_null())
            .exec(db)
            .await?;
        if result.rows_affected == 1 {
            publish_signed_out(db, &session).await?;
            ended += 1;
        }
    }
    Ok(ended)
}
