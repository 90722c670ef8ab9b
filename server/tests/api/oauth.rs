//! The OpenID Provider over HTTP: authorization, token, userinfo, introspection,
//! revocation, discovery, keys, logout, and every error path.

use crate::helpers::{
    ADMIN_PASSWORD, CALLBACK, Registered, TestApp, admin, claims, client, header, location, pkce,
    query_param, spawn_app,
};
use futures::future::join_all;
use serde_json::{Value, json};

async fn app_and_client() -> (TestApp, Registered) {
    let app = spawn_app().await;
    let registered = app.register("Shop", json!({}), json!({})).await;
    (app, registered)
}

async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    assert_eq!(response.headers()["cache-control"], "no-store");
    (status, response.json().await.unwrap())
}

// ---------- discovery and keys ----------

#[tokio::test]
async fn discovery_is_served_at_both_paths_and_never_follows_the_host_header() {
    let app = spawn_app().await;
    let wso2: Value = app
        .client
        .get(app.at("/oauth2/token/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let root: Value = app
        .client
        .get(app.at("/.well-known/openid-configuration"))
        .header("Host", "evil.example")
        .header("X-Forwarded-Host", "evil.example")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(wso2, root);
    assert_eq!(wso2["issuer"], format!("{}/oauth2/token", app.url));
    assert_eq!(wso2["token_endpoint"], format!("{}/oauth2/token", app.url));
    assert_eq!(wso2["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(wso2["request_uri_parameter_supported"], false);
    assert_eq!(wso2["authorization_response_iss_parameter_supported"], true);
}

#[tokio::test]
async fn jwks_publishes_active_and_next_keys_without_private_parts() {
    let app = spawn_app().await;
    let jwks: Value = app
        .client
        .get(app.at("/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    // Two of each algorithm (signing_algorithms.rs has the others).
    assert_eq!(keys.len(), 6);
    let kids: std::collections::HashSet<_> =
        keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.len(), 6);
    let rsa: Vec<&Value> = keys.iter().filter(|k| k["alg"] == "RS256").collect();
    assert_eq!(rsa.len(), 2);
    for key in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "{private} published");
        }
    }
    for key in rsa {
        assert_eq!(key["kty"], "RSA");
    }
}

// ---------- the authorization endpoint ----------

#[tokio::test]
async fn an_unknown_client_or_unregistered_redirect_gets_a_page_never_a_redirect() {
    let (app, shop) = app_and_client().await;
    for params in [
        vec![
            ("client_id", "nope"),
            ("redirect_uri", CALLBACK),
            ("response_type", "code"),
        ],
        vec![
            ("client_id", shop.client_id.as_str()),
            ("redirect_uri", "https://evil.example/cb"),
            ("response_type", "code"),
        ],
        vec![
            ("client_id", shop.client_id.as_str()),
            ("response_type", "code"),
        ],
        vec![
            ("client_id", shop.client_id.as_str()),
            ("client_id", shop.client_id.as_str()),
            ("redirect_uri", CALLBACK),
        ],
    ] {
        let response = app
            .client
            .get(app.at("/oauth2/authorize"))
            .query(&params)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{params:?}");
        assert!(response.headers().get("location").is_none());
        let html = response.text().await.unwrap();
        assert!(html.contains("role=\"alert\""), "{html}");
    }
}

#[tokio::test]
async fn request_errors_go_back_to_the_client_with_state_and_iss() {
    let (app, shop) = app_and_client().await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let base = [
        ("client_id", shop.client_id.as_str()),
        ("redirect_uri", CALLBACK),
        ("state", "s1"),
    ];
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "invalid_request"),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (
            vec![
                ("response_type", "code"),
                ("code_challenge", "abc"),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("response_type", "code"),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
            ],
            "invalid_request",
        ),
        (
            vec![("response_type", "code"), ("request", "eyJ")],
            "request_not_supported",
        ),
        (
            vec![("response_type", "code"), ("prompt", "none login")],
            "invalid_request",
        ),
        (
            vec![("response_type", "code"), ("max_age", "soon")],
            "invalid_request",
        ),
    ];
    for (extra, expected) in cases {
        let mut params = base.to_vec();
        params.extend(extra.clone());
        let response = browser
            .get(app.at("/oauth2/authorize"))
            .query(&params)
            .send()
            .await
            .unwrap();
        let target = location(&response);
        assert!(target.starts_with(CALLBACK), "{extra:?}: {target}");
        assert_eq!(
            query_param(target, "error").as_deref(),
            Some(expected),
            "{extra:?}"
        );
        assert_eq!(query_param(target, "state").as_deref(), Some("s1"));
        assert_eq!(
            query_param(target, "iss"),
            Some(format!("{}/oauth2/token", app.url))
        );
        assert!(query_param(target, "code").is_none());
    }
}

