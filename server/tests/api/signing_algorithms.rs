//! ES256 and EdDSA beside RS256 (issue 16): every algorithm has published keys, an
//! application chooses what signs its ID tokens and its access tokens, a token verifies
//! only with a key of the algorithm its header names, and a rotation covers them all.
//! Signatures are checked here against the published JWKS with `ring`, apart from the
//! server's own verification.

use crate::helpers::{ADMIN_PASSWORD, Registered, TestApp, admin, claims, header, spawn_app};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use sha2::Digest;

const ALGORITHMS: [&str; 3] = ["RS256", "ES256", "EdDSA"];

async fn jwks(app: &TestApp) -> Vec<Value> {
    app.get_json("/oauth2/jwks").await["keys"]
        .as_array()
        .unwrap()
        .clone()
}

/// RFC 7638: the thumbprint of a JWK's required members.
fn thumbprint(jwk: &Value) -> String {
    let members: &[&str] = match jwk["kty"].as_str().unwrap() {
        "RSA" => &["e", "kty", "n"],
        "EC" => &["crv", "kty", "x", "y"],
        _ => &["crv", "kty", "x"],
    };
    let input = members
        .iter()
        .map(|m| format!("\"{m}\":\"{}\"", jwk[*m].as_str().unwrap()))
        .collect::<Vec<_>>()
        .join(",");
    B64.encode(sha2::Sha256::digest(format!("{{{input}}}").as_bytes()))
}

/// Whether `jwt`'s signature verifies with the published key its header names, for the
/// algorithm of that key.
fn verifies(keys: &[Value], jwt: &str) -> bool {
    use ring::signature::{self, UnparsedPublicKey};
    let (signed, signature) = jwt.rsplit_once('.').unwrap();
    let signature = B64.decode(signature).unwrap();
    let head = header(jwt);
    let Some(key) = keys.iter().find(|k| k["kid"] == head["kid"]) else {
        return false;
    };
    if key["alg"] != head["alg"] {
        return false;
    }
    let part = |name: &str| B64.decode(key[name].as_str().unwrap()).unwrap();
    let message = signed.as_bytes();
    match key["alg"].as_str().unwrap() {
        "RS256" => signature::RsaPublicKeyComponents {
            n: part("n"),
            e: part("e"),
        }
        .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, &signature)
        .is_ok(),
        "ES256" => {
            let point = [vec![4], part("x"), part("y")].concat();
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(message, &signature)
                .is_ok()
        }
        "EdDSA" => UnparsedPublicKey::new(&signature::ED25519, part("x"))
            .verify(message, &signature)
            .is_ok(),
        other => panic!("published key of algorithm {other}"),
    }
}

/// An application whose ID tokens are signed with `id_alg` and access tokens with
/// `access_alg`, with client credentials beside the code grant.
async fn application(app: &TestApp, name: &str, id_alg: &str, access_alg: &str) -> Registered {
    app.register(
        name,
        json!({
            "grantTypes": ["authorization_code", "refresh_token", "client_credentials"],
            "idToken": { "idTokenSignedResponseAlg": id_alg },
            "accessToken": { "accessTokenSignedResponseAlg": access_alg },
        }),
        json!({}),
    )
    .await
}

async fn oidc_config(app: &TestApp, registered: &Registered) -> Value {
    app.get_as_admin(app.at(&format!(
        "/api/server/v1/applications/{}/inbound-protocols/oidc",
        registered.id
    )))
    .await
}

async fn userinfo_status(app: &TestApp, access: &str) -> u16 {
    app.bearer_status(reqwest::Method::GET, "/oauth2/userinfo", access)
        .await
}

#[tokio::test]
async fn every_algorithm_has_an_active_and_a_next_key_and_discovery_lists_them() {
    let app = spawn_app().await;
    let discovery = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(ALGORITHMS),
        "RS256, the default, first"
    );
    let keys = jwks(&app).await;
    assert_eq!(keys.len(), 6, "{keys:?}");
    for (alg, kty, crv) in [
        ("RS256", "RSA", None),
        ("ES256", "EC", Some("P-256")),
        ("EdDSA", "OKP", Some("Ed25519")),
    ] {
        let of_alg: Vec<&Value> = keys.iter().filter(|k| k["alg"] == alg).collect();
        assert_eq!(of_alg.len(), 2, "{alg}: an active and a next key");
        for key in of_alg {
            assert_eq!(key["kty"], kty);
            assert_eq!(key["use"], "sig");
            assert_eq!(key["crv"].as_str(), crv);
            assert_eq!(
                key["kid"],
                thumbprint(key),
                "kid is the RFC 7638 thumbprint"
            );
            assert!(key.get("d").is_none(), "{alg}: no private member published");
        }
    }
}

