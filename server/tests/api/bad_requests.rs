//! SPEC §7: every refused request leaves an audit record naming what was wrong, and no
//! record ever holds the secret that was tried.

use crate::helpers::{TestApp, spawn_app};
use serde_json::Value;

async fn events(app: &TestApp, action: &str) -> Vec<Value> {
    app.audit_events(action).await
}

/// `POST /oauth2/token` with `body` as it is, form-encoded.
async fn post_token_form(app: &TestApp, body: String) -> reqwest::Response {
    app.client
        .post(app.at("/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn refused_protocol_and_api_requests_are_audited_with_their_error() {
    let app = spawn_app().await;
    let bad_code = app
        .client
        .post(app.at("/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "forged-code"),
            ("client_id", "nobody"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad_code.status(), 401);
    let unauthenticated = app.client.get(app.at("/scim2/Users")).send().await.unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let wrong_secret = app
        .client
        .get(app.at("/api/server/v1/applications"))
        .basic_auth("admin", Some("Guessed-Secret-42"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_secret.status(), 401);
    let unknown_client = app
        .client
        .get(app.at("/oauth2/authorize?response_type=code&client_id=nobody"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_client.status(), 400);

    let rejected = events(&app, "request-rejected").await;
    let seen: Vec<(String, String)> = rejected
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_owned(),
                e["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let has = |path: &str, needle: &str| {
        seen.iter()
            .any(|(p, reason)| p == path && reason.contains(needle))
    };
    assert!(has("/oauth2/token", "401 invalid_client"), "{seen:?}");
    assert!(has("/scim2/Users", "401"), "{seen:?}");
    assert!(
        has("/api/server/v1/applications", "401 AUT-10001"),
        "{seen:?}"
    );
    assert!(has("/oauth2/authorize", "400"), "{seen:?}");
    assert!(rejected.iter().all(|e| e["outcome"] == "failure"));
    assert!(
        !serde_json::to_string(&rejected)
            .unwrap()
            .contains("Guessed-Secret-42"),
        "no secret in the audit trail"
    );
    assert!(
        events(&app, "request-rejected")
            .await
            .iter()
            .all(|e| e["path"] != "/api/server/v1/audit-events"),
        "reading the audit log is not a refusal"
    );
}

#[tokio::test]
async fn a_failed_sign_in_is_audited_without_the_password() {
    let app = spawn_app().await;
    let target = app.create_user("dana", "dana-password-1").await;
    let wrong = app.sign_in("dana", "Not-Her-Password-9").await;
    assert_eq!(wrong.status(), 303);
    assert!(
        crate::helpers::location(&wrong).starts_with("/login?error="),
        "back to the form"
    );
    let unknown = app.sign_in("nobody-here", "Whatever-Password-9").await;
    assert_eq!(unknown.status(), 303);

    let failed = events(&app, "sign-in-failed").await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(
        failed[1]["target"],
        target.as_str(),
        "the known user is named"
    );
    assert!(
        failed[0]["target"].is_null(),
        "an unknown name is not recorded (it may be a mistyped password)"
    );
    let text = serde_json::to_string(&failed).unwrap();
    assert!(!text.contains("Not-Her-Password-9") && !text.contains("Whatever-Password-9"));
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413_before_anything_reads_them() {
    let app = spawn_app().await;
    // The attack: a parameter name of 1 MB at the token endpoint, three times.
    let name = "n".repeat(1 << 20);
    for _ in 0..3 {
        let response =
            post_token_form(&app, format!("{name}=1&grant_type=client_credentials")).await;
        assert_eq!(response.status(), 413);
    }
    // Just within the OAuth limit, the same endpoint reads the request and answers it.
    let padding = "p".repeat(server::routes::OAUTH_BODY_LIMIT - 100);
    let within =
        post_token_form(&app, format!("pad={padding}&grant_type=client_credentials")).await;
    assert_eq!(
        within.status(),
        401,
        "read, and refused for want of a client"
    );
    // The APIs take up to 1 MiB.
    let (user, pass) = crate::helpers::admin();
    let huge = app
        .client
        .post(app.at("/scim2/Users"))
        .basic_auth(user, Some(pass))
        .header("content-type", "application/scim+json")
        .body(format!(
            r#"{{"userName": "big", "password": "big-Password-1", "x": "{}"}}"#,
            "x".repeat(server::routes::API_BODY_LIMIT)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    let nobody: Value = app
        .get_as_admin(app.at("/scim2/Users?filter=userName%20eq%20%22big%22"))
        .await;
    assert_eq!(nobody["totalResults"], 0, "nothing was created");
    // Nothing of the attacker's text reached the audit trail.
    let trail = serde_json::to_string(&events(&app, "request-rejected").await).unwrap();
    assert!(
        !trail.contains(&"n".repeat(300)),
        "{} bytes of audit",
        trail.len()
    );
    assert!(!trail.contains(&"p".repeat(300)));
}

#[tokio::test]
async fn errors_and_audit_records_repeat_at_most_256_characters_of_what_was_sent() {
    let app = spawn_app().await;
    let name = "n".repeat(20_000);
    let response = post_token_form(&app, format!("{name}=1&{name}=2")).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with("The parameter nnn"),
        "{description}"
    );
    assert!(
        description.chars().count() <= 257,
        "{} characters",
        description.len()
    );

    // SCIM's "taken" names the username it was given.
    let long_name = "u".repeat(255);
    app.create_user(&long_name, "long-Password-1").await;
    let (user, pass) = crate::helpers::admin();
    let taken = app
        .client
        .post(app.at("/scim2/Users"))
        .basic_auth(user, Some(pass))
        .json(&serde_json::json!({ "userName": long_name, "password": "long-Password-1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), 409);
    let detail: Value = taken.json().await.unwrap();
    let detail = detail["detail"].as_str().unwrap();
    assert!(detail.contains("uuuu") && detail.ends_with('…'), "{detail}");
    assert!(detail.chars().count() <= 257, "{} characters", detail.len());

    // The management API quotes a mistyped value of the body, within the same limit.
    let shop = app
        .register("Shop", serde_json::json!({}), serde_json::json!({}))
        .await;
    let value = "f".repeat(10_000);
    let unknown = app
        .client
        .post(app.at(&format!(
            "/api/server/v1/applications/{}/authorized-apis",
            shop.id
        )))
        .basic_auth(user, Some(pass))
        .body(format!(r#"{{"id": "x", "scopes": "{value}"}}"#))
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    let body: Value = unknown.json().await.unwrap();
    let description = body["description"].as_str().unwrap();
    assert!(description.contains("fff"), "{description}");
    assert!(
        description.chars().count() <= 257,
        "{} characters",
        description.len()
    );

    let rejected = events(&app, "request-rejected").await;
    assert!(rejected.len() >= 2, "{rejected:?}");
    for event in &rejected {
        let reason = event["reason"].as_str().unwrap();
        assert!(reason.chars().count() <= 257, "{} characters", reason.len());
    }
}

#[tokio::test]
async fn a_flood_of_refused_anonymous_requests_costs_a_bounded_number_of_audit_rows() {
    let app = spawn_app().await;
    let flood = 150;
    for n in 0..flood {
        let response = post_token_form(&app, format!("grant_type=made-up-{n}")).await;
        assert!(response.status().is_client_error());
    }
    let recorded = events(&app, "request-rejected")
        .await
        .iter()
        .filter(|e| e["path"] == "/oauth2/token")
        .count();
    // 60 a minute from one address; the flood may straddle the turn of a minute.
    assert!((60..=120).contains(&recorded), "{recorded} records");
    let dropped = app.rejections_not_recorded().await;
    assert_eq!(dropped as usize, flood - recorded);
}

#[tokio::test]
async fn a_flood_of_failed_sign_ins_costs_a_bounded_number_of_audit_rows() {
    let app = spawn_app().await;
    let flood = 130;
    for n in 0..flood {
        let refused = app
            .sign_in_with(
                &crate::helpers::client(),
                &format!("ghost-{n}"),
                "guess-1",
                "/console",
            )
            .await;
        assert!(crate::helpers::location(&refused).starts_with("/login?error="));
    }
    let recorded = events(&app, "sign-in-failed").await.len();
    // 60 a minute from one address; the flood may straddle the turn of a minute.
    assert!((60..=120).contains(&recorded), "{recorded} records");
    assert_eq!(
        app.rejections_not_recorded().await as usize,
        flood - recorded
    );
}
