//! The access tokens an application got for itself (client credentials) are issued
//! without a write: no row records them. Such a token is live while its signature and
//! `exp` hold, its application is enabled and may still use the grant, and its `jti` is
//! not on this list. A revoked token stays on the list only until it would have expired
//! anyway, so the list is as small as the revocations of one token lifetime.
//!
//! A user's token keeps its record (`access_token`): its grant (code, refresh family,
//! impersonation session) writes anyway, and revoking the grant revokes its tokens by
//! those records.

use crate::entities::{application, revoked_access_token};
use crate::oauth::Provider;
use crate::oauth::claims::AccessClaims;
use crate::{Result, clock};
use sea_orm::sea_query::{Expr, Func, OnConflict, Query};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

/// Whether the token `jti` is on the list, as committed now (an introspection or an API
/// call checks this on every request: on an SQLite file it is read on the request's own
/// thread, see `crate::store::cache::ReadCache::read_now`).
pub async fn contains(provider: &Provider, jti: &str) -> Result<bool> {
    let db = &provider.db;
    let query = Query::select()
        .expr(Func::count(Expr::col(revoked_access_token::Column::Jti)))
        .from(revoked_access_token::Entity)
        .and_where(revoked_access_token::Column::Jti.eq(jti))
        .to_owned();
    let statement = db.get_database_backend().build(&query);
    Ok(provider.cache.read_now(db, statement).await? != Some(0))
}

/// Puts a verified token of `app` on the list. Returns whether it was not on it yet. The
/// entries of tokens that have expired since go at the same time.
pub async fn add(
    db: &sea_orm::DatabaseConnection,
    claims: &AccessClaims,
    app: &application::Model,
) -> Result<bool> {
    let now = clock::now();
    let txn = crate::store::db::begin_write(db).await?;
    revoked_access_token::Entity::delete_many()
        .filter(revoked_access_token::Column::ExpiresAt.lte(now))
        .exec(&*txn)
        .await?;
    let added = revoked_access_token::Entity::insert(revoked_access_token::ActiveModel {
        jti: Set(claims.jti.clone()),
        application_id: Set(app.id),
        expires_at: Set(claims.exp),
        revoked_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(revoked_access_token::Column::Jti)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&*txn)
    .await?;
    txn.commit().await?;
    Ok(added == 1)
}