#[tokio::test]
async fn an_application_gets_its_tokens_signed_with_the_algorithms_it_chose() {
    let app = spawn_app().await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let keys = jwks(&app).await;
    for (id_alg, access_alg) in [("ES256", "EdDSA"), ("EdDSA", "ES256"), ("RS256", "RS256")] {
        let shop = application(
            &app,
            &format!("Shop {id_alg} {access_alg}"),
            id_alg,
            access_alg,
        )
        .await;
        let config = oidc_config(&app, &shop).await;
        assert_eq!(config["idToken"]["idTokenSignedResponseAlg"], id_alg);
        assert_eq!(
            config["accessToken"]["accessTokenSignedResponseAlg"],
            access_alg
        );

        let code = app.code_for(&browser, &shop, &[]).await;
        let tokens = app.redeem(&shop, &code, None).await;
        let (id_token, access) = (
            tokens["id_token"].as_str().unwrap(),
            tokens["access_token"].as_str().unwrap(),
        );
        assert_eq!(header(id_token)["alg"], id_alg);
        assert_eq!(header(access)["alg"], access_alg);
        assert!(verifies(&keys, id_token), "{id_alg} ID token");
        assert!(verifies(&keys, access), "{access_alg} access token");
        assert_eq!(claims(id_token)["aud"], shop.client_id.as_str());
        // The server accepts what it signed, wherever a token comes back.
        assert_eq!(userinfo_status(&app, access).await, 200);
        assert_eq!(app.introspect(&shop, access).await["active"], true);

        // A refreshed access token, and a token the application gets for itself.
        let refreshed: Value = app
            .token(
                &shop,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
                ],
            )
            .await
            .json()
            .await
            .unwrap();
        let refreshed = refreshed["access_token"].as_str().unwrap();
        assert_eq!(header(refreshed)["alg"], access_alg);
        assert!(verifies(&keys, refreshed));
        let own: Value = app
            .token(&shop, &[("grant_type", "client_credentials")])
            .await
            .json()
            .await
            .unwrap();
        let own = own["access_token"].as_str().unwrap();
        assert_eq!(header(own)["alg"], access_alg);
        assert!(verifies(&keys, own));
        // Revocation of a token issued without a write takes effect at once, whatever
        // signed it.
        assert_eq!(app.introspect(&shop, own).await["active"], true);
        assert_eq!(app.revoke_access_token(&shop, own).await, 200);
        assert_eq!(app.introspect(&shop, own).await["active"], false);
    }
}

/// A token re-labelled with another algorithm, or pointing at a key of another one, is
/// refused: a key verifies only what its own algorithm signed.
#[tokio::test]
async fn a_token_verifies_only_with_a_key_of_the_algorithm_its_header_names() {
    let app = spawn_app().await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let shop = application(&app, "Shop", "ES256", "ES256").await;
    let code = app.code_for(&browser, &shop, &[]).await;
    let tokens = app.redeem(&shop, &code, None).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo_status(&app, access).await, 200);

    let keys = jwks(&app).await;
    let kid_of = |alg: &str| {
        keys.iter()
            .find(|k| k["alg"] == alg)
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .unwrap()
    };
    let (_, rest) = access.split_once('.').unwrap();
    let relabelled = |head: Value| format!("{}.{rest}", B64.encode(head.to_string()));
    let own_kid = header(access)["kid"].as_str().unwrap().to_owned();
    for head in [
        // The ES256 key's id, another algorithm named.
        json!({ "alg": "RS256", "typ": "at+jwt", "kid": own_kid }),
        json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": own_kid }),
        json!({ "alg": "HS256", "typ": "at+jwt", "kid": own_kid }),
        json!({ "alg": "none", "typ": "at+jwt", "kid": own_kid }),
        // The right algorithm, the key of another.
        json!({ "alg": "ES256", "typ": "at+jwt", "kid": kid_of("EdDSA") }),
        json!({ "alg": "RS256", "typ": "at+jwt", "kid": kid_of("RS256") }),
    ] {
        let forged = relabelled(head.clone());
        assert_eq!(userinfo_status(&app, &forged).await, 401, "{head}");
        assert_eq!(
            app.introspect(&shop, &forged).await["active"],
            false,
            "{head}"
        );
    }
}

