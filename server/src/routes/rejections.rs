//! Every refused request leaves an audit record (SPEC §7): the error types of the OAuth
//! endpoints, SCIM and the management API, the authorization endpoint's error redirects
//! and error pages, and the sign-in form mark their responses with [`Rejected`]; the
//! middleware writes one `request-rejected` record for each marked response (the request
//! changed nothing, so there is no transaction to share). The record names the method, the
//! path and the error, never a token, a secret or a password. Server faults are logged,
//! not recorded here: they are ours, not the caller's.

use crate::state::AppState;
use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use identity::audit::{self, Event, action};

/// Marks a refused request on its response.
#[derive(Clone, Debug)]
pub struct Rejected {
    /// The protocol's error code (`invalid_grant`, `invalidValue`, `AUT-10001`, ...).
    pub error: String,
    /// The description the client was given.
    pub description: String,
    /// The user refused, when the caller was authenticated (a delegation refusal).
    pub actor: Option<uuid::Uuid>,
}

/// Marks `response` as a refusal with `error` and `description`.
pub fn mark(response: Response, error: &str, description: &str) -> Response {
    mark_by(response, error, description, None)
}

/// Marks `response` as a refusal of `actor` with `error` and `description`.
pub fn mark_by(
    mut response: Response,
    error: &str,
    description: &str,
    actor: Option<uuid::Uuid>,
) -> Response {
    response.extensions_mut().insert(Rejected {
        error: error.to_owned(),
        description: description.to_owned(),
        actor,
    });
    response
}

/// Takes the mark off `response` (for a layer that recorded the refusal itself).
pub fn take(response: &mut Response) -> Option<Rejected> {
    response.extensions_mut().remove::<Rejected>()
}

pub async fn audit_rejections(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    if let Some(rejected) = take(&mut response)
        && !response.status().is_server_error()
    {
        let event = Event {
            action: action::REQUEST_REJECTED,
            success: false,
            actor_id: rejected.actor.map(|id| id.to_string()),
            method: Some(method),
            path: Some(path),
            reason: format!(
                "{} {}: {}",
                response.status().as_u16(),
                rejected.error,
                rejected.description
            ),
            ..Event::default()
        };
        if let Err(error) = audit::record(&state.db, event).await {
            tracing::error!("auditing a refused request failed: {error}");
        }
    }
    response
}
