//! What impersonation puts in tokens: the subject token's claims, with the impersonator in
//! `may_act` (who may act for the target), and `act` (who really acts) in every token of
//! an impersonation session (RFC 8693 §4.1, §4.4).

use crate::oauth::claims::Actor;
use uuid::Uuid;

/// Claims of a subject token (SPEC §2.1): the target as `sub`, the impersonator in
/// `may_act`, and what the exchange needs to bind itself to this request.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SubjectClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub azp: String,
    pub client_id: String,
    #[serde(default)]
    pub scope: String,
    pub may_act: Actor,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    /// The impersonator's IdP session.
    pub sid: String,
    /// When that session ends: the impersonation ends then at the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid_exp: Option<i64>,
    /// The impersonator's reason.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The help-desk ticket the impersonator gave.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ticket: String,
    /// The session's mode, decided at this request.
    #[serde(default)]
    pub mode: crate::settings::Mode,
    /// How long the impersonator asked the session to last, in minutes (`None`: as long
    /// as the organization allows; Extend lengthens a shorter one up to that).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_minutes: Option<i64>,
    /// The approved request this token was issued with (where the organization asks for
    /// approval): the exchange uses it up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Uuid>,
    /// PKCE challenge of the authorization request, checked at the exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
}

/// The `impersonation_mode` claim of a read-only session's tokens (absent otherwise).
pub const READ_ONLY: &str = "read-only";

/// The `may_act` and `act` claims naming `user_id`.
pub fn actor(user_id: Uuid) -> Actor {
    Actor {
        sub: user_id.to_string(),
    }
}
