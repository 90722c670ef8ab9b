//! Every refused request leaves an audit record (SPEC §7): the error types of the OAuth
//! endpoints, SCIM and the management API, the authorization endpoint's error redirects
//! and error pages, and the sign-in form mark their responses with [`Rejected`]; the
//! middleware writes one `request-rejected` record for each marked response (the request
//! changed nothing, so there is no transaction to share). The record names the method, the
//! path and the error, never a token, a secret or a password. Server faults are logged,
//! not recorded here: they are ours, not the caller's.
//!
//! Refusals of unauthenticated callers are recorded at most [`PER_MINUTE`] times a minute
//! per source address ([`RecordBudget`]); the rest are counted as dropped (shown by
//! `/health/ready`), so that a flood costs a bounded number of rows. A refusal naming an
//! authenticated caller is always recorded.

use crate::state::AppState;
use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::Response,
};
use identity::audit::{self, Event, action};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Records of unauthenticated refusals kept per source address and minute.
pub const PER_MINUTE: u32 = 60;
/// Source addresses tracked at once; beyond, new addresses are dropped until the minute
/// turns (so the tracking itself stays small under a flood from many addresses).
const ADDRESSES: usize = 10_000;

/// How many unauthenticated refusals each source address may still have recorded this
/// minute, and how many were dropped since start.
#[derive(Default)]
pub struct RecordBudget {
    minute: Mutex<(i64, HashMap<IpAddr, u32>)>,
    dropped: AtomicU64,
}

impl RecordBudget {
    /// Whether a refusal from `address` at `now` (seconds) may be recorded; counts it.
    pub fn admit(&self, address: IpAddr, now: i64) -> bool {
        let mut guard = self.minute.lock().unwrap_or_else(|p| p.into_inner());
        let (minute, counts) = &mut *guard;
        if *minute != now / 60 {
            *minute = now / 60;
            counts.clear();
        }
        let full = counts.len() >= ADDRESSES;
        let admitted = match counts.get_mut(&address) {
            Some(count) if *count >= PER_MINUTE => false,
            Some(count) => {
                *count += 1;
                true
            }
            None if full => false,
            None => {
                counts.insert(address, 1);
                true
            }
        };
        if !admitted {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        admitted
    }

    /// Refusals not recorded since start.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

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

/// The address a request came from (the TCP peer; unspecified when unknown).
pub fn source_address(extensions: &axum::http::Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

pub async fn audit_rejections(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let source = source_address(request.extensions());
    let mut response = next.run(request).await;
    if let Some(rejected) = take(&mut response)
        && !response.status().is_server_error()
        && (rejected.actor.is_some() || state.rejections.admit(source, identity::clock::now()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_gets_its_budget_per_minute_and_the_rest_is_counted() {
        let budget = RecordBudget::default();
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let two: IpAddr = "192.0.2.2".parse().unwrap();
        let admitted = (0..100).filter(|_| budget.admit(one, 120)).count();
        assert_eq!(admitted, PER_MINUTE as usize);
        assert_eq!(budget.dropped(), 100 - u64::from(PER_MINUTE));
        assert!(budget.admit(two, 130), "another address has its own budget");
        assert!(budget.admit(one, 180), "the next minute starts over");
    }
}
