//! Scopes: parsing and what a request may be granted.

use crate::Result;
use crate::entities::{application, role, role_scope};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

/// OpenID Connect scopes that any application may ask any user for.
pub const OPENID_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

/// Splits a scope parameter on spaces (RFC 6749 §3.3) and, as WSO2's own examples do, on
/// commas; keeps the first occurrence of each.
pub fn parse(scope: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scope
        .split([' ', ',', '\n', '\t'])
        .filter(|s| !s.is_empty())
    {
        if !out.iter().any(|x| x == s) {
            out.push(s.to_owned());
        }
    }
    out
}

/// Joins scopes for the wire.
pub fn join(scopes: &[String]) -> String {
    scopes.join(" ")
}

/// The scopes `user_id` holds for `app`: through roles whose audience is the application,
/// and, for the system applications (Console, My Account), through organization roles.
pub async fn user_scopes(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    app: &application::Model,
) -> Result<Vec<String>> {
    let role_ids = crate::roles::ids_of_user(db, user_id).await?;
    if role_ids.is_empty() {
        return Ok(Vec::new());
    }
    let roles = role::Entity::find()
        .filter(role::Column::Id.is_in(role_ids))
        .all(db)
        .await?;
    let relevant: Vec<Uuid> = roles
        .iter()
        .filter(|r| match r.audience_type {
            role::AudienceType::Application => r.audience_id == app.id,
            role::AudienceType::Organization => app.system,
        })
        .map(|r| r.id)
        .collect();
    if relevant.is_empty() {
        return Ok(Vec::new());
    }
    let scopes: Vec<String> = role_scope::Entity::find()
        .select_only()
        .column(role_scope::Column::Scope)
        .filter(role_scope::Column::RoleId.is_in(relevant))
        .into_tuple()
        .all(db)
        .await?;
    Ok(scopes)
}

/// What a user's authorization request is granted: the requested scopes that are OpenID
/// scopes, or API scopes that the application is authorized for *and* the user holds for
/// it through a role. Order follows the request.
pub async fn grantable(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    app: &application::Model,
    requested: &[String],
) -> Result<Vec<String>> {
    let held = user_scopes(db, user_id, app).await?;
    let authorized = crate::api_resources::authorized_scopes(db, app.id).await?;
    Ok(requested
        .iter()
        .filter(|s| {
            OPENID_SCOPES.contains(&s.as_str()) || (held.contains(s) && authorized.contains(s))
        })
        .cloned()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn scopes_split_on_spaces_and_commas_without_duplicates() {
        assert_eq!(parse("openid profile"), ["openid", "profile"]);
        assert_eq!(
            parse("openid,internal_user_impersonate"),
            ["openid", "internal_user_impersonate"]
        );
        assert_eq!(parse(" openid  openid "), ["openid"]);
        assert!(parse("").is_empty());
    }
}
