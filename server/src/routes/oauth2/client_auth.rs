//! Client authentication at the token, introspection and revocation endpoints (RFC 6749
//! §2.3.1): `client_secret_basic`, `client_secret_post`, or `none` for public clients.

use super::error::OAuthError;
use super::params::Params;
use axum::http::{HeaderMap, header};
use base64::{Engine, engine::general_purpose::STANDARD};
use identity::entities::application;
use identity::oauth::clients::{self, Presented};
use identity::store::cache::Reads;

/// Credentials from an `Authorization: Basic` header, form-urldecoded as §2.3.1 requires.
pub fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| ())
        .and_then(|bytes| String::from_utf8(bytes).map_err(|_| ()));
    Some(decoded.and_then(|text| {
        let (id, secret) = text.split_once(':').ok_or(())?;
        Ok((form_decode(id), form_decode(secret)))
    }))
}

fn form_decode(value: &str) -> String {
    form_urlencoded::parse(format!("x={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Authenticates the calling client from the headers and form parameters.
pub async fn authenticate_client(
    reads: &Reads<'_>,
    headers: &HeaderMap,
    params: &Params,
) -> Result<application::Model, OAuthError> {
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    let presented = match basic_credentials(headers) {
        Some(Err(())) => return Err(OAuthError::invalid_client(true)),
        Some(Ok((client_id, secret))) => {
            if body_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "Use one client authentication method, not several.",
                ));
            }
            if body_id.is_some_and(|id| id != client_id) {
                return Err(OAuthError::invalid_request(
                    "client_id differs from the authenticated client.",
                ));
            }
            Presented::Secret { client_id, secret }
        }
        None => match (body_id, body_secret) {
            (Some(id), Some(secret)) => Presented::Secret {
                client_id: id.to_owned(),
                secret: secret.to_owned(),
            },
            (Some(id), None) => Presented::Public {
                client_id: id.to_owned(),
            },
            (None, _) => return Err(OAuthError::invalid_client(false)),
        },
    };
    let basic = matches!(basic_credentials(headers), Some(Ok(_)));
    match clients::authenticate(reads, &presented).await? {
        Ok(app) => Ok(app),
        Err(_) => Err(OAuthError::invalid_client(basic)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn basic_credentials_are_form_urldecoded() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("my%20client:p%3Ass+word");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );
        let (id, secret) = basic_credentials(&headers).unwrap().unwrap();
        assert_eq!(id, "my client");
        assert_eq!(secret, "p:ss word");
    }

    #[test]
    fn a_malformed_basic_header_is_an_error_not_an_absence() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert!(matches!(basic_credentials(&headers), Some(Err(()))));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert!(basic_credentials(&headers).is_none());
    }
}
