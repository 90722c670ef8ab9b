//! The browser-facing part: Leptos pages (server-rendered, then hydrated), their server
//! functions, the built front end at `/pkg`, and the sign-in and sign-out form targets.
//! Every state-changing request here must come from our own origin.

mod consent;
mod content_policy;
mod guard;
mod impersonate;
pub mod origin;
mod sign_in;

pub use origin::is_same_origin;
pub use sign_in::session_cookie;

use crate::state::AppState;
use axum::{Router, middleware, response::Redirect, routing::get};
use leptos_axum::{LeptosRoutes, file_and_error_handler_with_context, generate_route_list};

pub fn router(state: &AppState) -> Router<AppState> {
    let context = state.app_context();
    let provide = move || {
        leptos::prelude::provide_context(context.clone());
        content_policy::provide_nonce_of_request();
    };
    let pages = Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        // Browsers ask for /favicon.ico on pages without an icon link (JSON, errors).
        .route(
            "/favicon.ico",
            get(|| async { Redirect::permanent("/pkg/favicon.svg") }),
        )
        .merge(sign_in::router())
        .merge(consent::router())
        .merge(impersonate::router())
        .leptos_routes_with_context(state, generate_route_list(app::App), provide.clone(), {
            let options = state.leptos.clone();
            move || app::shell(options.clone())
        })
        .fallback(file_and_error_handler_with_context::<AppState, _>(
            provide,
            app::shell,
        ));
    pages
        .layer(middleware::from_fn(content_policy::content_security_policy))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::require_session,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            origin::same_origin_writes,
        ))
}
