//! Cross-site request forgery defence for the pages: a state-changing request (anything but
//! GET, HEAD, OPTIONS) must carry an `Origin` (or, failing that, a `Referer`) of this server.
//! Browsers send `Origin` on every form post and fetch, with or without JavaScript.

use crate::{error::HttpError, state::AppState};
use axum::{
    extract::{Request, State},
    http::{HeaderMap, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// Refuses cross-origin writes with 403.
pub async fn same_origin_writes(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if safe || is_same_origin(request.headers(), &state.public_url) {
        next.run(request).await
    } else {
        tracing::warn!(path = %request.uri().path(), "cross-origin write refused");
        HttpError::CrossOrigin.into_response()
    }
}

/// Whether the request's `Origin` (or `Referer`) is the public URL, or the scheme and
/// `Host` the request was sent to.
pub fn is_same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    let Some(source) = source else {
        return false;
    };
    let origin = origin_of(source);
    if origin == origin_of(public_url) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (host, origin.split_once("://")) {
        (Some(host), Some((_, origin_host))) => origin_host == host,
        _ => false,
    }
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(end) => &url[..after_scheme + end],
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn our_own_origin_is_accepted() {
        let h = headers(&[(header::ORIGIN, "https://id.example")]);
        assert!(is_same_origin(&h, "https://id.example"));
        let h = headers(&[(header::REFERER, "https://id.example/login?x=1")]);
        assert!(is_same_origin(&h, "https://id.example"));
    }

    #[test]
    fn the_host_the_browser_used_is_accepted() {
        let h = headers(&[
            (header::ORIGIN, "http://localhost:3000"),
            (header::HOST, "localhost:3000"),
        ]);
        assert!(is_same_origin(&h, "http://127.0.0.1:3000"));
    }

    #[test]
    fn another_site_or_no_origin_is_refused() {
        let h = headers(&[
            (header::ORIGIN, "https://evil.example"),
            (header::HOST, "id.example"),
        ]);
        assert!(!is_same_origin(&h, "https://id.example"));
        assert!(!is_same_origin(&HeaderMap::new(), "https://id.example"));
        let h = headers(&[(header::ORIGIN, "https://id.example.evil.example")]);
        assert!(!is_same_origin(&h, "https://id.example"));
    }
}