#[tokio::test]
async fn a_public_client_must_use_pkce() {
    let app = spawn_app().await;
    let spa = app
        .register("Spa", json!({ "publicClient": true }), json!({}))
        .await;
    assert!(spa.secret.is_none());
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let response = app
        .authorize(
            &browser,
            &[
                ("response_type", "code"),
                ("client_id", &spa.client_id),
                ("redirect_uri", CALLBACK),
            ],
        )
        .await;
    assert_eq!(
        query_param(location(&response), "error").as_deref(),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn without_a_session_the_browser_signs_in_and_returns_to_the_request() {
    let (app, shop) = app_and_client().await;
    let browser = client();
    let params = [
        ("response_type", "code"),
        ("client_id", shop.client_id.as_str()),
        ("redirect_uri", CALLBACK),
        ("scope", "openid"),
    ];
    let response = browser
        .get(app.at("/oauth2/authorize"))
        .query(&params)
        .send()
        .await
        .unwrap();
    let target = location(&response).to_owned();
    assert!(
        target.starts_with("/login?return_to=%2Foauth2%2Fauthorize%3F"),
        "{target}"
    );
    let return_to = query_param(&target, "return_to").unwrap();
    let back = app
        .sign_in_with(&browser, "admin", ADMIN_PASSWORD, &return_to)
        .await;
    assert_eq!(location(&back), return_to);

    let none = [
        ("response_type", "code"),
        ("client_id", shop.client_id.as_str()),
        ("redirect_uri", CALLBACK),
        ("prompt", "none"),
        ("state", "x"),
    ];
    let response = client()
        .get(app.at("/oauth2/authorize"))
        .query(&none)
        .send()
        .await
        .unwrap();
    assert_eq!(
        query_param(location(&response), "error").as_deref(),
        Some("login_required")
    );
}

#[tokio::test]
async fn prompt_login_and_max_age_zero_ask_to_sign_in_again() {
    let (app, shop) = app_and_client().await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    for extra in [("prompt", "login"), ("max_age", "0")] {
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let params = [
            ("response_type", "code"),
            ("client_id", shop.client_id.as_str()),
            ("redirect_uri", CALLBACK),
            extra,
        ];
        let response = browser
            .get(app.at("/oauth2/authorize"))
            .query(&params)
            .send()
            .await
            .unwrap();
        let target = location(&response).to_owned();
        assert!(
            target.starts_with("/login?return_to="),
            "{extra:?}: {target}"
        );
        assert!(
            !target.contains("prompt%3Dlogin"),
            "prompt=login is dropped to avoid a loop"
        );
    }
}

#[tokio::test]
async fn consent_is_asked_once_and_a_denial_is_access_denied() {
    let (app, shop) = app_and_client().await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let params = [
        ("response_type", "code"),
        ("client_id", shop.client_id.as_str()),
        ("redirect_uri", CALLBACK),
        ("scope", "openid email"),
        ("state", "d"),
    ];
    let first = browser
        .get(app.at("/oauth2/authorize"))
        .query(&params)
        .send()
        .await
        .unwrap();
    let consent = location(&first).to_owned();
    assert!(consent.starts_with("/consent?request="), "{consent}");
    let page = browser
        .get(app.at(&consent))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Shop wants to access your account"), "{page}");
    let handle = query_param(&consent, "request").unwrap();
    let denied = browser
        .post(app.at("/consent"))
        .header("Origin", &app.url)
        .form(&[("request", handle.as_str()), ("decision", "deny")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        query_param(location(&denied), "error").as_deref(),
        Some("access_denied")
    );
    // The pending request is single use.
    let again = browser
        .post(app.at("/consent"))
        .header("Origin", &app.url)
        .form(&[("request", handle.as_str()), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);

    // Approved once, never asked again for the same scopes.
    let approved = app.authorize(&browser, &params).await;
    assert!(query_param(location(&approved), "code").is_some());
    let silent = browser
        .get(app.at("/oauth2/authorize"))
        .query(&params)
        .send()
        .await
        .unwrap();
    assert!(
        query_param(location(&silent), "code").is_some(),
        "{}",
        location(&silent)
    );
}

#[tokio::test]
async fn the_fragment_and_form_post_response_modes_carry_the_code() {
    let (app, shop) = app_and_client().await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let _ = app.code_for(&browser, &shop, &[]).await; // consent given
    let base = [
        ("response_type", "code"),
        ("client_id", shop.client_id.as_str()),
        ("redirect_uri", CALLBACK),
        ("scope", "openid profile email"),
        ("state", "f"),
    ];

    let mut fragment = base.to_vec();
    fragment.push(("response_mode", "fragment"));
    let response = browser
        .get(app.at("/oauth2/authorize"))
        .query(&fragment)
        .send()
        .await
        .unwrap();
    let target = location(&response);
    assert!(target.starts_with(&format!("{CALLBACK}#code=")), "{target}");

    let mut form = base.to_vec();
    form.push(("response_mode", "form_post"));
    let response = browser
        .get(app.at("/oauth2/authorize"))
        .query(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains(&format!(r#"action="{CALLBACK}""#)), "{html}");
    assert!(html.contains(r#"name="code""#) && html.contains(r#"name="state" value="f""#));
}

// ---------- the token endpoint ----------

#[tokio::test]
async fn the_code_flow_issues_a_jwt_access_token_an_id_token_and_a_refresh_token() {
    let (app, shop) = app_and_client().await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let (verifier, challenge) = pkce();
    let code = app
        .code_for(
            &browser,
            &shop,
            &[
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    let response = app
        .token(
            &shop,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "openid profile email");
    assert!(body["refresh_token"].is_string());

    let access = body["access_token"].as_str().unwrap();
    assert_eq!(header(access)["typ"], "at+jwt");
    assert!(header(access)["kid"].is_string());
    let at = claims(access);
    assert_eq!(at["iss"], format!("{}/oauth2/token", app.url));
    assert_eq!(at["client_id"], shop.client_id);
    assert_eq!(at["aud"], shop.client_id);
    assert!(at["jti"].is_string() && at["org_id"].is_string() && at["org_name"] == "Root");
    assert!(at.get("act").is_none());

    let id = body["id_token"].as_str().unwrap();
    let it = claims(id);
    assert_eq!(it["nonce"], "n-1");
    assert_eq!(it["azp"], shop.client_id);
    assert_eq!(it["sub"], at["sub"]);
    assert!(it["auth_time"].is_i64());
    assert_eq!(it["at_hash"], identity::oauth::claims::half_hash(access));
    assert_eq!(it["email"], "admin@localhost");
}

#[tokio::test]
async fn a_code_is_bound_to_its_client_redirect_uri_and_verifier() {
    let (app, shop) = app_and_client().await;
    let other = app.register("Other", json!({}), json!({})).await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let (verifier, challenge) = pkce();
    let extra = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];

    let code = app.code_for(&browser, &shop, &extra).await;
    let wrong_client = app
        .token(
            &other,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(error_of(wrong_client).await.1["error"], "invalid_grant");
    let wrong_redirect = app
        .token(
            &shop,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://app.example/other"),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(error_of(wrong_redirect).await.1["error"], "invalid_grant");
    let wrong_verifier = app
        .token(
            &shop,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", &format!("{verifier}x")),
            ],
        )
        .await;
    assert_eq!(error_of(wrong_verifier).await.1["error"], "invalid_grant");
    let no_verifier = app
        .token(
            &shop,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
            ],
        )
        .await;
    assert_eq!(error_of(no_verifier).await.1["error"], "invalid_grant");
    // None of that consumed the code.
    app.redeem(&shop, &code, Some(&verifier)).await;
}

#[tokio::test]
async fn a_verifier_for_a_code_issued_without_a_challenge_is_refused() {
    let (app, shop) = app_and_client().await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let code = app.code_for(&browser, &shop, &[]).await;
    let (verifier, _) = pkce();
    let downgraded = app
        .token(
            &shop,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    let (status, body) = error_of(downgraded).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("without a code_challenge"),
        "{body}"
    );
    // Refused before the code was used: redeemed without a verifier, it still works.
    app.redeem(&shop, &code, None).await;
}

#[tokio::test]
async fn only_the_tokens_own_client_learns_that_it_is_active() {
    let (app, shop) = app_and_client().await;
    let other = app.register("Other", json!({}), json!({})).await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let code = app.code_for(&browser, &shop, &[]).await;
    let tokens = app.redeem(&shop, &code, None).await;
    for token in ["access_token", "refresh_token"] {
        let token = tokens[token].as_str().unwrap();
        let own = app.introspect(&shop, token).await;
        assert_eq!(own["active"], true, "{own}");
        assert_eq!(own["client_id"], shop.client_id);
        // Another confidential client learns nothing, not even that the token exists.
        let foreign = app.introspect(&other, token).await;
        assert_eq!(foreign, json!({ "active": false }));
    }
}

#[tokio::test]
async fn a_replayed_code_fails_and_revokes_what_the_first_redemption_issued() {
    let (app, shop) = app_and_client().await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let code = app.code_for(&browser, &shop, &[]).await;
    let first = app.redeem(&shop, &code, None).await;
    let access = first["access_token"].as_str().unwrap();
    let refresh = first["refresh_token"].as_str().unwrap();
    assert_eq!(app.introspect(&shop, access).await["active"], true);

    let replay = app
        .token(
            &shop,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
            ],
        )
        .await;
    let (status, body) = error_of(replay).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(
        app.introspect(&shop, access).await,
        json!({ "active": false })
    );
    assert_eq!(
        app.introspect(&shop, refresh).await,
        json!({ "active": false })
    );
}

#[tokio::test]
async fn twenty_simultaneous_redemptions_of_one_code_give_exactly_one_success() {
    let (app, shop) = app_and_client().await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let code = app.code_for(&browser, &shop, &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
    ];
    let attempts = (0..20).map(|_| app.token(&shop, &form));
    let statuses: Vec<u16> = join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        19,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_family() {
    let (app, shop) = app_and_client().await;
    let other = app.register("Other", json!({}), json!({})).await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let code = app.code_for(&browser, &shop, &[]).await;
    let first = app.redeem(&shop, &code, None).await;
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();

    let stolen = app
        .token(
            &other,
            &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
        )
        .await;
    assert_eq!(error_of(stolen).await.1["error"], "invalid_grant");
    let wider = app
        .token(
            &shop,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &r1),
                ("scope", "openid internal_user_mgt_view"),
            ],
        )
        .await;
    assert_eq!(error_of(wider).await.1["error"], "invalid_scope");

    let narrowed = app
        .token(
            &shop,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &r1),
                ("scope", "openid"),
            ],
        )
        .await;
    assert_eq!(narrowed.status(), 200);
    let second: Value = narrowed.json().await.unwrap();
    assert_eq!(second["scope"], "openid");
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    let a2 = second["access_token"].as_str().unwrap().to_owned();

    // The rotated token comes back: the whole family dies, the newest token with it.
    let reuse = app
        .token(
            &shop,
            &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
        )
        .await;
    assert_eq!(error_of(reuse).await.1["error"], "invalid_grant");
    let after = app
        .token(
            &shop,
            &[("grant_type", "refresh_token"), ("refresh_token", &r2)],
        )
        .await;
    assert_eq!(error_of(after).await.1["error"], "invalid_grant");
    assert_eq!(app.introspect(&shop, &a2).await["active"], false);
}

#[tokio::test]
async fn twenty_simultaneous_refreshes_of_one_token_give_exactly_one_success() {
    let (app, shop) = app_and_client().await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let code = app.code_for(&browser, &shop, &[]).await;
    let refresh = app.redeem(&shop, &code, None).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    let attempts = (0..20).map(|_| app.token(&shop, &form));
    let statuses: Vec<u16> = join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn client_authentication_failures_are_invalid_client_with_a_challenge() {
    let (app, shop) = app_and_client().await;
    let wrong = app
        .client
        .post(app.at("/oauth2/token"))
        .basic_auth(&shop.client_id, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(error_of(wrong).await.1["error"], "invalid_client");

    let post = app
        .client
        .post(app.at("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &shop.client_id),
            ("client_secret", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(post).await.1["error"], "invalid_client");
    // A confidential client cannot pretend to be public.
    let none = app
        .client
        .post(app.at("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &shop.client_id),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(none).await.1["error"], "invalid_client");
    let nobody = app
        .client
        .post(app.at("/oauth2/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(nobody).await.1["error"], "invalid_client");
}

#[tokio::test]
async fn grant_type_errors_are_exact() {
    let app = spawn_app().await;
    let shop = app
        .register(
            "Shop",
            json!({ "grantTypes": ["authorization_code", "client_credentials"] }),
            json!({}),
        )
        .await;
    let missing = app.token(&shop, &[("code", "x")]).await;
    assert_eq!(error_of(missing).await.1["error"], "invalid_request");
    let unknown = app
        .token(&shop, &[("grant_type", "password"), ("username", "a")])
        .await;
    assert_eq!(error_of(unknown).await.1["error"], "unsupported_grant_type");
    let not_allowed = app
        .token(
            &shop,
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        )
        .await;
    assert_eq!(
        error_of(not_allowed).await.1["error"],
        "unauthorized_client"
    );
    let duplicated = app
        .token(
            &shop,
            &[
                ("grant_type", "client_credentials"),
                ("grant_type", "client_credentials"),
            ],
        )
        .await;
    assert_eq!(error_of(duplicated).await.1["error"], "invalid_request");
    let bad_code = app
        .token(
            &shop,
            &[
                ("grant_type", "authorization_code"),
                ("code", "forged"),
                ("redirect_uri", CALLBACK),
            ],
        )
        .await;
    assert_eq!(error_of(bad_code).await.1["error"], "invalid_grant");
}

#[tokio::test]
async fn client_credentials_issue_an_application_token_and_refuse_unauthorized_scopes() {
    let app = spawn_app().await;
    let service = app
        .register(
            "Service",
            json!({ "grantTypes": ["client_credentials"], "callbackURLs": [] }),
            json!({}),
        )
        .await;
    let ok = app
        .token(&service, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
    let at = claims(body["access_token"].as_str().unwrap());
    assert_eq!(at["sub"], service.client_id);
    assert_eq!(at["aut"], "APPLICATION");
    let scoped = app
        .token(
            &service,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "internal_user_mgt_delete"),
            ],
        )
        .await;
    assert_eq!(error_of(scoped).await.1["error"], "invalid_scope");
}

// ---------- userinfo, introspection, revocation ----------

#[tokio::test]
async fn userinfo_answers_for_a_live_token_and_challenges_otherwise() {
    let (app, shop) = app_and_client().await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let code = app.code_for(&browser, &shop, &[]).await;
    let tokens = app.redeem(&shop, &code, None).await;
    let access = tokens["access_token"].as_str().unwrap();
    let info: Value = app
        .client
        .get(app.at("/oauth2/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], claims(access)["sub"]);
    assert_eq!(info["preferred_username"], "admin");
    assert_eq!(info["email"], "admin@localhost");

    let none = app
        .client
        .get(app.at("/oauth2/userinfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    assert!(
        none.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let forged = format!("{access}x");
    let bad = app
        .client
        .get(app.at("/oauth2/userinfo"))
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    // An ID token is not an access token.
    let id = tokens["id_token"].as_str().unwrap();
    let wrong_type = app
        .client
        .get(app.at("/oauth2/userinfo"))
        .bearer_auth(id)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 401);
}

#[tokio::test]
async fn introspection_needs_a_confidential_client_and_reports_live_tokens() {
    let (app, shop) = app_and_client().await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let code = app.code_for(&browser, &shop, &[]).await;
    let tokens = app.redeem(&shop, &code, None).await;
    let access = tokens["access_token"].as_str().unwrap();

    let anonymous = app
        .client
        .post(app.at("/oauth2/introspect"))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let live = app.introspect(&shop, access).await;
    assert_eq!(live["active"], true);
    assert_eq!(live["client_id"], shop.client_id);
    assert_eq!(live["username"], "admin");
    assert_eq!(live["token_type"], "Bearer");
    assert!(live["exp"].is_i64());
    let refresh = app
        .introspect(&shop, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(refresh["active"], true);
    assert_eq!(refresh["token_type"], "refresh_token");
    assert_eq!(
        app.introspect(&shop, "garbage").await,
        json!({ "active": false })
    );
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_family_and_its_access_tokens() {
    let (app, shop) = app_and_client().await;
    let other = app.register("Other", json!({}), json!({})).await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let code = app.code_for(&browser, &shop, &[]).await;
    let tokens = app.redeem(&shop, &code, None).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    let foreign = app
        .client
        .post(app.at("/oauth2/revoke"))
        .basic_auth(&other.client_id, other.secret.as_deref())
        .form(&[("token", refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(foreign).await.1["error"], "unauthorized_client");
    assert_eq!(app.introspect(&shop, refresh).await["active"], true);

    let revoke = |token: String| {
        app.client
            .post(app.at("/oauth2/revoke"))
            .basic_auth(&shop.client_id, shop.secret.as_deref())
            .form(&[
                ("token", token.as_str()),
                ("token_type_hint", "refresh_token"),
            ])
            .send()
    };
    assert_eq!(revoke(refresh.to_owned()).await.unwrap().status(), 200);
    assert_eq!(app.introspect(&shop, refresh).await["active"], false);
    assert_eq!(app.introspect(&shop, access).await["active"], false);
    let userinfo = app
        .client
        .get(app.at("/oauth2/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
    // Unknown tokens are fine (RFC 7009 §2.2).
    assert_eq!(revoke("never-issued".into()).await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_disabled_users_tokens_stop_working_at_once() {
    let (app, shop) = app_and_client().await;
    let id = app.create_user("dora", "dora-password-1").await;
    let browser = app.browser_for("dora", "dora-password-1").await;
    let code = app.code_for(&browser, &shop, &[]).await;
    let tokens = app.redeem(&shop, &code, None).await;
    let (user, pass) = admin();
    let disabled = app
        .client
        .patch(app.at(&format!("/scim2/Users/{id}")))
        .basic_auth(user, Some(pass))
        .json(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{ "op": "replace", "value": { "active": false } }]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 200);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.introspect(&shop, access).await["active"], false);
    let info = app
        .client
        .get(app.at("/oauth2/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 401);
    let refresh = app
        .token(
            &shop,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(error_of(refresh).await.1["error"], "invalid_grant");
    let page = browser.get(app.at("/console")).send().await.unwrap();
    assert_eq!(page.status(), 303, "the session ended too");
}

#[tokio::test]
async fn a_successful_sign_in_resets_the_failure_count() {
    let app = spawn_app().await;
    app.create_user("finn", "finn-password-1").await;
    for _ in 0..4 {
        app.sign_in_with(&client(), "finn", "wrong", "/console")
            .await;
    }
    app.browser_for("finn", "finn-password-1").await;
    let finn = identity::users::find_by_username(&app.db, "finn")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(finn.failed_logins, 0);
}

// ---------- keys ----------

#[tokio::test]
async fn rotated_keys_keep_verifying_until_they_are_removed() {
    let (app, shop) = app_and_client().await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let code = app.code_for(&browser, &shop, &[]).await;
    let tokens = app.redeem(&shop, &code, None).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let old_kid = header(&access)["kid"].as_str().unwrap().to_owned();
    let (user, pass) = admin();

    let rotated = app.rotate_keys().await;
    let new_kid = rotated["activeKid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    let jwks: Value = app
        .client
        .get(app.at("/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwks["keys"].as_array().unwrap().len(),
        9,
        "next, active and retired, of each of three algorithms"
    );

    let info = app
        .client
        .get(app.at("/oauth2/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200, "a retired key still verifies");
    let fresh = app
        .token(
            &shop,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    let fresh: Value = fresh.json().await.unwrap();
    assert_eq!(
        header(fresh["access_token"].as_str().unwrap())["kid"],
        new_kid
    );

    let active_removal = app
        .client
        .delete(app.at(&format!("/api/server/v1/keys/{new_kid}")))
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(active_removal.status(), 409);
    let removal = app
        .client
        .delete(app.at(&format!("/api/server/v1/keys/{old_kid}")))
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(removal.status(), 204);
    let info = app
        .client
        .get(app.at("/oauth2/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 401, "a removed key verifies nothing");
}

// ---------- logout ----------

#[tokio::test]
async fn logout_without_proof_asks_the_user_and_a_cross_site_post_signs_nobody_out() {
    let (app, shop) = app_and_client().await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let response = browser
        .get(app.at("/oidc/logout"))
        .query(&[
            ("client_id", shop.client_id.as_str()),
            ("post_logout_redirect_uri", CALLBACK),
            ("state", "bye"),
        ])
        .send()
        .await
        .unwrap();
    let confirm = location(&response).to_owned();
    assert!(confirm.starts_with("/logout?"), "{confirm}");
    let page = browser
        .get(app.at(&confirm))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Sign out?"), "{page}");

    let forged = browser
        .post(app.at("/oidc/logout"))
        .header("Origin", "https://evil.example")
        .form(&[("client_id", shop.client_id.as_str()), ("confirm", "yes")])
        .send()
        .await
        .unwrap();
    assert!(location(&forged).starts_with("/logout?"));
    assert_eq!(
        browser
            .get(app.at("/console"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "still signed in"
    );

    let confirmed = browser
        .post(app.at("/oidc/logout"))
        .header("Origin", &app.url)
        .form(&[
            ("client_id", shop.client_id.as_str()),
            ("post_logout_redirect_uri", CALLBACK),
            ("state", "bye"),
            ("confirm", "yes"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&confirmed), format!("{CALLBACK}?state=bye"));
    assert_eq!(
        browser
            .get(app.at("/console"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
}

#[tokio::test]
async fn a_valid_id_token_hint_signs_out_directly_when_the_application_skips_logout_consent() {
    let app = spawn_app().await;
    let shop = app
        .register(
            "Quick",
            json!({}),
            json!({ "advancedConfigurations": { "skipLogoutConsent": true } }),
        )
        .await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let code = app.code_for(&browser, &shop, &[]).await;
    let id_token = app.redeem(&shop, &code, None).await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = browser
        .get(app.at("/oidc/logout"))
        .query(&[
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", CALLBACK),
            ("state", "s"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), format!("{CALLBACK}?state=s"));
    assert_eq!(
        browser
            .get(app.at("/console"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );

    let unregistered = client()
        .get(app.at("/oidc/logout"))
        .query(&[
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(unregistered.status(), 400);
    let forged = client()
        .get(app.at("/oidc/logout"))
        .query(&[("id_token_hint", "eyJhbGciOiJub25lIn0.e30.")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
}

#[tokio::test]
async fn a_public_client_redeems_its_code_with_the_pkce_verifier_and_no_secret() {
    let app = spawn_app().await;
    let spa = app
        .register(
            "Spa",
            json!({ "publicClient": true }),
            json!({ "advancedConfigurations": { "skipLoginConsent": true } }),
        )
        .await;
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let (verifier, challenge) = pkce();
    let code = app
        .code_for(
            &browser,
            &spa,
            &[
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("client_id", spa.client_id.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let response = app
        .client
        .post(app.at("/oauth2/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    // A public client cannot introspect.
    let tokens_response = app
        .client
        .post(app.at("/oauth2/introspect"))
        .form(&[("token", "x"), ("client_id", spa.client_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(tokens_response.status(), 400);
}

#[tokio::test]
async fn a_console_token_with_management_scopes_works_on_the_management_api() {
    let app = spawn_app().await;
    let console = Registered {
        id: String::new(),
        client_id: "CONSOLE".into(),
        secret: None,
        redirect_uri: format!("{}/console/callback", app.url),
    };
    let browser = app.browser_for("admin", ADMIN_PASSWORD).await;
    let (verifier, challenge) = pkce();
    let code = app
        .code_for(
            &browser,
            &console,
            &[
                ("scope", "openid internal_user_mgt_list"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    let tokens = app.redeem_public(&console, &code, &verifier).await;
    assert_eq!(tokens["scope"], "openid internal_user_mgt_list");
    let access = tokens["access_token"].as_str().unwrap();
    let listed = app
        .client
        .get(app.at("/scim2/Users"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let create = app
        .client
        .post(app.at("/scim2/Users"))
        .bearer_auth(access)
        .json(&json!({ "userName": "x", "password": "password-1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        create.status(),
        403,
        "the token lacks internal_user_mgt_create"
    );

    // A user without the Administrator role is granted no management scope.
    app.create_user("nora", "nora-password-1").await;
    let nora = app.browser_for("nora", "nora-password-1").await;
    let (verifier, challenge) = pkce();
    let code = app
        .code_for(
            &nora,
            &console,
            &[
                ("scope", "openid internal_user_mgt_list"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    let tokens = app.redeem_public(&console, &code, &verifier).await;
    assert_eq!(tokens["scope"], "openid");
}
