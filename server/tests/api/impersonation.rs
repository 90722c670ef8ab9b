//! Impersonation on the server (SPEC §2.1, §2.2): the WSO2 walkthrough, every check, and
//! the subject token's single use.

use crate::helpers::{
    CALLBACK, Registered, TestApp, admin, claims, header, location, query_param, spawn_app,
    spawn_app_in,
};
use futures::future::join_all;
use reqwest::Client;
use serde_json::{Value, json};

pub const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// The WSO2 documentation's setup: an application enabled for the subject token and the
/// token exchange, authorized for the User Impersonation API, an application role with
/// the scope, an impersonator in it, and a target user.
pub struct Setup {
    pub app: TestApp,
    pub shop: Registered,
    pub role_id: String,
    pub impersonator_id: String,
    pub target_id: String,
}

pub async fn setup() -> Setup {
    setup_in(spawn_app().await).await
}

pub async fn setup_in(app: TestApp) -> Setup {
    let (user, pass) = admin();
    let shop = app
        .register(
            "Shop",
            json!({
                "grantTypes": ["authorization_code", EXCHANGE],
                "subjectToken": { "enable": true, "applicationSubjectTokenExpiryInSeconds": 180 },
            }),
            json!({ "advancedConfigurations": { "skipLoginConsent": true } }),
        )
        .await;
    let apis: Value = app
        .get_as_admin(
            app.at("/api/server/v1/api-resources?filter=identifier%20eq%20system:impersonation"),
        )
        .await;
    let api_id = apis["apiResources"][0]["id"].as_str().unwrap().to_owned();
    let authorized = app
        .client
        .post(app.at(&format!("/api/server/v1/applications/{}/authorized-apis", shop.id)))
        .basic_auth(user, Some(pass))
        .json(&json!({ "id": api_id, "policyIdentifier": "RBAC", "scopes": ["internal_user_impersonate"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(authorized.status(), 200);
    let impersonator_id = app.create_user("support", "support-password-1").await;
    let target_id = app.create_user("customer", "customer-password-1").await;
    let role: Value = app
        .client
        .post(app.at("/scim2/v2/Roles"))
        .basic_auth(user, Some(pass))
        .json(&json!({
            "displayName": "Shop impersonator",
            "audience": { "type": "application", "value": shop.id },
            "permissions": [{ "value": "internal_user_impersonate" }],
            "users": [{ "value": impersonator_id }],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Setup {
        app,
        shop,
        role_id: role["id"].as_str().unwrap().to_owned(),
        impersonator_id,
        target_id,
    }
}

/// Runs the subject token request and returns the redirect's `Location`.
pub async fn subject_request(
    app: &TestApp,
    browser: &Client,
    shop: &Registered,
    target: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut params = vec![
        ("client_id", shop.client_id.as_str()),
        ("redirect_uri", CALLBACK),
        ("state", "imp"),
        ("scope", "internal_user_impersonate openid profile"),
        ("response_type", "id_token subject_token"),
        ("requested_subject", target),
        ("nonce", "n-imp"),
    ];
    params.retain(|(name, _)| !extra.iter().any(|(n, _)| n == name));
    params.extend_from_slice(extra);
    let response = browser
        .get(app.at("/oauth2/authorize"))
        .query(&params)
        .send()
        .await
        .unwrap();
    location(&response).to_owned()
}

/// (id_token, subject_token) of a successful request.
pub async fn tokens(s: &Setup, browser: &Client) -> (String, String) {
    let target = subject_request(&s.app, browser, &s.shop, &s.target_id, &[]).await;
    assert!(
        target.starts_with(&format!("{CALLBACK}#")),
        "tokens only in the fragment: {target}"
    );
    let id = query_param(&target, "id_token").unwrap_or_else(|| panic!("no id_token in {target}"));
    let subject = query_param(&target, "subject_token").unwrap();
    (id, subject)
}

pub async fn exchange(
    app: &TestApp,
    shop: &Registered,
    subject: &str,
    actor: &str,
) -> reqwest::Response {
    app.token(
        shop,
        &[
            ("grant_type", EXCHANGE),
            ("subject_token", subject),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
            ("actor_token", actor),
            (
                "actor_token_type",
                "urn:ietf:params:oauth:token-type:id_token",
            ),
            (
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
        ],
    )
    .await
}

/// An exchange that must be refused (400) with a description containing `why`.
pub async fn refused_exchange(s: &Setup, subject: &str, actor: &str, why: &str) {
    let refused = exchange(&s.app, &s.shop, subject, actor).await;
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains(why), "{body}");
}

pub async fn audit_actions(app: &TestApp) -> Vec<(String, String, String)> {
    let events: Value = app
        .get_as_admin(app.at("/api/server/v1/audit-events"))
        .await;
    events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
                e["reason"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_wso2_walkthrough_gives_an_access_token_that_says_who_really_acts() {
    let s = setup().await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    let (id_token, subject_token) = tokens(&s, &browser).await;

    assert_eq!(header(&subject_token)["typ"], "subject+jwt");
    let st = claims(&subject_token);
    assert_eq!(st["sub"], s.target_id);
    assert_eq!(st["aud"], s.shop.client_id);
    assert_eq!(st["may_act"], json!({ "sub": s.impersonator_id }));
    assert_eq!(
        st["exp"].as_i64().unwrap() - st["iat"].as_i64().unwrap(),
        180
    );
    assert_eq!(
        st["scope"], "openid profile",
        "the requested scopes the target may have"
    );
    assert_eq!(claims(&id_token)["sub"], s.impersonator_id);
    assert_eq!(claims(&id_token)["nonce"], "n-imp");

    let response = exchange(&s.app, &s.shop, &subject_token, &id_token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh token unless the application enables it"
    );
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(header(access)["typ"], "at+jwt");
    let at = claims(access);
    assert_eq!(at["sub"], s.target_id);
    assert_eq!(at["act"], json!({ "sub": s.impersonator_id }));
    assert_eq!(at["client_id"], s.shop.client_id);
    assert!(at["org_id"].is_string() && at["org_name"].is_string() && at["jti"].is_string());

    let introspected = s.app.introspect(&s.shop, access).await;
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["act"], json!({ "sub": s.impersonator_id }));
    assert_eq!(introspected["username"], "customer");

    let actions = audit_actions(&s.app).await;
    for expected in [
        "subject-token-issued",
        "impersonation-started",
        "impersonated-token-issued",
    ] {
        assert!(
            actions
                .iter()
                .any(|(a, o, _)| a == expected && o == "success"),
            "{expected} in {actions:?}"
        );
    }
}

#[tokio::test]
async fn twenty_simultaneous_exchanges_of_one_subject_token_give_exactly_one_success() {
    let s = setup().await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    let (id_token, subject_token) = tokens(&s, &browser).await;
    let attempts = (0..20).map(|_| exchange(&s.app, &s.shop, &subject_token, &id_token));
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
async fn request_problems_are_refused_before_anything_is_issued() {
    let s = setup().await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("requested_subject", "")], "invalid_request"),
        (vec![("scope", "openid")], "invalid_scope"),
        (vec![("nonce", "")], "invalid_request"),
        (
            vec![("response_type", "subject_token code")],
            "unsupported_response_type",
        ),
    ];
    for (extra, expected) in cases {
        let target = subject_request(&s.app, &browser, &s.shop, &s.target_id, &extra).await;
        assert_eq!(
            query_param(&target, "error").as_deref(),
            Some(expected),
            "{extra:?}: {target}"
        );
        assert!(query_param(&target, "subject_token").is_none());
    }
    let in_query = subject_request(
        &s.app,
        &browser,
        &s.shop,
        &s.target_id,
        &[("response_mode", "query")],
    )
    .await;
    assert!(in_query.starts_with(&format!("{CALLBACK}#")), "{in_query}");
    assert_eq!(
        query_param(&in_query, "error").as_deref(),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn an_application_not_enabled_for_impersonation_is_unauthorized_client() {
    let s = setup().await;
    let plain = s.app.register("Plain", json!({}), json!({})).await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    let target = subject_request(&s.app, &browser, &plain, &s.target_id, &[]).await;
    assert_eq!(
        query_param(&target, "error").as_deref(),
        Some("unauthorized_client")
    );
}

#[tokio::test]
async fn who_may_be_impersonated_is_checked_and_every_denial_is_audited() {
    let s = setup().await;
    let (user, pass) = admin();
    let browser = s.app.browser_for("support", "support-password-1").await;

    // Not oneself.
    let me = subject_request(&s.app, &browser, &s.shop, &s.impersonator_id, &[]).await;
    assert_eq!(query_param(&me, "error").as_deref(), Some("access_denied"));
    // Nobody by that id.
    let nobody = subject_request(
        &s.app,
        &browser,
        &s.shop,
        "00000000-0000-0000-0000-000000000000",
        &[],
    )
    .await;
    assert_eq!(
        query_param(&nobody, "error").as_deref(),
        Some("access_denied")
    );
    // Not an administrator, for a non-administrator.
    let admin_user = s.app.get_as_admin(s.app.at("/scim2/Me")).await;
    let admin_target = subject_request(
        &s.app,
        &browser,
        &s.shop,
        admin_user["id"].as_str().unwrap(),
        &[],
    )
    .await;
    assert_eq!(
        query_param(&admin_target, "error").as_deref(),
        Some("access_denied")
    );
    // Not a disabled user.
    let disabled = s.app.create_user("gone", "gone-password-1").await;
    s.app
        .client
        .patch(s.app.at(&format!("/scim2/Users/{disabled}")))
        .basic_auth(user, Some(pass))
        .json(&json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "replace", "value": { "active": false } }] }))
        .send()
        .await
        .unwrap();
    let inactive = subject_request(&s.app, &browser, &s.shop, &disabled, &[]).await;
    assert_eq!(
        query_param(&inactive, "error").as_deref(),
        Some("access_denied")
    );
    // Not without the role.
    let outsider = s.app.browser_for("customer", "customer-password-1").await;
    let no_role = subject_request(&s.app, &outsider, &s.shop, &disabled, &[]).await;
    assert_eq!(
        query_param(&no_role, "error").as_deref(),
        Some("access_denied")
    );

    let reasons: Vec<String> = audit_actions(&s.app)
        .await
        .into_iter()
        .filter(|(a, o, _)| a == "impersonation-denied" && o == "failure")
        .map(|(_, _, r)| r)
        .collect();
    for expected in [
        "themselves",
        "does not exist",
        "privileges",
        "not active",
        "lacks internal_user_impersonate",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(expected)),
            "{expected} in {reasons:?}"
        );
    }
}

#[tokio::test]
async fn the_exchange_checks_its_tokens_and_its_client() {
    let s = setup().await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    let (id_token, subject_token) = tokens(&s, &browser).await;
    let other = s
        .app
        .register(
            "Other",
            json!({ "grantTypes": ["authorization_code", EXCHANGE] }),
            json!({}),
        )
        .await;

    let wrong_client = exchange(&s.app, &other, &subject_token, &id_token).await;
    let body: Value = wrong_client.json().await.unwrap();
    assert_eq!(body["error"], "invalid_target");
    // An ID token is no subject token, and a subject token no actor token.
    let swapped = exchange(&s.app, &s.shop, &id_token, &subject_token).await;
    assert_eq!(
        swapped.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    // Someone else's ID token is not the actor the subject token allows.
    let customer = s.app.browser_for("customer", "customer-password-1").await;
    let code = s.app.code_for(&customer, &s.shop, &[]).await;
    let customers_id_token = s.app.redeem(&s.shop, &code, None).await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let not_may_act = exchange(&s.app, &s.shop, &subject_token, &customers_id_token).await;
    assert_eq!(
        not_may_act.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    // None of that used the subject token up.
    assert_eq!(
        exchange(&s.app, &s.shop, &subject_token, &id_token)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn losing_the_role_between_authorize_and_exchange_refuses_the_exchange() {
    let s = setup().await;
    let (user, pass) = admin();
    let browser = s.app.browser_for("support", "support-password-1").await;
    let (id_token, first) = tokens(&s, &browser).await;
    let (_, subject_token) = tokens(&s, &browser).await;
    // A first exchange succeeds and leaves what it looked up in the server's cache; the
    // change below must count all the same.
    assert_eq!(
        exchange(&s.app, &s.shop, &first, &id_token).await.status(),
        200
    );
    let removed = s
        .app
        .client
        .patch(s.app.at(&format!("/scim2/v2/Roles/{}", s.role_id)))
        .basic_auth(user, Some(pass))
        .json(&json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "remove", "path": "users", "value": [{ "value": s.impersonator_id }] }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    let refused = exchange(&s.app, &s.shop, &subject_token, &id_token).await;
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let actions = audit_actions(&s.app).await;
    assert!(actions.iter().any(|(a, _, r)| a == "impersonation-denied" && r.contains("internal_user_impersonate")), "{actions:?}");
}

#[tokio::test]
async fn an_impersonating_session_cannot_start_another_and_ending_revokes_its_tokens() {
    let s = setup().await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    let (id_token, subject_token) = tokens(&s, &browser).await;
    let body: Value = exchange(&s.app, &s.shop, &subject_token, &id_token)
        .await
        .json()
        .await
        .unwrap();
    let access = body["access_token"].as_str().unwrap().to_owned();

    let other = s.app.create_user("second", "second-password-1").await;
    let again = subject_request(&s.app, &browser, &s.shop, &other, &[]).await;
    assert_eq!(
        query_param(&again, "error").as_deref(),
        Some("access_denied"),
        "one impersonation at a time, no chaining"
    );

    let sessions: Vec<identity::entities::impersonation_session::Model> = {
        use sea_orm::EntityTrait;
        identity::entities::impersonation_session::Entity::find()
            .all(&s.app.db)
            .await
            .unwrap()
    };
    assert_eq!(sessions.len(), 1);
    assert!(
        identity::impersonation::session::end(&s.app.db, &sessions[0], None, "stopped")
            .await
            .unwrap()
    );
    assert_eq!(s.app.introspect(&s.shop, &access).await["active"], false);
    let info = s
        .app
        .client
        .get(s.app.at("/oauth2/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 401);
    // Once ended, the browser may impersonate again.
    let fresh = subject_request(&s.app, &browser, &s.shop, &other, &[]).await;
    assert!(query_param(&fresh, "subject_token").is_some(), "{fresh}");
}

#[tokio::test]
async fn the_impersonation_settings_follow_wso2s_configs_api() {
    let s = setup().await;
    let (user, pass) = admin();
    let path = s.app.at("/api/server/v1/configs/impersonation");
    let read = |c: Client| {
        let path = path.clone();
        async move {
            c.get(path)
                .basic_auth(user, Some(pass))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let defaults = read(s.app.client.clone()).await;
    assert_eq!(
        defaults,
        json!({
            "enableEmailNotification": true,
            "requireReason": false,
            "maxSessionDurationMinutes": 60,
            // Ours, off by default (issue 14): the WSO2 flow is unchanged.
            "reauthenticateWithinMinutes": 0,
            "ticketRequired": false,
            "ticketPattern": "",
            "defaultMode": "full",
            "allowFullMode": true,
            "approval": "none",
            "requestExpiryMinutes": 1440,
            "approvalWindowMinutes": 60,
            "rules": []
        })
    );
    let patched = s
        .app
        .client
        .patch(&path)
        .basic_auth(user, Some(pass))
        .json(&json!([
            { "operation": "REPLACE", "path": "/enableEmailNotification", "value": false },
            { "operation": "REPLACE", "path": "/requireReason", "value": true }
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let bad = s
        .app
        .client
        .patch(&path)
        .basic_auth(user, Some(pass))
        .json(
            &json!([{ "operation": "REPLACE", "path": "/maxSessionDurationMinutes", "value": 0 }]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(read(s.app.client.clone()).await["requireReason"], true);

    let browser = s.app.browser_for("support", "support-password-1").await;
    let without = subject_request(&s.app, &browser, &s.shop, &s.target_id, &[]).await;
    assert_eq!(
        query_param(&without, "error").as_deref(),
        Some("invalid_request")
    );
    let with = subject_request(
        &s.app,
        &browser,
        &s.shop,
        &s.target_id,
        &[("reason", "Ticket 4711")],
    )
    .await;
    assert_eq!(
        claims(&query_param(&with, "subject_token").unwrap())["reason"],
        "Ticket 4711"
    );

    let reset = s
        .app
        .client
        .delete(&path)
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 204);
    assert_eq!(read(s.app.client.clone()).await, defaults);
}

#[tokio::test]
async fn an_administrator_ends_a_session_and_everything_derived_from_it_stops() {
    let s = setup().await;
    let (user, pass) = admin();
    let browser = s.app.browser_for("support", "support-password-1").await;
    let (id_token, subject_token) = tokens(&s, &browser).await;
    let body: Value = exchange(&s.app, &s.shop, &subject_token, &id_token)
        .await
        .json()
        .await
        .unwrap();
    let access = body["access_token"].as_str().unwrap().to_owned();

    let listed = s
        .app
        .get_as_admin(s.app.at(&format!(
            "/api/server/v1/impersonation-sessions?active=true&target={}",
            s.target_id
        )))
        .await;
    assert_eq!(listed["totalResults"], 1);
    let session = &listed["sessions"][0];
    assert_eq!(session["impersonator"], s.impersonator_id);
    assert_eq!(session["active"], true);
    let path = s.app.at(session["self"].as_str().unwrap());

    let ended = s
        .app
        .client
        .delete(&path)
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 204);
    assert_eq!(s.app.introspect(&s.shop, &access).await["active"], false);
    let again = s
        .app
        .client
        .delete(&path)
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    let read = s.app.get_as_admin(&path).await;
    assert_eq!(read["active"], false);
    assert_eq!(read["endReason"], "ended by an administrator");
    let actions = audit_actions(&s.app).await;
    assert!(
        actions.iter().any(|(a, _, _)| a == "impersonation-ended"),
        "{actions:?}"
    );

    let plain = s
        .app
        .client
        .get(s.app.at("/api/server/v1/impersonation-sessions"))
        .basic_auth("support", Some("support-password-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        plain.status(),
        403,
        "an impersonator cannot list sessions without the scope"
    );
}

#[tokio::test]
async fn an_impersonated_token_dies_at_the_sessions_hard_limit() {
    let s = setup().await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    let (id_token, subject_token) = tokens(&s, &browser).await;
    let body: Value = exchange(&s.app, &s.shop, &subject_token, &id_token)
        .await
        .json()
        .await
        .unwrap();
    let access = body["access_token"].as_str().unwrap().to_owned();
    // Move the hard limit into the past, as time would.
    {
        use sea_orm::{ConnectionTrait, DbBackend, Statement};
        s.app
            .db
            .execute_raw(Statement::from_string(
                DbBackend::Sqlite,
                "UPDATE impersonation_sessions SET expires_at = 0".to_owned(),
            ))
            .await
            .unwrap();
    }
    assert_eq!(
        s.app.introspect(&s.shop, &access).await["active"],
        false,
        "the token stops at the limit"
    );
    assert_eq!(
        identity::impersonation::session::end_due(&s.app.db)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        identity::impersonation::session::end_due(&s.app.db)
            .await
            .unwrap(),
        0
    );
    let ended: Vec<Value> = audit_events(&s.app)
        .await
        .into_iter()
        .filter(|e| e["action"] == "impersonation-ended")
        .collect();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0]["reason"], "expired");
    assert!(ended[0]["actor"].is_null(), "nobody ended it: time did");
}

#[tokio::test]
async fn requests_made_with_an_impersonated_token_are_audited_as_wso2_names_them() {
    let s = setup().await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    // With the self-service scope, so that `/scim2/Me` answers this token at all.
    let scope = [(
        "scope",
        "internal_user_impersonate openid profile internal_login",
    )];
    let answer = subject_request(&s.app, &browser, &s.shop, &s.target_id, &scope).await;
    let id_token = query_param(&answer, "id_token").unwrap();
    let subject_token = query_param(&answer, "subject_token").unwrap();
    let body: Value = exchange(&s.app, &s.shop, &subject_token, &id_token)
        .await
        .json()
        .await
        .unwrap();
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert!(body["scope"].as_str().unwrap().contains("internal_login"));

    // Impersonated, the account can be read but not rewritten (as in My Account): 403,
    // nothing changed, recorded as a modification that failed.
    let patched = rename_me(&s.app, &access, "Changed").await;
    assert_eq!(patched.status(), 403);
    let replaced = s
        .app
        .client
        .put(s.app.at("/scim2/Me"))
        .bearer_auth(&access)
        .json(&json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "name": { "givenName": "Changed" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), 403);
    let read = s
        .app
        .client
        .get(s.app.at("/scim2/Me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let me: Value = read.json().await.unwrap();
    assert_eq!(me["id"], s.target_id, "the account is the target's");
    assert_ne!(me["name"]["givenName"], "Changed");

    let events = s
        .app
        .get_as_admin(
            s.app
                .at("/api/server/v1/audit-events?action=resource-modification-via-impersonation"),
        )
        .await;
    assert_eq!(events["totalResults"], 2);
    let event = &events["events"][0];
    assert_eq!(event["actor"], s.target_id);
    assert_eq!(event["impersonator"], s.impersonator_id);
    assert_eq!(event["path"], "/scim2/Me");
    assert_eq!(event["method"], "PUT");
    assert_eq!(event["outcome"], "failure");
    assert!(event["impersonationSession"].is_string());

    // A change that is allowed (Stop, with the impersonated token) is recorded in the
    // transaction that makes it, as a success.
    let stopped = s
        .app
        .client
        .delete(s.app.at("/api/users/v1/me/impersonation-session"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.status(), 204);
    let by_actor = s
        .app
        .get_as_admin(s.app.at(&format!(
            "/api/server/v1/audit-events?actor={}",
            s.impersonator_id
        )))
        .await;
    assert!(
        by_actor["totalResults"].as_u64().unwrap() >= 3,
        "the impersonator's own events and what was done as the target"
    );
    let text = by_actor.to_string();
    assert!(
        !text.contains(&access) && !text.contains(&subject_token),
        "no token in the audit trail"
    );
    let outcomes: Vec<(String, String, String)> = audit_events(&s.app)
        .await
        .iter()
        .filter(|e| e["path"].is_string())
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
                e["method"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let record = |action: &str, outcome: &str, method: &str| {
        (action.to_owned(), outcome.to_owned(), method.to_owned())
    };
    assert_eq!(
        outcomes,
        [
            record("resource-deletion-via-impersonation", "success", "DELETE"),
            record("resource-access-via-impersonation", "success", "GET"),
            record("resource-modification-via-impersonation", "failure", "PUT"),
            record(
                "resource-modification-via-impersonation",
                "failure",
                "PATCH"
            ),
        ],
        "newest first, one record per request"
    );
}

#[tokio::test]
async fn scim_me_answers_only_self_service_tokens() {
    let s = setup().await;
    let customer = s.app.browser_for("customer", "customer-password-1").await;
    let me = |token: String| {
        let app = &s.app;
        async move {
            app.bearer_status(reqwest::Method::GET, "/scim2/Me", &token)
                .await
        }
    };
    // Any relying party's token: refused.
    let code = s.app.code_for(&customer, &s.shop, &[]).await;
    let plain = s.app.redeem(&s.shop, &code, None).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(me(plain).await, 403);
    let refused = s.app.audit_events("request-rejected").await;
    assert!(
        refused.iter().any(|e| e["actor"] == s.target_id),
        "the refusal names the caller: {refused:?}"
    );
    // Asked for self-service: the user's own account, readable and writable.
    let code = s
        .app
        .code_for(&customer, &s.shop, &[("scope", "openid internal_login")])
        .await;
    let own = s.app.redeem(&s.shop, &code, None).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(me(own.clone()).await, 200);
    let patched = rename_me(&s.app, &own, "Own").await;
    assert_eq!(patched.status(), 200);
    let body: Value = patched.json().await.unwrap();
    assert_eq!(body["name"]["givenName"], "Own");
}

/// `PATCH /scim2/Me` with `token`, setting the given name.
pub async fn rename_me(app: &TestApp, token: &str, given_name: &str) -> reqwest::Response {
    let operation = json!({ "op": "replace", "path": "name.givenName", "value": given_name });
    app.client
        .patch(app.at("/scim2/Me"))
        .bearer_auth(token)
        .json(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [operation]
        }))
        .send()
        .await
        .unwrap()
}

pub async fn audit_events(app: &TestApp) -> Vec<Value> {
    let events: Value = app
        .get_as_admin(app.at("/api/server/v1/audit-events?limit=500"))
        .await;
    events["events"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_impersonator_stops_with_the_impersonated_token_and_everything_derived_stops() {
    let s = setup().await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    let (id_token, subject_token) = tokens(&s, &browser).await;
    let body: Value = exchange(&s.app, &s.shop, &subject_token, &id_token)
        .await
        .json()
        .await
        .unwrap();
    let access = body["access_token"].as_str().unwrap().to_owned();
    let stop = |token: String| {
        let app = &s.app;
        async move {
            let mine = "/api/users/v1/me/impersonation-session";
            app.bearer_status(reqwest::Method::DELETE, mine, &token)
                .await
        }
    };
    let customer = s.app.browser_for("customer", "customer-password-1").await;
    let code = s.app.code_for(&customer, &s.shop, &[]).await;
    let own = s.app.redeem(&s.shop, &code, None).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(stop(own).await, 400, "a token that is not impersonated");
    assert_eq!(s.app.introspect(&s.shop, &access).await["active"], true);

    assert_eq!(stop(access.clone()).await, 204);
    assert_eq!(s.app.introspect(&s.shop, &access).await["active"], false);
    assert_eq!(
        stop(access.clone()).await,
        401,
        "the token died with the session"
    );

    let ended: Vec<Value> = audit_events(&s.app)
        .await
        .into_iter()
        .filter(|e| e["action"] == "impersonation-ended")
        .collect();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0]["actor"], s.impersonator_id);
    assert_eq!(ended[0]["target"], s.target_id);
    assert_eq!(ended[0]["reason"], "stopped by the impersonator");
}

async fn create_organization(app: &TestApp, name: &str) -> String {
    let (user, pass) = admin();
    let created = app
        .client
        .post(app.at("/api/server/v1/organizations"))
        .basic_auth(user, Some(pass))
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn organization_switch_keeps_act_and_works_only_where_the_subject_is_a_member() {
    let s = setup().await;
    let (user, pass) = admin();
    let patched = s
        .app
        .client
        .put(s.app.at(&format!(
            "/api/server/v1/applications/{}/inbound-protocols/oidc",
            s.shop.id
        )))
        .basic_auth(user, Some(pass))
        .json(&json!({ "grantTypes": ["authorization_code", EXCHANGE, "organization_switch"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let branch = create_organization(&s.app, "Branch").await;
    let elsewhere = create_organization(&s.app, "Elsewhere").await;
    let duplicate = s
        .app
        .client
        .post(s.app.at("/api/server/v1/organizations"))
        .basic_auth(user, Some(pass))
        .json(&json!({ "name": "Branch" }))
        .send()
        .await
        .unwrap();
    assert_eq!(duplicate.status(), 409);
    let invited = s
        .app
        .client
        .post(
            s.app
                .at(&format!("/api/server/v1/organizations/{branch}/members")),
        )
        .basic_auth(user, Some(pass))
        .json(&json!({ "userId": s.target_id }))
        .send()
        .await
        .unwrap();
    assert_eq!(invited.status(), 201);

    let browser = s.app.browser_for("support", "support-password-1").await;
    let (id_token, subject_token) = tokens(&s, &browser).await;
    let body: Value = exchange(&s.app, &s.shop, &subject_token, &id_token)
        .await
        .json()
        .await
        .unwrap();
    let access = body["access_token"].as_str().unwrap().to_owned();

    let switch = |org: String| {
        let access = access.clone();
        let shop = s.shop.clone();
        let app = &s.app;
        async move {
            app.token(
                &shop,
                &[
                    ("grant_type", "organization_switch"),
                    ("token", access.as_str()),
                    ("switching_organization", org.as_str()),
                    ("scope", "openid"),
                ],
            )
            .await
        }
    };
    let switched = switch(branch.clone()).await;
    assert_eq!(switched.status(), 200);
    let at = claims(
        switched.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(at["org_id"], branch);
    assert_eq!(at["org_name"], "Branch");
    assert_eq!(at["sub"], s.target_id);
    assert_eq!(
        at["act"],
        json!({ "sub": s.impersonator_id }),
        "act survives the switch"
    );

    let refused = switch(elsewhere).await;
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
}

#[tokio::test]
async fn with_refresh_enabled_act_survives_refresh_until_the_session_ends() {
    let s = setup().await;
    let (user, pass) = admin();
    let enabled = s
        .app
        .client
        .put(s.app.at(&format!(
            "/api/server/v1/applications/{}/inbound-protocols/oidc",
            s.shop.id
        )))
        .basic_auth(user, Some(pass))
        .json(&json!({
            "grantTypes": ["authorization_code", "refresh_token", EXCHANGE],
            "refreshToken": { "enableForImpersonation": true }
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), 200);
    let browser = s.app.browser_for("support", "support-password-1").await;
    let (id_token, subject_token) = tokens(&s, &browser).await;
    let body: Value = exchange(&s.app, &s.shop, &subject_token, &id_token)
        .await
        .json()
        .await
        .unwrap();
    let session = claims(body["access_token"].as_str().unwrap())["impersonation_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh = body["refresh_token"]
        .as_str()
        .expect("a refresh token when enabled")
        .to_owned();

    let refreshed: Value = s
        .app
        .token(
            &s.shop,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await
        .json()
        .await
        .unwrap();
    let at = claims(refreshed["access_token"].as_str().unwrap());
    assert_eq!(at["act"], json!({ "sub": s.impersonator_id }));
    assert_eq!(at["sub"], s.target_id);
    assert_eq!(at["impersonation_session_id"], session);

    let ended = s
        .app
        .client
        .delete(
            s.app
                .at(&format!("/api/server/v1/impersonation-sessions/{session}")),
        )
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 204);
    let next = refreshed["refresh_token"].as_str().unwrap();
    let after = s
        .app
        .token(
            &s.shop,
            &[("grant_type", "refresh_token"), ("refresh_token", next)],
        )
        .await;
    assert_eq!(
        after.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
}

// ---------- the notification mail, through a real SMTP server ----------

/// aiosmtpd, a real SMTP server, storing what it receives in a maildir.
struct SmtpServer {
    child: std::process::Child,
    maildir: tempfile::TempDir,
}

impl SmtpServer {
    fn start(port: u16) -> Self {
        let maildir = tempfile::TempDir::new().unwrap();
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir(maildir.path().join(sub)).unwrap();
        }
        let mut child = std::process::Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd (scripts/setup installs it)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self { child, maildir };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("aiosmtpd did not start");
    }

    fn messages(&self) -> Vec<String> {
        let dir = self.maildir.path().join("new");
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn app_with_smtp(port: u16) -> (TestApp, tempfile::TempDir) {
    let data = tempfile::TempDir::new().unwrap();
    let app = crate::helpers::spawn_app_in(data.path(), |c| {
        c.smtp_url = Some(server::config::Secret::new(format!(
            "smtp://127.0.0.1:{port}"
        )));
        c.mail_retry_secs = 1;
    })
    .await
    .unwrap();
    (app, data)
}

pub async fn impersonate(s: &Setup) {
    let browser = s.app.browser_for("support", "support-password-1").await;
    let (id_token, subject_token) = tokens(s, &browser).await;
    exchanged(s, &id_token, &subject_token).await;
}

/// The access token of an exchange that must succeed.
pub async fn exchanged(s: &Setup, id_token: &str, subject_token: &str) -> String {
    let answer = exchange(&s.app, &s.shop, subject_token, id_token).await;
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn wait_for<T>(mut probe: impl FnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(found) = probe() {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("waited 20 seconds in vain");
}

#[tokio::test]
async fn the_target_receives_exactly_one_notification_naming_the_impersonator() {
    let port = free_port();
    let smtp = SmtpServer::start(port);
    let (app, _data) = app_with_smtp(port).await;
    let s = setup_in(app).await;
    impersonate(&s).await;
    let mail = wait_for(|| smtp.messages().into_iter().next()).await;
    assert!(
        mail.contains("Subject: User Impersonation Session Started"),
        "{mail}"
    );
    assert!(mail.contains("To: customer@example.org"), "{mail}");
    assert!(
        mail.contains("support started a session"),
        "names the impersonator: {mail}"
    );
    assert!(mail.contains("Hi customer"), "{mail}");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(smtp.messages().len(), 1, "exactly one");
}

#[tokio::test]
async fn mail_waits_while_the_smtp_server_is_down_and_arrives_when_it_is_back() {
    let port = free_port();
    let (app, _data) = app_with_smtp(port).await;
    let s = setup_in(app).await;
    impersonate(&s).await;
    let db = s.app.db.clone();
    let failed_once = || async {
        use sea_orm::EntityTrait;
        let rows = identity::entities::outbox_mail::Entity::find()
            .all(&db)
            .await
            .unwrap();
        rows.len() == 1 && rows[0].attempts >= 1 && rows[0].sent_at.is_none()
    };
    let mut down = false;
    for _ in 0..100 {
        if failed_once().await {
            down = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(down, "the first attempt failed and the mail waits");
    let smtp = SmtpServer::start(port);
    let mail = wait_for(|| smtp.messages().into_iter().next()).await;
    assert!(mail.contains("User Impersonation Session Started"));
}

#[tokio::test]
async fn no_mail_is_queued_when_notifications_are_off() {
    let s = setup().await;
    let (user, pass) = admin();
    s.app
        .client
        .patch(s.app.at("/api/server/v1/configs/impersonation"))
        .basic_auth(user, Some(pass))
        .json(&json!([{ "operation": "REPLACE", "path": "/enableEmailNotification", "value": false }]))
        .send()
        .await
        .unwrap();
    impersonate(&s).await;
    use sea_orm::{EntityTrait, PaginatorTrait};
    assert_eq!(
        identity::entities::outbox_mail::Entity::find()
            .count(&s.app.db)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn without_smtp_the_mail_is_written_to_the_data_folder() {
    let s = setup().await;
    impersonate(&s).await;
    let dir = s.app.data_dir.join("mail");
    let mail = wait_for(|| {
        std::fs::read_dir(&dir)
            .ok()?
            .filter_map(|e| e.ok())
            .find(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
    })
    .await;
    assert!(
        mail.contains("User Impersonation Session Started"),
        "{mail}"
    );
}

#[tokio::test]
async fn an_edited_template_is_what_the_user_receives_and_reset_brings_the_default_back() {
    let s = setup().await;
    let (user, pass) = admin();
    let path = s
        .app
        .at("/api/server/v1/email/template-types/ImpersonationEmailNotification/templates/en_US");
    let default = s.app.get_as_admin(&path).await;
    assert_eq!(default["subject"], "User Impersonation Session Started");
    assert_eq!(
        default["placeholders"],
        json!(["user-name", "login-time", "impersonator-user-name"])
    );
    let put = s
        .app
        .client
        .put(&path)
        .basic_auth(user, Some(pass))
        .json(&json!({ "subject": "Heads up, {{user-name}}", "body": "<p>{{impersonator-user-name}} is you now</p>" }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let unknown = s
        .app
        .client
        .get(
            s.app
                .at("/api/server/v1/email/template-types/NoSuchType/templates/en_US"),
        )
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    impersonate(&s).await;
    let dir = s.app.data_dir.join("mail");
    let mail = wait_for(|| {
        std::fs::read_dir(&dir)
            .ok()?
            .filter_map(|e| e.ok())
            .find(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
    })
    .await;
    assert!(mail.contains("Subject: Heads up, customer"), "{mail}");
    assert!(mail.contains("support is you now"), "{mail}");

    let reset = s
        .app
        .client
        .delete(&path)
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 204);
    let back = s.app.get_as_admin(&path).await;
    assert_eq!(back, default);
}

#[tokio::test]
async fn an_impersonating_browser_signs_in_as_the_target_only_where_impersonation_is_enabled() {
    let s = setup().await;
    let (user, pass) = admin();
    let skip = json!({ "advancedConfigurations": { "skipLoginConsent": true, "enableImpersonation": true } });
    let demo = s.app.register("Demo", json!({}), skip).await;
    let plain = s
        .app
        .register(
            "Plain",
            json!({}),
            json!({ "advancedConfigurations": { "skipLoginConsent": true } }),
        )
        .await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    let (id_token, subject_token) = tokens(&s, &browser).await;
    assert_eq!(
        exchange(&s.app, &s.shop, &subject_token, &id_token)
            .await
            .status(),
        200
    );

    // An enabled application: the target, with act.
    let code = s.app.code_for(&browser, &demo, &[]).await;
    let tokens = s.app.redeem(&demo, &code, None).await;
    let at = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(at["sub"], s.target_id);
    assert_eq!(at["act"], json!({ "sub": s.impersonator_id }));
    assert!(at["impersonation_session_id"].is_string());
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["sub"],
        s.target_id
    );

    // An application that is not enabled: a clear page, never the impersonator's identity.
    let refused = browser
        .get(s.app.at("/oauth2/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", plain.client_id.as_str()),
            ("redirect_uri", CALLBACK),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("does not allow impersonation")
    );

    // The Console is always the real user.
    let console = Registered {
        id: String::new(),
        client_id: "CONSOLE".into(),
        secret: None,
        redirect_uri: format!("{}/console/callback", s.app.url),
    };
    let (verifier, challenge) = crate::helpers::pkce();
    let code = s
        .app
        .code_for(
            &browser,
            &console,
            &[
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    let console_tokens = s.app.redeem_public(&console, &code, &verifier).await;
    let ct = claims(console_tokens["access_token"].as_str().unwrap());
    assert_eq!(ct["sub"], s.impersonator_id);
    assert!(ct.get("act").is_none());

    // Once the session ends, the demo application gets the real user again, and the
    // impersonated tokens are dead.
    let listed = s
        .app
        .get_as_admin(
            s.app
                .at("/api/server/v1/impersonation-sessions?active=true"),
        )
        .await;
    let path = s.app.at(listed["sessions"][0]["self"].as_str().unwrap());
    assert_eq!(
        s.app
            .client
            .delete(&path)
            .basic_auth(user, Some(pass))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        s.app
            .introspect(&demo, tokens["access_token"].as_str().unwrap())
            .await["active"],
        false
    );
    let code = s.app.code_for(&browser, &demo, &[]).await;
    let own = claims(
        s.app.redeem(&demo, &code, None).await["access_token"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(own["sub"], s.impersonator_id);
    assert!(own.get("act").is_none());
}

/// Scale-out: two instances behind one public URL on one database (PostgreSQL in the
/// second run of this suite) share everything that matters: a subject token from one is
/// single use across both, a session ended on one is over on the other, keys rotated on
/// one verify on the other at once, and one sign-in runs one impersonation however many
/// subject tokens race on both.
#[tokio::test]
async fn two_instances_on_one_database_act_as_one_server() {
    let data = tempfile::TempDir::new().unwrap();
    let public = "http://idp.scale-out.test";
    let shared = |c: &mut server::Config| c.public_url = Some(public.to_owned());
    let first = spawn_app_in(data.path(), shared).await.unwrap();
    let second = spawn_app_in(data.path(), shared).await.unwrap();
    let s = setup_in(first).await;
    let (user, pass) = admin();

    let browser = s.app.browser_for("support", "support-password-1").await;
    let (id_token, subject_token) = tokens(&s, &browser).await;
    let attempts = (0..20).map(|i| {
        let instance = if i % 2 == 0 { &s.app } else { &second };
        exchange(instance, &s.shop, &subject_token, &id_token)
    });
    let responses = join_all(attempts).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    let winner = responses.into_iter().find(|r| r.status() == 200).unwrap();
    let access = winner.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(s.app.introspect(&s.shop, &access).await["active"], true);
    assert_eq!(second.introspect(&s.shop, &access).await["active"], true);

    let rotated = second
        .client
        .post(second.at("/api/server/v1/keys/rotate"))
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert!(rotated.status().is_success(), "{}", rotated.status());
    let fresh = s.app.browser_for("customer", "customer-password-1").await;
    let code = second.code_for(&fresh, &s.shop, &[]).await;
    let signed_by_new_key = second.redeem(&s.shop, &code, None).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        s.app.introspect(&s.shop, &signed_by_new_key).await["active"],
        true,
        "the first instance verifies what the second signed with its new key"
    );

    let sessions: Value = second
        .get_as_admin(second.at("/api/server/v1/impersonation-sessions?active=true"))
        .await;
    let path = sessions["sessions"][0]["self"].as_str().unwrap().to_owned();
    let ended = second
        .client
        .delete(second.at(&path))
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 204);
    assert_eq!(
        s.app.introspect(&s.shop, &access).await["active"],
        false,
        "ended on the second instance, over on the first"
    );

    // Twenty subject tokens of one sign-in, exchanged at once on both instances.
    let mut fetched = Vec::new();
    for _ in 0..20 {
        fetched.push(tokens(&s, &browser).await);
    }
    let attempts = fetched.iter().enumerate().map(|(i, (id_token, subject))| {
        let instance = if i % 2 == 0 { &s.app } else { &second };
        exchange(instance, &s.shop, subject, id_token)
    });
    let statuses: Vec<u16> = join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "one impersonation per sign-in across instances: {statuses:?}"
    );
    let running: Value = second
        .get_as_admin(second.at("/api/server/v1/impersonation-sessions?active=true"))
        .await;
    assert_eq!(running["sessions"].as_array().unwrap().len(), 1);
    second.stop().await;
}
