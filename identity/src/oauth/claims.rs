//! The claims of the tokens we sign.

use serde::{Deserialize, Serialize};

/// Who is really acting (RFC 8693 §4.1), in impersonated tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub sub: String,
}

/// A JWT access token (RFC 9068).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub azp: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// [`AccessClaims::USER`] for a user's token, [`AccessClaims::APPLICATION`] for client
    /// credentials (WSO2's values).
    pub aut: String,
    pub org_id: String,
    pub org_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// The impersonation session an impersonated token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonation_session_id: Option<String>,
    /// `read-only` in the tokens of a read-only impersonation session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonation_mode: Option<String>,
}

impl AccessClaims {
    /// `aut` of a token issued to a user.
    pub const USER: &str = "APPLICATION_USER";
    /// `aut` of a token an application got for itself (client credentials).
    pub const APPLICATION: &str = "APPLICATION";

    /// Whether the token was issued to an application for itself: such a token has no
    /// record of its own (`crate::oauth::revocation_list`).
    pub fn is_application(&self) -> bool {
        self.aut == Self::APPLICATION
    }
}

/// An OpenID Connect ID token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub azp: String,
    pub iat: i64,
    pub exp: i64,
    pub auth_time: i64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c_hash: Option<String>,
    /// The IdP session, for logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Who really acts, in the ID token of an impersonated sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// `read-only` in the ID token of a read-only impersonated sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonation_mode: Option<String>,
    #[serde(flatten)]
    pub profile: Profile,
}

/// Standard claims about the user, released by scope (`profile`, `email`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

impl Profile {
    /// The claims of `user` that `scopes` release.
    pub fn of(user: &crate::entities::user::Model, scopes: &[String]) -> Self {
        let has = |s: &str| scopes.iter().any(|x| x == s);
        let mut profile = Profile::default();
        if has("profile") {
            profile.name = Some(crate::users::display_name(user));
            profile.given_name = Some(user.given_name.clone()).filter(|s| !s.is_empty());
            profile.family_name = Some(user.family_name.clone()).filter(|s| !s.is_empty());
            profile.preferred_username = Some(user.username.clone());
        }
        if has("email") {
            profile.email = Some(user.email.clone());
            profile.email_verified = Some(false);
        }
        profile
    }
}

/// `at_hash` / `c_hash` (OIDC Core §3.1.3.6): left half of SHA-256, base64url.
pub fn half_hash(value: &str) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(value.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    #[test]
    fn half_hash_matches_the_openid_example() {
        // OIDC Core A.3 example access token and its at_hash.
        assert_eq!(
            super::half_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
