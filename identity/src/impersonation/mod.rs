//! Impersonation, the product's headline (SPEC §2): an administrator acts as a user, every
//! token says who really acts, the user is told, every step is audited.
//!
//! - [`policy`]: who may impersonate whom; every rule, in order, with its refusal.
//! - [`approval`]: requests for access, their decisions, and standing support access,
//!   where the organization asks for approval.
//! - [`subject_token`]: step one, the subject token from `/oauth2/authorize`.
//! - [`exchange`]: step two, the token exchange that starts a session.
//! - [`session`]: a session's start, end and expiry, and what ending revokes.
//! - [`single_sign_on`]: step three, signing in to applications as the target.
//! - [`claims`]: `may_act` and `act`, and the subject token's claims.
//! - [`readiness`]: whether an application is set up for impersonation.
//!
//! The HTTP handlers (`server/src/routes/oauth2/`) only parse the wire and map these
//! errors; the Console and My Account call the same functions.

pub mod approval;
pub mod claims;
pub mod events;
pub mod exchange;
pub mod policy;
pub mod readiness;
pub mod session;
pub mod single_sign_on;
pub mod subject_token;
