//! The second step (SPEC §2.2, RFC 8693): a subject token and the impersonator's ID token
//! (the actor token) become an access token for the target with `act`, inside a new
//! impersonation session. [`exchange`] is the whole use case; `/oauth2/token` and the
//! Console's hand-off to My Account both call it.

use super::approval;
use super::claims::SubjectClaims;
use super::policy::{self, Refusal, SignIn};
use super::session::{self, NewSession, Running};
use crate::audit::{self, Event, action};
use crate::entities::application;
use crate::keys::TokenError;
use crate::oauth::claims::IdClaims;
use crate::oauth::{Provider, codes, grants, scope, token_type};
use crate::store::cache::Reads;
use crate::store::db::Batch;
use crate::store::group_commit::{Outcome, Token};
use uuid::Uuid;

/// An exchange request, its form checked by the caller.
pub struct Request<'a> {
    /// The client making the exchange.
    pub app: &'a application::Model,
    pub subject_token: &'a str,
    /// The impersonator's ID token.
    pub actor_token: &'a str,
    /// PKCE verifier, when the subject token was asked for with a challenge.
    pub code_verifier: Option<&'a str>,
}

/// What a successful exchange issued.
#[derive(Debug)]
pub struct Exchanged {
    pub tokens: grants::Minted,
    pub session_id: Uuid,
}

/// Why an exchange failed. The texts are for the client.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("The subject_token is not valid: {0}.")]
    SubjectToken(TokenError),
    #[error("The subject_token was not issued to this client.")]
    OtherClient,
    #[error("The actor_token is not a valid ID token for this client: {0}.")]
    ActorToken(TokenError),
    #[error("The actor_token's subject is not the one allowed to act (may_act).")]
    NotMayAct,
    #[error("code_verifier is missing.")]
    VerifierMissing,
    #[error("The code_verifier does not match the authorization request.")]
    VerifierMismatch,
    #[error("The subject_token was already used.")]
    AlreadyUsed,
    /// A rule refused, now (recorded as `impersonation-denied`; the subject token is used
    /// up).
    #[error("{}", refusal_text(*.0))]
    Refused(Refusal),
    #[error(transparent)]
    Internal(#[from] crate::Error),
}

fn refusal_text(refusal: Refusal) -> String {
    match (refusal, refusal.requirement()) {
        (_, Some(requirement)) => requirement.to_owned(),
        (Refusal::ImpersonatorInactive, None) => {
            "The impersonator may no longer sign in.".to_owned()
        }
        (other, None) => format!("Impersonation is no longer allowed: {other}."),
    }
}

