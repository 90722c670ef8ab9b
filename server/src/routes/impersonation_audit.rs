//! Every request to our own APIs made with an impersonated access token (one with `act`)
//! is audited with WSO2's action names: `resource-creation-via-impersonation` (POST),
//! `resource-modification-via-impersonation` (PUT, PATCH), `resource-deletion-via-impersonation`
//! (DELETE), `resource-access-via-impersonation` otherwise; the outcome follows the status.
//!
//! A change is recorded in the transaction that makes it: handlers write through
//! [`begin`], whose [`AuditedWrite::commit`] adds the record of the impersonated request
//! being served (if any) before committing. Requests that changed nothing (reads,
//! refusals) are recorded by the middleware once the response is known.

use crate::routes::oauth2::userinfo::bearer;
use crate::state::AppState;
use axum::{
    extract::{Request, State},
    http::Method,
    middleware::Next,
    response::Response,
};
use identity::audit::{self, Event, action};
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
    let Some(event) = impersonated_event(&state, token, method, path).await else {
        return next.run(request).await;
    };
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

/// The record to write for a request when its `token` is a valid impersonated access token.
async fn impersonated_event(
    state: &AppState,
    token: Option<String>,
    method: Method,
    path: String,
) -> Option<Event> {
    let claims = state
        .provider
        .keys
        .verify::<AccessClaims>(&token?, token_type::ACCESS, &state.provider.issuer, None)
        .await
        .ok()?;
    let act = claims.act?;
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
    Some(Event {
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
    })
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
