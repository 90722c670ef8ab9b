//! The pages' Content-Security-Policy. Each request to the pages gets a fresh nonce: the
//! Leptos render uses it for the hydration script (through [`provide_nonce_of_request`]),
//! and this layer puts the policy naming it on the HTML answer, so that the header and the
//! script always agree, whatever path rendered the page.

use axum::{
    extract::Request,
    http::{HeaderValue, header},
    middleware::Next,
    response::Response,
};

/// The pages' Content-Security-Policy: scripts only from this server and the hydration
/// script carrying this response's `nonce`, WebAssembly compiled from our own files, no
/// inline styles, no plugins, and no framing by any site (clickjacking).
fn policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; frame-ancestors 'none'"
    )
}

/// This request's nonce, in the request's extensions.
#[derive(Clone)]
pub struct PageNonce(pub String);

/// Gives the request a nonce and its HTML answer the policy allowing it.
pub async fn content_security_policy(mut request: Request, next: Next) -> Response {
    let nonce = leptos::nonce::Nonce::new().to_string();
    request.extensions_mut().insert(PageNonce(nonce.clone()));
    let mut response = next.run(request).await;
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html
        && !response
            .headers()
            .contains_key(header::CONTENT_SECURITY_POLICY)
        && let Ok(value) = HeaderValue::from_str(&policy(&nonce))
    {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// In a Leptos render: uses the request's nonce (instead of the one Leptos made up), so
/// that the hydration script carries the nonce the header names.
pub fn provide_nonce_of_request() {
    use leptos::prelude::{provide_context, use_context};
    let nonce = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<PageNonce>().cloned());
    if let Some(PageNonce(nonce)) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
}
