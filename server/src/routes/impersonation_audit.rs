//! Every request to our own APIs made with an impersonated access token (one with `act`)
//! is audited with WSO2's action names: `resource-creation-via-impersonation` (POST),
//! `resource-modification-via-impersonation` (PUT, PATCH), `resource-deletion-via-impersonation`
//! (DELETE), `resource-access-via-impersonation` otherwise; the outcome follows the status.
//!
//! A change is recorded in the transaction that makes it: handlers write through
//! [`begin`], whose [`AuditedWrite::commit`] adds the record of the impersonated request
//! being served (if any) before committing. Requests that changed nothing (reads,
//! refusals) are recorded by the middleware once the response is known.
//!
//! A read-only session's token (`impersonation_mode: read-only`) writes nothing here: every
//! write but Stop is refused (403) before it reaches its handler, and recorded as failed.

use crate::routes::oauth2::userinfo::bearer;
use crate::state::AppState;
use axum::{
    extract::{Request, State},
    http::Method,
    middleware::Next,
    response::Response,
};
use identity::audit::{self, Event, action};
use identity::impersonation::claims::READ_ONLY;
use identity::oauth::{claims::AccessClaims, token_type};
use identity::{DatabaseConnection, DatabaseTransaction};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The impersonated request being served, and whether its record is already written.
struct Pending {
    event: Event,
    recorded: AtomicBool,
}

tokio::task_local! {
    static IMPERSONATED: Arc<Pending>;
}

pub async fn audit_impersonated(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let token = bearer(request.headers()).map(str::to_owned);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let Some((event, read_only)) = impersonated_event(&state, token, method, path).await else {
        return next.run(request).await;
    };
    if read_only && writes(request.method(), request.uri().path()) {
        if let Err(error) = audit::record(&state.db, event).await {
            tracing::error!("auditing a refused read-only write failed: {error}");
        }
        let mut refused = read_only_refusal(request.uri().path());
        // The record above says what was refused; no second, anonymous one.
        crate::routes::rejections::take(&mut refused);
        return refused;
    }
    let pending = Arc::new(Pending {
        event,
        recorded: AtomicBool::new(false),
    });
    let mut response = IMPERSONATED.scope(pending.clone(), next.run(request)).await;
    // This record says what was refused; no second, anonymous one.
    crate::routes::rejections::take(&mut response);
    if !pending.recorded.load(Ordering::SeqCst) {
        let event = Event {
            success: response.status().is_success(),
            ..pending.event.clone()
        };
        if let Err(error) = audit::record(&state.db, event).await {
            tracing::error!("auditing an impersonated request failed: {error}");
        }
    }
    response
}

/// Whether a request would change something: any method but a read, except Stop (which
/// a read-only session may always do).
fn writes(method: &Method, path: &str) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        && path != crate::routes::management::impersonation_sessions::MINE
}

/// The 403 of a write with a read-only token, in the error shape of the API it was sent to.
fn read_only_refusal(path: &str) -> Response {
    use axum::{http::StatusCode, response::IntoResponse};
    const WHY: &str = "This impersonation is read-only: it cannot change anything.";
    if path.starts_with("/scim2/") {
        crate::routes::scim2::error::ScimError::new(StatusCode::FORBIDDEN, None, WHY)
            .into_response()
    } else {
        crate::routes::management::error::ApiError::Forbidden(WHY.to_owned()).into_response()
    }
}

/// The record to write for a request when its `token` is a valid impersonated access token,
/// and whether the token is of a read-only session.
async fn impersonated_event(
    state: &AppState,
    token: Option<String>,
    method: Method,
    path: String,
) -> Option<(Event, bool)> {
    let claims = state
        .provider
        .keys
        .verify::<AccessClaims>(&token?, token_type::ACCESS, &state.provider.issuer, None)
        .await
        .ok()?;
    let act = claims.act?;
    let read_only = claims.impersonation_mode.as_deref() == Some(READ_ONLY);
    let name = match method {
        Method::POST => action::RESOURCE_CREATION,
        Method::PUT | Method::PATCH => action::RESOURCE_MODIFICATION,
        Method::DELETE => action::RESOURCE_DELETION,
        _ => action::RESOURCE_ACCESS,
    };
    let session = identity::oauth::grants::impersonation_session_of(&state.db, &claims.jti)
        .await
        .ok()
        .flatten();
    let event = Event {
        action: name,
        success: false,
        actor_id: Some(claims.sub.clone()),
        impersonator_id: Some(act.sub),
        target_id: Some(claims.sub),
        client_id: Some(claims.client_id),
        impersonation_session_id: session,
        scope: Some(claims.scope),
        method: Some(method.to_string()),
        path: Some(path),
        reason: String::new(),
    };
    Some((event, read_only))
}

/// A write transaction of an API handler; see the module documentation.
pub struct AuditedWrite(identity::store::db::WriteTxn);

/// Begins the transaction a handler makes its change in.
pub async fn begin(db: &DatabaseConnection) -> identity::Result<AuditedWrite> {
    Ok(AuditedWrite(identity::store::db::begin_write(db).await?))
}

impl std::ops::Deref for AuditedWrite {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.0
    }
}

impl AuditedWrite {
    /// Records the impersonated request being served (if any) as successful, then commits
    /// both together. Dropping the value instead rolls everything back.
    pub async fn commit(self) -> identity::Result<()> {
        let pending = IMPERSONATED.try_with(Arc::clone).ok();
        if let Some(pending) = &pending
            && !pending.recorded.load(Ordering::SeqCst)
        {
            let event = Event {
                success: true,
                ..pending.event.clone()
            };
            audit::record(&*self.0, event).await?;
        }
        self.0.commit().await?;
        if let Some(pending) = pending {
            pending.recorded.store(true, Ordering::SeqCst);
        }
        Ok(())
    }
}
