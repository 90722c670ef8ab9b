//! The OAuth 2.0 / OpenID Connect endpoints, at WSO2's paths.
//!
//! | path | module | specification |
//! |---|---|---|
//! | `/oauth2/authorize` | `authorize` | RFC 6749 §4.1, OIDC Core §3.1.2, RFC 7636, RFC 9207 |
//! | `/oauth2/token` | `token` | RFC 6749 §3.2, §4.1.3, §4.4, §6 |
//! | `/oauth2/userinfo` | `userinfo` | OIDC Core §5.3 |
//! | `/oauth2/introspect` | `introspect` | RFC 7662 |
//! | `/oauth2/revoke` | `revoke` | RFC 7009 |
//! | `/oauth2/jwks`, discovery | `discovery` | RFC 7517, OIDC Discovery |
//! | `/oidc/logout` | `logout` | OIDC RP-Initiated Logout |

pub mod authorize;
pub mod client_auth;
pub mod discovery;
pub mod error;
pub mod exchange;
pub mod introspect;
pub mod logout;
pub mod organization_switch;
pub mod pages;
pub mod params;
pub mod revoke;
pub mod subject_token;
pub mod token;
pub mod userinfo;

use crate::state::AppState;
use axum::{Router, routing::get};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/oauth2/authorize",
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route("/oauth2/token", axum::routing::post(token::token))
        .route(
            "/oauth2/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route(
            "/oauth2/introspect",
            axum::routing::post(introspect::introspect),
        )
        .route("/oauth2/revoke", axum::routing::post(revoke::revoke))
        .route("/oauth2/jwks", get(discovery::jwks))
        .route(
            "/oauth2/token/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(
            "/oidc/logout",
            get(logout::logout_get).post(logout::logout_post),
        )
}
