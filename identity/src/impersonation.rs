//! Impersonation sessions: started by the token exchange, ended by the impersonator
//! (Stop), an administrator (End), or their hard limit; ending one revokes every code,
//! access token and refresh token derived from it in one transaction.

use crate::entities::{
    access_token, authorization_code, idp_session, impersonation_session, refresh_token,
};
use crate::{Result, clock};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr};
use uuid::Uuid;

/// The session if it is still running (not ended, not past its hard limit).
pub async fn live_session(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<impersonation_session::Model>> {
    Ok(impersonation_session::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|s| s.ended_at.is_none() && s.expires_at > clock::now()))
}

/// Ends a session and revokes everything derived from it. Returns `false` when it had
/// already ended (ending twice changes nothing).
pub async fn end(
    db: &impl ConnectionTrait,
    id: Uuid,
    ended_by: Option<Uuid>,
    reason: &str,
) -> Result<bool> {
    let now = clock::now();
    let ended = impersonation_session::Entity::update_many()
        .col_expr(impersonation_session::Column::EndedAt, Expr::value(now))
        .col_expr(impersonation_session::Column::EndedBy, Expr::value(ended_by))
        .col_expr(impersonation_session::Column::EndReason, Expr::value(reason.to_owned()))
        .filter(impersonation_session::Column::Id.eq(id))
        .filter(impersonation_session::Column::EndedAt.is_null())
        .exec(db)
        .await?;
    revoke_derived(db, id, now).await?;
    Ok(ended.rows_affected == 1)
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
        .col_expr(idp_session::Column::ImpersonationSessionId, Expr::value(Option::<Uuid>::None))
        .filter(idp_session::Column::ImpersonationSessionId.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Ends every session past its hard limit (the expiry sweep). Returns how many ended.
pub async fn expire_due(db: &impl ConnectionTrait) -> Result<u64> {
    let now = clock::now();
    let due = impersonation_session::Entity::find()
        .filter(impersonation_session::Column::EndedAt.is_null())
        .filter(impersonation_session::Column::ExpiresAt.lte(now))
        .all(db)
        .await?;
    let mut ended = 0;
    for session in due {
        if end(db, session.id, None, "expired").await? {
            ended += 1;
        }
    }
    Ok(ended)
}