pub async fn exchange(
    provider: &Provider,
    reads: &Reads<'_>,
    request: Request<'_>,
) -> Result<Exchanged, ExchangeError> {
    let app = request.app;
    let (keys, issuer) = (&provider.keys, &provider.issuer);
    let subject: SubjectClaims = keys
        .verify(request.subject_token, token_type::SUBJECT, issuer, None)
        .await
        .map_err(ExchangeError::SubjectToken)?;
    if subject.aud != app.client_id {
        return Err(ExchangeError::OtherClient);
    }
    let actor: IdClaims = keys
        .verify(
            request.actor_token,
            token_type::ID,
            issuer,
            Some(&app.client_id),
        )
        .await
        .map_err(ExchangeError::ActorToken)?;
    if subject.may_act.sub != actor.sub {
        return Err(ExchangeError::NotMayAct);
    }
    if let Some(challenge) = &subject.code_challenge {
        let verifier = request
            .code_verifier
            .ok_or(ExchangeError::VerifierMissing)?;
        if !codes::pkce_matches(verifier, challenge) {
            return Err(ExchangeError::VerifierMismatch);
        }
    }
    let Ok(sign_in) = Uuid::parse_str(&subject.sid) else {
        return Err(ExchangeError::SubjectToken(TokenError::Malformed));
    };

    // Everything that only reads, and the signing, happens before the write transaction,
    // so that exchanges overlap there and queue only for their few writes. The rules run
    // on today's data (`reads` is as of this request): the impersonator may have lost the
    // role, the target may have been disabled, since the subject token was issued.
    let single_use = Token {
        jti: subject.jti.clone(),
        kind: "subject_token",
        expires_at: subject.exp,
    };
    // A refused exchange uses its subject token up too: it cannot be tried again. The
    // denial is recorded once, by the request that used the token up.
    let refuse = async |refusal: Refusal| -> Result<Exchanged, ExchangeError> {
        let mut writes = Batch::new(&provider.db);
        audit::record_in(
            &mut writes,
            refusal.event(&actor.sub, &subject.sub, &app.client_id),
        );
        provider
            .single_use
            .use_up(single_use.clone(), writes)
            .await?;
        Err(ExchangeError::Refused(refusal))
    };
    let impersonator = match Uuid::parse_str(&actor.sub) {
        Ok(id) => crate::users::cached(reads, id).await?,
        Err(_) => None,
    };
    let Some(impersonator) = impersonator else {
        return refuse(Refusal::ImpersonatorInactive).await;
    };
    let pair = policy::pair_cached(reads, app, &impersonator, &subject.sub).await?;
    let organization = pair
        .target
        .as_ref()
        .map_or(impersonator.organization_id, |t| t.organization_id);
    let settings = crate::settings::impersonation_cached(reads, organization).await?;
    // The approval, as of now: the request the subject token was issued with, still
    // approved and unused (or the user's standing access, still granted).
    let pinned = match subject.request {
        Some(id) => approval::Pinned::Request(id),
        None => approval::Pinned::NoRequest,
    };
    let usable = match &pair.target {
        Some(target) => {
            approval::usable(&provider.db, &settings, impersonator.id, target.id, pinned).await?
        }
        None => approval::Usable::Missing,
    };
    // The organization's requirements as of now, of what was brought to the subject token
    // request: the password entered recently enough before it, the reason, the ticket.
    let asked = policy::Asked {
        reason: &subject.reason,
        ticket: &subject.ticket,
        auth_time: actor.auth_time,
        at: subject.iat,
        mode: Some(subject.mode),
        approved: usable.approved(),
    };
    let facts = policy::Facts::of(
        app,
        &impersonator,
        &pair,
        SignIn::AtStart,
        Some(&settings),
        &asked,
    );
    let target = match (policy::decide(&facts), pair.target) {
        (Ok(()), Some(target)) => target,
        (refused, _) => return refuse(refused.err().unwrap_or(Refusal::UnknownTarget)).await,
    };
    let template = if settings.enable_email_notification && !target.email.is_empty() {
        Some(
            crate::mail::template_cached(
                reads,
                target.organization_id,
                crate::mail::IMPERSONATION_NOTIFICATION,
                crate::mail::DEFAULT_LOCALE,
            )
            .await?,
        )
    } else {
        None
    };
    let mut writes = Batch::new(&provider.db);
    let session = session::start_in(
        &mut writes,
        NewSession {
            id: crate::store::db::new_record_id(),
            impersonator: &impersonator,
            target: &target,
            application_id: app.id,
            idp_session_id: sign_in,
            sign_in_expires_at: subject.sid_exp.unwrap_or(i64::MAX),
            reason: &subject.reason,
            ticket: &subject.ticket,
            read_only: subject.mode == crate::settings::Mode::ReadOnly,
            max_minutes: settings.max_session_duration_minutes,
            asked_minutes: subject.duration_minutes,
            approval: &usable,
        },
    );
    let prepared = grants::prepare(
        provider,
        reads,
        grants::Mint {
            app,
            user: Some(&target),
            scopes: session::narrow(scope::parse(&subject.scope), app, session.read_only),
            grant_scopes: None,
            auth_time: Some(actor.auth_time),
            nonce: None,
            idp_session_id: Some(sign_in),
            code_id: None,
            impersonation: Some(Running::from(&session)),
            organization_id: None,
            id_token: false,
            refresh: if app.refresh_for_impersonation {
                grants::RefreshPlan::NewFamily
            } else {
                grants::RefreshPlan::None
            },
        },
    )
    .await?;

    // The session, the user's mail, the tokens and the audit records are written only if
    // this request is the one that uses the subject token up (the first of simultaneous
    // ones) and the sign-in runs no other impersonation then, in the same transaction; see
    // `crate::store::group_commit`. The user is told in it: no mail for an exchange that
    // failed, and no exchange without its mail.
    if let Some(template) = template {
        let mail = crate::mail::render(
            &template,
            &[
                ("user-name", target.username.as_str()),
                ("login-time", &crate::clock::rfc3339(session.started_at)),
                ("impersonator-user-name", impersonator.username.as_str()),
            ],
        );
        crate::mail::enqueue_in(&mut writes, &target.email, &mail);
    }
    let minted = grants::store_in(&mut writes, prepared);
    let event = |action: &'static str| Event {
        action,
        success: true,
        actor_id: Some(impersonator.id.to_string()),
        impersonator_id: Some(impersonator.id.to_string()),
        target_id: Some(target.id.to_string()),
        client_id: Some(app.client_id.clone()),
        impersonation_session_id: Some(session.id),
        scope: Some(minted.scope.clone()),
        reason: session.reason.clone(),
        ..Event::default()
    };
    audit::record_in(&mut writes, event(action::IMPERSONATION_STARTED));
    audit::record_in(&mut writes, event(action::IMPERSONATED_TOKEN_ISSUED));
    crate::events::publish_in(
        &mut writes,
        super::events::started(&session, &target.username),
    );
    match provider.single_use.use_up(single_use, writes).await? {
        Outcome::Written => {
            metrics::counter!("impersonation_sessions_started_total").increment(1);
            Ok(Exchanged {
                tokens: minted,
                session_id: session.id,
            })
        }
        Outcome::AlreadyUsed => Err(ExchangeError::AlreadyUsed),
        Outcome::Unmet => {
            // The token is used up; the refusal is recorded on its own. Unmet: the sign-in
            // runs another impersonation, or the approval was used up (or revoked) by
            // then.
            let approval_gone = match &usable {
                approval::Usable::Request { .. } | approval::Usable::Standing(_) => {
                    !approval::usable(&provider.db, &settings, impersonator.id, target.id, pinned)
                        .await?
                        .approved()
                }
                approval::Usable::NotAsked | approval::Usable::Missing => false,
            };
            let refusal = match approval_gone {
                true => Refusal::ApprovalRequired,
                false => Refusal::AlreadyImpersonating,
            };
            let event = refusal.event(&actor.sub, &subject.sub, &app.client_id);
            audit::record(&provider.db, event).await?;
            Err(ExchangeError::Refused(refusal))
        }
    }
}
