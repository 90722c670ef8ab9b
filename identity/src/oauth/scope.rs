//! Scopes: parsing and what a request may be granted.

use crate::Result;
use crate::entities::application;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

/// Scopes that any application may ask any user for: OpenID Connect's, and self-service.
pub const OPENID_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "offline_access",
    crate::scopes::SELF_SERVICE,
];

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

/// What a user's authorization request is granted: the requested scopes that are OpenID
/// scopes, or API scopes that the application is authorized for *and* the user holds for
/// it through a role. Order follows the request.
pub async fn grantable(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    app: &application::Model,
    requested: &[String],
) -> Result<Vec<String>> {
    let held = crate::roles::held(db, user_id).await?;
    let held = held.scopes(crate::roles::Audience::Application(app));
    let authorized = crate::api_resources::authorized_scopes(db, app.id).await?;
    Ok(requested
        .iter()
        .filter(|s| {
            OPENID_SCOPES.contains(&s.as_str())
                || (held.contains(s.as_str()) && authorized.contains(s))
        })
        .cloned()
        .collect())
}

/// Whether `app` would grant `scope` to the user now ([`grantable`] for one scope), kept
/// while nothing changes (`crate::store::cache`).
pub async fn grantable_cached(
    reads: &crate::store::cache::Reads<'_>,
    user_id: Uuid,
    app: &application::Model,
    scope: &str,
) -> Result<bool> {
    struct Grantable;
    impl crate::store::cache::Kind for Grantable {
        type Key = (Uuid, Uuid, String);
        type Value = bool;
    }
    let load = async move {
        let wanted = [scope.to_owned()];
        Ok(!grantable(reads.db(), user_id, app, &wanted)
            .await?
            .is_empty())
    };
    reads
        .remembered::<Grantable>((user_id, app.id, scope.to_owned()), load)
        .await
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
