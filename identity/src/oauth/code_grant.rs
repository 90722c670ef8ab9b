//! The authorization code grant (RFC 6749 §4.1.3, with PKCE, RFC 7636 §4.5) as one use
//! case. The code is checked and the tokens are signed before anything is written; then
//! the code is used up and the tokens are recorded in one commit shared with the other
//! requests of the moment (`crate::store::group_commit`), as the token exchange does. Of
//! simultaneous redemptions of one code exactly one succeeds, and the others revoke what
//! it issued (RFC 9700 §4.14: a replayed code).

use super::codes::{self, CodeError};
use super::grants::{self, Mint, Minted, RefreshPlan};
use super::{Provider, scope};
use crate::entities::{application, user};
use crate::impersonation::session::{self, Running};
use crate::store::cache::Reads;
use crate::store::db::Batch;
use crate::store::group_commit::{Outcome, Token};

/// A code presented at the token endpoint by `app` (already authenticated).
pub struct Redemption<'a> {
    pub app: &'a application::Model,
    pub code: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    /// Whether the grant gets a refresh token (an impersonated one only where the
    /// application allows refresh for impersonation).
    pub refresh: RefreshPlan,
}

/// Redeems a code for tokens, once.
pub async fn redeem(
    provider: &Provider,
    reads: &Reads<'_>,
    r: Redemption<'_>,
) -> crate::Result<Result<Minted, CodeError>> {
    let db = &provider.db;
    let code =
        match codes::check(provider, r.code, r.app.id, r.redirect_uri, r.code_verifier).await? {
            Ok(code) => code,
            Err(refused) => return Ok(Err(refused)),
        };
    let user = crate::users::cached(reads, code.user_id).await?;
    let Some(user) = user.filter(|u| u.status == user::UserStatus::Active) else {
        return Ok(Err(CodeError::UserInactive));
    };
    // A code issued inside an impersonation session carries its `act` while it lasts.
    let impersonation = match code.impersonation_session_id {
        Some(id) => match session::live(db, id).await? {
            Some(running) => Some(Running::from(&running)),
            None => return Ok(Err(CodeError::ImpersonationEnded)),
        },
        None => None,
    };
    let refresh = match impersonation {
        Some(_) if !r.app.refresh_for_impersonation => RefreshPlan::None,
        _ => r.refresh,
    };
    let scopes = scope::parse(&code.scope);
    let prepared = grants::prepare(
        provider,
        reads,
        Mint {
            app: r.app,
            user: Some(&user),
            id_token: scopes.iter().any(|s| s == "openid"),
            scopes,
            grant_scopes: None,
            auth_time: Some(code.auth_time),
            nonce: code.nonce.clone(),
            idp_session_id: code.idp_session_id,
            code_id: Some(code.id),
            impersonation,
            organization_id: None,
            refresh,
        },
    )
    .await?;
    let mut writes = Batch::new(db);
    writes.only_if(&codes::consume(code.id));
    let minted = grants::store_in(&mut writes, prepared);
    let single_use = Token {
        jti: code.id.to_string(),
        kind: "authorization_code",
        expires_at: code.expires_at,
    };
    match provider.single_use.use_up(single_use, writes).await? {
        Outcome::Written => Ok(Ok(minted)),
        // The code was consumed meanwhile by the end of its impersonation session, which
        // revoked what it had issued: not a replay.
        Outcome::Unmet if impersonation_over(db, &code).await? => {
            Ok(Err(CodeError::ImpersonationEnded))
        }
        // Another redemption was first (in this group, an earlier one, or on another
        // instance): what it issued is revoked.
        Outcome::AlreadyUsed | Outcome::Unmet => {
            codes::replayed(db, code.id).await?;
            Ok(Err(CodeError::Replayed))
        }
    }
}

/// Whether `code` was issued in an impersonation session that is over now.
async fn impersonation_over(
    db: &sea_orm::DatabaseConnection,
    code: &crate::entities::authorization_code::Model,
) -> crate::Result<bool> {
    Ok(match code.impersonation_session_id {
        Some(id) => session::live(db, id).await?.is_none(),
        None => false,
    })
}
