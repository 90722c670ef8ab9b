//! Authorization codes: issued at the authorization endpoint, redeemed once at the token
//! endpoint by the same client with the same redirect URI and the PKCE verifier.

use crate::entities::{access_token, authorization_code, refresh_token};
use crate::{Result, clock, tokens};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sea_orm::sea_query::{Expr, Query, UpdateStatement};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryTrait,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// How long a code lives (RFC 6749 §4.1.2 recommends at most ten minutes).
pub const LIFETIME_SECS: i64 = 60;

/// What a code carries from the authorization request to the token request.
pub struct NewCode {
    pub application_id: Uuid,
    pub user_id: Uuid,
    pub idp_session_id: Option<Uuid>,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub impersonation_session_id: Option<Uuid>,
}

/// Stores a new code and returns it (the only time it exists in clear).
pub async fn issue(db: &impl ConnectionTrait, new: NewCode) -> Result<String> {
    let code = tokens::random_token();
    let now = clock::now();
    authorization_code::Entity::insert(authorization_code::ActiveModel {
        id: Set(crate::store::db::new_record_id()),
        code_hash: Set(tokens::hash_token(&code)),
        application_id: Set(new.application_id),
        user_id: Set(new.user_id),
        idp_session_id: Set(new.idp_session_id),
        redirect_uri: Set(new.redirect_uri),
        scope: Set(new.scope),
        nonce: Set(new.nonce),
        code_challenge: Set(new.code_challenge),
        auth_time: Set(new.auth_time),
        created_at: Set(now),
        expires_at: Set(now + LIFETIME_SECS),
        consumed_at: Set(None),
        impersonation_session_id: Set(new.impersonation_session_id),
    })
    .exec_without_returning(db)
    .await?;
    Ok(code)
}

/// Why a code was refused (all of them are `invalid_grant` on the wire).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("the code is unknown or expired")]
    Unknown,
    #[error("the code was issued to another client")]
    OtherClient,
    #[error("the redirect_uri differs from the authorization request")]
    RedirectMismatch,
    #[error("the PKCE code_verifier does not match")]
    PkceMismatch,
    #[error("the code_verifier is missing")]
    PkceMissing,
    /// RFC 9700 §4.8.2: a verifier for a code that was issued without a challenge is
    /// refused, so that an attacker cannot turn PKCE off for a code they injected.
    #[error("a code_verifier was sent for a code issued without a code_challenge")]
    PkceUnexpected,
    #[error("the code was already used; the tokens issued for it are revoked")]
    Replayed,
    #[error("the user may no longer sign in")]
    UserInactive,
    #[error("the impersonation session the code was issued in has ended")]
    ImpersonationEnded,
}

/// Checks a presented code before it is used up ([`consume`]): it must be ours, live,
/// unused, issued to `application_id` for `redirect_uri`, and match its PKCE challenge.
/// A code used before fails as [`CodeError::Replayed`], and every token its first
/// redemption issued is revoked then ([`replayed`]).
pub async fn check(
    provider: &super::Provider,
    code: &str,
    application_id: Uuid,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
) -> Result<std::result::Result<authorization_code::Model, CodeError>> {
    let db = &provider.db;
    let Some(found) = find(provider, &tokens::hash_token(code)).await? else {
        return Ok(Err(CodeError::Unknown));
    };
    if found.application_id != application_id {
        return Ok(Err(CodeError::OtherClient));
    }
    if found.consumed_at.is_some() {
        replayed(db, found.id).await?;
        return Ok(Err(CodeError::Replayed));
    }
    if found.expires_at <= clock::now() {
        return Ok(Err(CodeError::Unknown));
    }
    if redirect_uri != Some(found.redirect_uri.as_str()) {
        return Ok(Err(CodeError::RedirectMismatch));
    }
    match (&found.code_challenge, code_verifier) {
        (Some(_), None) => return Ok(Err(CodeError::PkceMissing)),
        (Some(challenge), Some(verifier)) if !pkce_matches(verifier, challenge) => {
            return Ok(Err(CodeError::PkceMismatch));
        }
        (None, Some(_)) => return Ok(Err(CodeError::PkceUnexpected)),
        _ => {}
    }
    Ok(Ok(found))
}

