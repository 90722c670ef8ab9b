//! Interoperability: the `openidconnect` crate, a widely used client library that knows
//! nothing of this server, discovers it, runs the authorization code flow with PKCE,
//! validates the ID token against the published keys, calls userinfo, refreshes,
//! introspects and revokes, without special cases.

use crate::helpers::{ADMIN_PASSWORD, location, query_param, spawn_app};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IntrospectionUrl,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, RevocationUrl, Scope,
    TokenIntrospectionResponse, TokenResponse, reqwest,
};
use serde_json::json;

#[tokio::test]
async fn an_independent_oidc_client_library_works_against_the_server() {
    let app = spawn_app().await;
    let shop = app.register("Library client", json!({}), json!({})).await;
    let (tls_url, certificate) = tls_front(&app.local_url).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .add_root_certificate(certificate)
        .build()
        .unwrap();

    // Discovery, from the issuer alone (WSO2's issuer path).
    let issuer = IssuerUrl::new(format!("{}/oauth2/token", app.local_url)).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http).await;
    // The issuer in metadata is the public URL; in tests both are the same address.
    let metadata = metadata.expect("discovery succeeds and the issuer matches");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(shop.client_id.clone()),
        shop.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(shop.redirect_uri.clone()).unwrap())
    .set_introspection_url(IntrospectionUrl::new(format!("{}/oauth2/introspect", app.url)).unwrap())
    // RFC 7009 requires TLS and the library enforces it: revocation goes through a TLS
    // front for the test server.
    .set_revocation_url(RevocationUrl::new(format!("{tls_url}/oauth2/revoke")).unwrap());

    // The browser part: the library builds the URL, a signed-in browser follows it.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let borrowed: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let response = app.authorize(&browser, &borrowed).await;
    let callback = location(&response).to_owned();
    assert_eq!(
        query_param(&callback, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    let code = query_param(&callback, "code").expect("a code");

    // Token exchange, with the library's own ID token validation (signature via JWKS,
    // issuer, audience, expiry, nonce) and at_hash check.
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the code exchange succeeds");
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let id_claims = id_token
        .claims(&verifier, &nonce)
        .expect("the ID token validates");
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(id_claims.access_token_hash(), Some(&expected_hash));
    assert_eq!(id_claims.preferred_username().unwrap().as_str(), "admin");

    // Userinfo, checked against the ID token's subject.
    let info: openidconnect::core::CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(id_claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo succeeds");
    assert_eq!(info.email().unwrap().as_str(), "admin@localhost");

    // Refresh.
    let refresh = tokens.refresh_token().expect("a refresh token").clone();
    let refreshed = client
        .exchange_refresh_token(&refresh)
        .unwrap()
        .request_async(&http)
        .await
        .expect("the refresh succeeds");
    assert_ne!(
        refreshed.access_token().secret(),
        tokens.access_token().secret()
    );

    // Introspection and revocation.
    let introspected = client
        .introspect(refreshed.access_token())
        .request_async(&http)
        .await
        .expect("introspection succeeds");
    assert!(introspected.active());
    assert_eq!(introspected.client_id().unwrap().as_str(), shop.client_id);
    client
        .revoke_token(refreshed.refresh_token().unwrap().into())
        .unwrap()
        .request_async(&http)
        .await
        .expect("revocation succeeds");
    let after = client
        .introspect(refreshed.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(
        !after.active(),
        "revoking the refresh token revoked its access token"
    );
}

/// A TLS listener with a fresh self-signed certificate for 127.0.0.1 that forwards every
/// connection to the test server. Returns its base URL and the certificate to trust.
async fn tls_front(backend_url: &str) -> (String, reqwest::Certificate) {
    use std::sync::Arc;
    use tokio_rustls::rustls::{self, pki_types::PrivatePkcs8KeyDer};
    let backend = backend_url.trim_start_matches("http://").to_owned();
    let generated = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = generated.cert.der().clone();
    let key = PrivatePkcs8KeyDer::from(generated.key_pair.serialize_der());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.clone()], key.into())
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let backend = backend.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(&backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    let certificate = reqwest::Certificate::from_der(&cert).unwrap();
    (format!("https://127.0.0.1:{port}"), certificate)
}
