//! The few documents the protocol endpoints answer with themselves: the error page for a
//! request that cannot be trusted with a redirect, and the `form_post` response.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use identity::html::escape;
use std::sync::LazyLock;

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Identity Server</title><link rel=\"stylesheet\" href=\"/pkg/main.css\">\
         <link rel=\"icon\" type=\"image/svg+xml\" href=\"/pkg/favicon.svg\"></head>\
         <body><main class=\"centered\">{body}</main></body></html>",
        escape(title)
    )
}

/// An error the browser's user must read, because redirecting would be unsafe (unknown
/// application, unregistered redirect URI) or impossible.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<section class=\"card\" role=\"alert\"><h1>{}</h1><p>{}</p></section>",
        escape(title),
        escape(message)
    );
    let mut response = (status, Html(document(title, &body))).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status.is_client_error() {
        response = crate::routes::rejections::mark(response, title, message);
    }
    response
}

/// The one script of the `form_post` page.
const SUBMIT_SCRIPT: &str = "document.getElementById('response').submit()";

/// The `form_post` page's Content-Security-Policy: its own submit script (by hash) and
/// nothing else runs; styles and the icon from this server; no framing.
static FORM_POST_POLICY: LazyLock<HeaderValue> = LazyLock::new(|| {
    use base64::Engine;
    use sha2::Digest;
    let hash =
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(SUBMIT_SCRIPT));
    let policy = format!(
        "default-src 'none'; script-src 'sha256-{hash}'; style-src 'self'; img-src 'self'; \
         base-uri 'none'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy).expect("a header value")
});

/// OAuth 2.0 Form Post Response Mode: a form that posts the response to the client. It
/// submits itself with JavaScript, and offers a button without it.
pub fn form_post(action: &str, fields: &[(&str, &str)]) -> Response {
    let inputs: String = fields
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            )
        })
        .collect();
    let body = format!(
        "<form class=\"card\" method=\"post\" action=\"{}\" id=\"response\">{inputs}\
         <p>Returning you to the application…</p>\
         <button type=\"submit\" class=\"primary\">Continue</button></form>\
         <script>{SUBMIT_SCRIPT}</script>",
        escape(action)
    );
    let mut response = Html(document("Continue", &body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::CONTENT_SECURITY_POLICY, FORM_POST_POLICY.clone());
    response
}