/// The code whose hash is `hash`: on an SQLite file read on the caller's thread
/// (`crate::store::cache::ReadCache::read_directly`), through the pool otherwise.
async fn find(provider: &super::Provider, hash: &str) -> Result<Option<authorization_code::Model>> {
    let select =
        authorization_code::Entity::find().filter(authorization_code::Column::CodeHash.eq(hash));
    let query = select.build(sea_orm::DbBackend::Sqlite);
    let mut found = None;
    let read = provider.cache.read_directly(&provider.db, &query, |row| {
        let uuid = |i| row.uuid(i).unwrap_or_default();
        let text = |i| (!row.is_null(i)).then(|| row.text(i));
        found = Some(authorization_code::Model {
            id: uuid(0),
            code_hash: row.text(1),
            application_id: uuid(2),
            user_id: uuid(3),
            idp_session_id: row.uuid(4),
            redirect_uri: row.text(5),
            scope: row.text(6),
            nonce: text(7),
            code_challenge: text(8),
            auth_time: row.i64(9),
            created_at: row.i64(10),
            expires_at: row.i64(11),
            consumed_at: (!row.is_null(12)).then(|| row.i64(12)),
            impersonation_session_id: row.uuid(13),
        });
    });
    match read {
        Some(read) => read.map(|()| found),
        None => Ok(select.one(&provider.db).await?),
    }
}

/// Uses code `id` up, if nothing has yet: a condition for the writes of its redemption
/// (`crate::store::db::Batch::only_if`). Twenty simultaneous redemptions make one update.
pub fn consume(id: Uuid) -> UpdateStatement {
    Query::update()
        .table(authorization_code::Entity)
        .value(authorization_code::Column::ConsumedAt, clock::now())
        .and_where(authorization_code::Column::Id.eq(id))
        .and_where(authorization_code::Column::ConsumedAt.is_null())
        .returning_col(authorization_code::Column::Id)
        .to_owned()
}

/// A code was presented again: revokes the access and refresh tokens issued for it.
pub async fn replayed(db: &sea_orm::DatabaseConnection, code_id: Uuid) -> Result<()> {
    let txn = crate::store::db::begin_write(db).await?;
    revoke_issued_for(&txn, code_id).await?;
    txn.commit().await?;
    Ok(())
}

/// The S256 code challenge of `verifier` (RFC 7636 §4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636 S256: BASE64URL(SHA256(verifier)) == challenge, in constant time. A verifier
/// must be 43 to 128 characters of the unreserved set.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = pkce_challenge(verifier);
    well_formed && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

/// Revokes the access and refresh tokens issued for a code (after its replay), in `db`.
async fn revoke_issued_for(db: &impl ConnectionTrait, code_id: Uuid) -> Result<()> {
    let now = clock::now();
    access_token::Entity::update_many()
        .col_expr(access_token::Column::RevokedAt, Expr::value(now))
        .filter(access_token::Column::CodeId.eq(code_id))
        .filter(access_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    let families: Vec<Uuid> = refresh_token::Entity::find()
        .filter(refresh_token::Column::CodeId.eq(code_id))
        .all(db)
        .await?
        .into_iter()
        .map(|t| t.family_id)
        .collect();
    for family in families {
        super::grants::revoke_family(db, family).await?;
    }
    tracing::warn!(%code_id, "authorization code replayed: its tokens are revoked");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::pkce_matches;

    #[test]
    fn pkce_s256_matches_the_rfc_7636_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX",
            challenge
        ));
        assert!(!pkce_matches("short", challenge));
    }
}