#[tokio::test]
async fn an_algorithm_we_do_not_sign_with_is_refused_and_nothing_changes() {
    let app = spawn_app().await;
    let shop = application(&app, "Shop", "ES256", "EdDSA").await;
    let url = app.at(&format!(
        "/api/server/v1/applications/{}/inbound-protocols/oidc",
        shop.id
    ));
    let (user, pass) = admin();
    let huge = "A".repeat(100_000);
    for (block, field, alg) in [
        ("idToken", "idTokenSignedResponseAlg", "HS256"),
        ("idToken", "idTokenSignedResponseAlg", "none"),
        ("accessToken", "accessTokenSignedResponseAlg", "es256"),
        ("accessToken", "accessTokenSignedResponseAlg", huge.as_str()),
    ] {
        let response = app
            .client
            .put(&url)
            .basic_auth(user, Some(pass))
            .json(&json!({
                "grantTypes": ["authorization_code"],
                "callbackURLs": [shop.redirect_uri],
                block: { field: alg },
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{alg:.20}");
        let body = response.text().await.unwrap();
        assert!(body.contains(field), "{body:.300}");
        assert!(
            body.contains("RS256, ES256 or EdDSA"),
            "says what is offered: {body:.300}"
        );
        assert!(body.len() < 2_000, "the answer is not attacker-sized");
    }
    let config = oidc_config(&app, &shop).await;
    assert_eq!(config["idToken"]["idTokenSignedResponseAlg"], "ES256");
    assert_eq!(
        config["accessToken"]["accessTokenSignedResponseAlg"],
        "EdDSA"
    );
}

#[tokio::test]
async fn a_rotation_rotates_every_algorithm_and_what_the_old_keys_signed_still_verifies() {
    let app = spawn_app().await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let shop = application(&app, "Shop", "EdDSA", "ES256").await;
    let code = app.code_for(&browser, &shop, &[]).await;
    let before = app.redeem(&shop, &code, None).await;
    let old_access = before["access_token"].as_str().unwrap().to_owned();

    let (user, pass) = admin();
    let rotated = app.rotate_keys().await;
    let keys = jwks(&app).await;
    assert_eq!(keys.len(), 9, "next, active and retired of each algorithm");
    for alg in ALGORITHMS {
        let kid = rotated["activeKids"][alg].as_str().unwrap();
        let key = keys.iter().find(|k| k["kid"] == kid).unwrap();
        assert_eq!(key["alg"], alg);
    }
    assert_eq!(rotated["activeKid"], rotated["activeKids"]["RS256"]);
    assert_ne!(
        rotated["activeKids"]["ES256"],
        header(&old_access)["kid"],
        "the ES256 key rotated"
    );

    assert_eq!(
        userinfo_status(&app, &old_access).await,
        200,
        "a retired key still verifies"
    );
    let code = app.code_for(&browser, &shop, &[]).await;
    let after = app.redeem(&shop, &code, None).await;
    let (id_token, access) = (
        after["id_token"].as_str().unwrap(),
        after["access_token"].as_str().unwrap(),
    );
    assert_eq!(header(access)["kid"], rotated["activeKids"]["ES256"]);
    assert_eq!(header(id_token)["kid"], rotated["activeKids"]["EdDSA"]);
    assert!(verifies(&keys, access) && verifies(&keys, id_token));

    // Removing the retired ES256 key ends what it signed.
    let old_kid = header(&old_access)["kid"].as_str().unwrap().to_owned();
    let removed = app
        .client
        .delete(app.at(&format!("/api/server/v1/keys/{old_kid}")))
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    assert_eq!(userinfo_status(&app, &old_access).await, 401);
    assert_eq!(userinfo_status(&app, access).await, 200);
}
