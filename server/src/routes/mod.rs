//! The HTTP surface, one module an area, each exposing a `router()`; merged here.
//!
//! - `health`: liveness and readiness probes
//! - `oauth2`: the OAuth 2.0 / OpenID Connect endpoints (`/oauth2/*`, `/oidc/*`, discovery)
//! - `management`: the management API (`/api/server/v1/*`)
//! - `scim2`: SCIM 2.0 users (`/scim2/*`)
//! - `api_auth`: who calls the management API and SCIM (Basic or Bearer, with scopes)
//! - `impersonation_audit`: audits API requests made with impersonated tokens
//! - `rejections`: audits every refused request
//! - `shared_signals`: the Shared Signals transmitter (`/.well-known/ssf-configuration`,
//!   `/ssf/*`)
//! - `ui`: the server-rendered pages, their server functions, sign-in and sign-out

pub mod api_auth;
pub mod health;
pub mod impersonation_audit;
pub mod management;
pub mod oauth2;
pub mod rejections;
pub mod scim2;
pub mod shared_signals;
pub mod ui;

use crate::{state::AppState, telemetry};
use axum::{Router, extract::DefaultBodyLimit, http::HeaderValue};
use tower_http::set_header::SetResponseHeaderLayer;

/// The largest request body the OAuth 2.0 endpoints read; beyond it, `413`.
pub const OAUTH_BODY_LIMIT: usize = 64 * 1024;
/// The largest request body the management API and SCIM read; beyond it, `413`.
pub const API_BODY_LIMIT: usize = 1024 * 1024;

/// The whole application.
pub fn router(state: AppState) -> Router {
    // Only over https: tells browsers to use nothing else for this host for a year.
    let strict_transport = match state.secure_cookies() {
        true => Some(HeaderValue::from_static("max-age=31536000")),
        false => None,
    };
    let router = Router::new()
        .merge(health::router())
        .merge(oauth2::router().layer(DefaultBodyLimit::max(OAUTH_BODY_LIMIT)))
        .merge(
            management::router()
                .merge(scim2::router())
                .merge(shared_signals::router())
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    impersonation_audit::audit_impersonated,
                ))
                .layer(DefaultBodyLimit::max(API_BODY_LIMIT)),
        )
        .merge(ui::router(&state))
        // Inside the routing: each request is counted by its matched route.
        .layer(axum::middleware::from_fn(crate::metrics::count_requests))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rejections::audit_rejections,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            http::header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            http::header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        // Pages set their own policy with the hydration script's nonce, the form_post page
        // with its script's hash; everything else (APIs, error pages, files) runs nothing,
        // takes only our stylesheet and icon, and is framed by nobody.
        .layer(SetResponseHeaderLayer::if_not_present(
            http::header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            http::header::STRICT_TRANSPORT_SECURITY,
            strict_transport,
        ));
    telemetry::layers(router).with_state(state)
}
