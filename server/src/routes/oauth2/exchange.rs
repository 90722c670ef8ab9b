//! The token exchange grant (RFC 8693) as WSO2's impersonation uses it (SPEC §2.2): a
//! subject token from `/oauth2/authorize` and the impersonator's ID token as actor token
//! become an access token for the target with `act: {sub: impersonator}`, inside a new
//! impersonation session.

use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use super::token::TokenResponse;
use crate::state::AppState;
use identity::audit::{self, Event, action};
use identity::cache::Reads;
use identity::entities::application;
use identity::impersonation::{self, SubjectClaims};
use identity::oauth::claims::IdClaims;
use identity::oauth::{codes, grants, scope, token_type};
use uuid::Uuid;

pub const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

fn invalid(description: impl Into<String>) -> OAuthError {
    OAuthError::invalid_request(description.into())
}

pub async fn exchange(
    state: &AppState,
    reads: &Reads<'_>,
    app: &application::Model,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let subject_token = params.require("subject_token")?;
    if params.require("subject_token_type")? != JWT {
        return Err(invalid(format!("subject_token_type must be {JWT}.")));
    }
    let actor_token = params.require("actor_token")?;
    if params.require("actor_token_type")? != ID_TOKEN {
        return Err(invalid(format!("actor_token_type must be {ID_TOKEN}.")));
    }
    if let Some(requested) = params.get("requested_token_type")
        && requested != ACCESS_TOKEN
    {
        return Err(invalid(format!("Only {ACCESS_TOKEN} can be issued.")));
    }
    let keys = &state.provider.keys;
    let issuer = &state.provider.issuer;
    let subject: SubjectClaims = keys
        .verify(subject_token, token_type::SUBJECT, issuer, None)
        .await
        .map_err(|e| invalid(format!("The subject_token is not valid: {e}.")))?;
    if subject.aud != app.client_id {
        return Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "The subject_token was not issued to this client.",
        ));
    }
    let actor: IdClaims = keys
        .verify(actor_token, token_type::ID, issuer, Some(&app.client_id))
        .await
        .map_err(|e| {
            invalid(format!(
                "The actor_token is not a valid ID token for this client: {e}."
            ))
        })?;
    if subject.may_act.sub != actor.sub {
        return Err(invalid(
            "The actor_token's subject is not the one allowed to act (may_act).",
        ));
    }
    if let Some(challenge) = &subject.code_challenge {
        let verifier = params
            .get("code_verifier")
            .ok_or_else(|| invalid("code_verifier is missing."))?;
        if !codes::pkce_matches(verifier, challenge) {
            return Err(invalid(
                "The code_verifier does not match the authorization request.",
            ));
        }
    }

    // Everything that only reads, and the signing, happens before the write transaction,
    // so that exchanges overlap there and queue only for their few writes. The checks run
    // on today's data (`reads` is as of this request): the impersonator may have lost the
    // role, the target may have been disabled, since the subject token was issued.
    let db = &state.db;
    let single_use = identity::single_use::Token {
        jti: subject.jti.clone(),
        kind: "subject_token",
        expires_at: subject.exp,
    };
    let denied = async |reason: String| -> Result<(), OAuthError> {
        // A refused exchange uses its subject token up too: it cannot be tried again. The
        // denial is recorded once, by the request that used the token up.
        let mut writes = identity::db::Batch::new(db);
        let event = Event {
            action: action::IMPERSONATION_DENIED,
            success: false,
            actor_id: Some(actor.sub.clone()),
            target_id: Some(subject.sub.clone()),
            client_id: Some(app.client_id.clone()),
            reason,
            ..Event::default()
        };
        audit::record_in(&mut writes, event);
        state
            .provider
            .single_use
            .use_up(single_use.clone(), writes)
            .await?;
        Ok(())
    };
    let impersonator = match Uuid::parse_str(&actor.sub) {
        Ok(id) => reads.user(id).await?,
        Err(_) => None,
    }
    .filter(|u| u.status == identity::entities::user::UserStatus::Active);
    let Some(impersonator) = impersonator else {
        denied("the impersonator may no longer sign in".into()).await?;
        return Err(invalid("The impersonator may no longer sign in."));
    };
    let target = match reads
        .impersonation_pair(app, &impersonator, &subject.sub)
        .await?
    {
        Ok(target) => target,
        Err(reason) => {
            denied(reason.to_string()).await?;
            return Err(invalid(format!(
                "Impersonation is no longer allowed: {reason}."
            )));
        }
    };
    let settings = reads.impersonation_settings(target.organization_id).await?;
    if settings.require_reason && subject.reason.is_empty() {
        denied("no reason given".into()).await?;
        return Err(invalid("A reason is required to impersonate a user."));
    }
    let template = if settings.enable_email_notification && !target.email.is_empty() {
        Some(
            reads
                .mail_template(
                    target.organization_id,
                    identity::mail::IMPERSONATION_NOTIFICATION,
                    identity::mail::DEFAULT_LOCALE,
                )
                .await?,
        )
    } else {
        None
    };
    let session_id = identity::db::new_record_id();
    let idp_session = Uuid::parse_str(&subject.sid).ok();
    let prepared = grants::prepare(
        &state.provider,
        reads,
        grants::Mint {
            app,
            user: Some(&target),
            scopes: scope::parse(&subject.scope),
            grant_scopes: None,
            auth_time: Some(actor.auth_time),
            nonce: None,
            idp_session_id: idp_session,
            code_id: None,
            actor: Some(impersonator.id),
            impersonation_session_id: Some(session_id),
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
    // ones), in the same transaction; see `identity::single_use`.
    let mut writes = identity::db::Batch::new(db);
    let session = impersonation::start_in(
        &mut writes,
        impersonation::NewSession {
            id: session_id,
            impersonator: &impersonator,
            target: &target,
            application_id: app.id,
            idp_session_id: idp_session,
            reason: &subject.reason,
            max_minutes: settings.max_session_duration_minutes,
        },
    );
    // The user is told in the same transaction: no mail for an exchange that failed, and
    // no exchange without its mail.
    if let Some(template) = template {
        let mail = identity::mail::render(
            &template,
            &[
                ("user-name", target.username.as_str()),
                ("login-time", &identity::clock::rfc3339(session.started_at)),
                ("impersonator-user-name", impersonator.username.as_str()),
            ],
        );
        identity::mail::enqueue_in(&mut writes, &target.email, &mail);
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
    if !state.provider.single_use.use_up(single_use, writes).await? {
        return Err(invalid("The subject_token was already used."));
    }
    let mut response = TokenResponse::from(minted);
    response.issued_token_type = Some(ACCESS_TOKEN);
    Ok(response)
}
