//! What every handler can reach.

use crate::config::Config;
use axum::extract::FromRef;
use identity::DatabaseConnection;
use leptos::config::LeptosOptions;
use std::sync::Arc;

/// Shared, cheaply cloned state of the running server.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    /// The external base URL in effect (configured, or derived from the bound address).
    pub public_url: Arc<str>,
    pub leptos: LeptosOptions,
    /// The OpenID Provider: keys, issuer, token minting.
    pub provider: identity::oauth::Provider,
    /// How many refusals of unauthenticated callers each address may have recorded.
    pub rejections: Arc<crate::routes::rejections::RecordBudget>,
}

impl AppState {
    /// Whether cookies must be `Secure` (the public URL is https).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// What the pages' server functions get through Leptos context.
    pub fn app_context(&self) -> app::ssr::AppContext {
        app::ssr::AppContext {
            db: self.db.clone(),
            session_cookie: self.session_cookie(),
            public_url: self.public_url.clone(),
            outbound: self.config.outbound,
        }
    }

    /// The session cookie's name: `__Host-` prefixed over https.
    pub fn session_cookie(&self) -> &'static str {
        app::ssr::session_cookie_name(self.secure_cookies())
    }
}
