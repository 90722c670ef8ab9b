//! The first step (SPEC §2.1): a signed-in impersonator asks `/oauth2/authorize` for a
//! subject token naming the user to impersonate. [`issue`] runs the rules, records the
//! outcome and signs the token; the exchange ([`super::exchange`]) turns it into a session.

use super::approval;
use super::claims::{SubjectClaims, actor};
use super::policy::{self, Refusal};
use crate::audit::{self, Event, action};
use crate::entities::application;
use crate::oauth::{Provider, grants, scope, token_type};
use crate::settings::Mode;
use crate::{clock, scopes, sessions};

/// A subject token request, parsed and checked for its form by the caller.
pub struct Request<'a> {
    pub app: &'a application::Model,
    /// The impersonator's sign-in.
    pub signed_in: &'a sessions::Current,
    /// `requested_subject`: the id of the user to impersonate.
    pub requested_subject: &'a str,
    /// The requested scopes (`internal_user_impersonate` among them).
    pub scopes: &'a [String],
    pub reason: &'a str,
    /// The help-desk ticket.
    pub ticket: &'a str,
    /// The mode asked for (`None`: the organization's default).
    pub mode: Option<crate::settings::Mode>,
    /// How long the session should last, in minutes (`None`: as long as allowed).
    pub duration_minutes: Option<i64>,
    /// PKCE challenge, checked at the exchange.
    pub code_challenge: Option<String>,
    /// `Some(nonce)` when an ID token of the impersonator goes with the subject token (the
    /// actor token of the exchange).
    pub id_token_nonce: Option<String>,
}

/// A subject token, and the impersonator's ID token when one was asked for.
pub struct Issued {
    pub subject_token: String,
    pub id_token: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// A rule refused (recorded as `impersonation-denied`).
    #[error("impersonation refused: {0}")]
    Refused(Refusal),
    #[error(transparent)]
    Internal(#[from] crate::Error),
}

pub async fn issue(provider: &Provider, request: Request<'_>) -> Result<Issued, IssueError> {
    let Request {
        app,
        signed_in,
        requested_subject,
        scopes: requested,
        reason,
        ticket,
        mode,
        duration_minutes,
        code_challenge,
        id_token_nonce,
    } = request;
    let db = &provider.db;
    let impersonator = &signed_in.user;
    let (mut reason, mut ticket, mut mode) = (reason.trim(), ticket.trim(), mode);
    let now = clock::now();
    let settings = crate::settings::impersonation(db, impersonator.organization_id).await?;
    let pair = policy::pair(db, app, impersonator, requested_subject).await?;
    let sign_in = policy::sign_in(db, &signed_in.session).await?;
    let usable = match &pair.target {
        Some(target) => {
            approval::usable(
                db,
                &settings,
                impersonator.id,
                target.id,
                approval::Pinned::Any,
            )
            .await?
        }
        None => approval::Usable::Missing,
    };
    // An approved request decides what was approved: its mode, and its reason and ticket
    // where none is given now.
    if let Some(request) = usable.request() {
        mode = Some(if request.read_only {
            Mode::ReadOnly
        } else {
            Mode::Full
        });
        if reason.is_empty() {
            reason = request.reason.as_str();
        }
        if ticket.is_empty() {
            ticket = request.ticket.as_str();
        }
    }
    let asked = policy::Asked {
        reason,
        ticket,
        auth_time: signed_in.session.auth_time,
        at: now,
        mode,
        approved: usable.approved(),
    };
    let facts = policy::Facts::of(app, impersonator, &pair, sign_in, Some(&settings), &asked);
    let target = match (policy::decide(&facts), pair.target) {
        (Ok(()), Some(target)) => target,
        (refused, _) => {
            let refusal = refused.err().unwrap_or(Refusal::UnknownTarget);
            let impersonator = impersonator.id.to_string();
            let event = refusal.event(&impersonator, requested_subject, &app.client_id);
            audit::record(db, event).await?;
            return Err(IssueError::Refused(refusal));
        }
    };
    // Check 6: what the target may be granted here.
    let wanted: Vec<String> = requested
        .iter()
        .filter(|s| *s != scopes::USER_IMPERSONATE)
        .cloned()
        .collect();
    let granted = scope::grantable(db, target.id, app, &wanted).await?;

    let session = &signed_in.session;
    let claims = SubjectClaims {
        iss: provider.issuer.clone(),
        sub: target.id.to_string(),
        aud: app.client_id.clone(),
        azp: app.client_id.clone(),
        client_id: app.client_id.clone(),
        scope: scope::join(&granted),
        may_act: actor(impersonator.id),
        iat: now,
        nbf: now,
        exp: (now + i64::from(app.subject_token_expiry_secs)).min(session.expires_at),
        jti: crate::store::db::new_record_id().to_string(),
        sid: session.id.to_string(),
        sid_exp: Some(session.expires_at),
        reason: reason.to_owned(),
        ticket: ticket.to_owned(),
        mode: settings.mode_for(mode).unwrap_or_default(),
        request: usable.request().map(|r| r.id),
        duration_minutes,
        code_challenge,
    };
    // A grant the application holds, signed like its access tokens.
    let subject_token =
        provider
            .keys
            .sign_with(app.access_token_alg(), token_type::SUBJECT, &claims)?;
    let id_token = match id_token_nonce {
        Some(nonce) => Some(grants::id_token(
            provider,
            app,
            impersonator,
            requested,
            session.auth_time,
            Some(nonce),
            Some(session.id),
        )?),
        None => None,
    };
    let issued = Event {
        action: action::SUBJECT_TOKEN_ISSUED,
        success: true,
        actor_id: Some(impersonator.id.to_string()),
        impersonator_id: Some(impersonator.id.to_string()),
        target_id: Some(target.id.to_string()),
        client_id: Some(app.client_id.clone()),
        scope: Some(claims.scope.clone()),
        reason: claims.reason.clone(),
        ..Event::default()
    };
    audit::record(db, issued).await?;
    Ok(Issued {
        subject_token,
        id_token,
    })
}
