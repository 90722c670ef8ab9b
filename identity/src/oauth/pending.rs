//! Authorization requests waiting for the user's consent: stored server-side behind a
//! random handle, bound to the user and IdP session, taken at most once.

use crate::entities::authorization_request;
use crate::{Result, clock, tokens};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How long a consent page stays valid.
pub const LIFETIME_SECS: i64 = 600;

/// Everything needed to finish a validated authorization request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    pub client_id: String,
    pub redirect_uri: String,
    pub response_mode: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub scopes: Vec<String>,
    pub auth_time: i64,
}

/// Stores a pending request and returns its handle.
pub async fn create(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    idp_session_id: Uuid,
    application_id: Uuid,
    pending: &Pending,
) -> Result<String> {
    let handle = tokens::random_token();
    let now = clock::now();
    authorization_request::Entity::insert(authorization_request::ActiveModel {
        id: Set(crate::store::db::new_record_id()),
        handle_hash: Set(tokens::hash_token(&handle)),
        user_id: Set(user_id),
        idp_session_id: Set(idp_session_id),
        application_id: Set(application_id),
        params: Set(serde_json::to_value(pending).map_err(anyhow::Error::from)?),
        created_at: Set(now),
        expires_at: Set(now + LIFETIME_SECS),
        consumed_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(handle)
}

/// Reads a live pending request of this session, without taking it (for the page).
pub async fn peek(
    db: &impl ConnectionTrait,
    handle: &str,
    idp_session_id: Uuid,
) -> Result<Option<(authorization_request::Model, Pending)>> {
    let found = authorization_request::Entity::find()
        .filter(authorization_request::Column::HandleHash.eq(tokens::hash_token(handle)))
        .filter(authorization_request::Column::IdpSessionId.eq(idp_session_id))
        .filter(authorization_request::Column::ConsumedAt.is_null())
        .filter(authorization_request::Column::ExpiresAt.gt(clock::now()))
        .one(db)
        .await?;
    Ok(found.and_then(|row| {
        let pending = serde_json::from_value(row.params.clone()).ok()?;
        Some((row, pending))
    }))
}

/// Takes a pending request of this session exactly once.
pub async fn take(
    db: &impl ConnectionTrait,
    handle: &str,
    idp_session_id: Uuid,
) -> Result<Option<(authorization_request::Model, Pending)>> {
    let Some((row, pending)) = peek(db, handle, idp_session_id).await? else {
        return Ok(None);
    };
    let taken = authorization_request::Entity::update_many()
        .col_expr(
            authorization_request::Column::ConsumedAt,
            Expr::value(clock::now()),
        )
        .filter(authorization_request::Column::Id.eq(row.id))
        .filter(authorization_request::Column::ConsumedAt.is_null())
        .exec(db)
        .await?;
    Ok((taken.rows_affected == 1).then_some((row, pending)))
}
