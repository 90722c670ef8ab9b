//! Tokens follow current rights (issue 18): a role taken away ends a token's management
//! rights at the next API call and at the next refresh (for good: the refresh token is
//! narrowed too), and no refresh token outlives its sign-in by more than the family
//! lifetime.

use crate::helpers::{TestApp, admin, spawn_app, spawn_app_in};
use serde_json::{Value, json};

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SCOPES: &str = "openid offline_access internal_user_mgt_list";

/// An application authorized for `internal_user_mgt_list`, and a user "mia" holding it
/// through the application's role returned.
async fn setup(app: &TestApp) -> (crate::helpers::Registered, String, String) {
    let (user, pass) = admin();
    let client = app
        .register(
            "Reports",
            json!({}),
            json!({ "advancedConfigurations": { "skipLoginConsent": true } }),
        )
        .await;
    let management = app.management_api_id().await;
    let authorized = app
        .client
        .post(app.at(&format!(
            "/api/server/v1/applications/{}/authorized-apis",
            client.id
        )))
        .basic_auth(user, Some(pass))
        .json(&json!({ "id": management, "policyIdentifier": "RBAC",
                       "scopes": ["internal_user_mgt_list"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(authorized.status(), 200);
    let mia = app.create_user("mia", "mia-password-1").await;
    let role: Value = app
        .client
        .post(app.at("/scim2/v2/Roles"))
        .basic_auth(user, Some(pass))
        .json(&json!({ "displayName": "Listers",
            "audience": { "type": "application", "value": client.id },
            "permissions": [{ "value": "internal_user_mgt_list" }], "users": [{ "value": mia }] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (client, mia, role["id"].as_str().unwrap().to_owned())
}

async fn membership(app: &TestApp, role: &str, op: &str, user: &str) {
    let (admin_user, pass) = admin();
    let response = app
        .client
        .patch(app.at(&format!("/scim2/v2/Roles/{role}")))
        .basic_auth(admin_user, Some(pass))
        .json(&json!({ "schemas": [PATCH],
            "Operations": [{ "op": op, "path": "users", "value": [{ "value": user }] }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn list_users(app: &TestApp, access: &str) -> u16 {
    app.client
        .get(app.at("/scim2/Users"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn refresh(app: &TestApp, client: &crate::helpers::Registered, token: &str) -> (u16, Value) {
    let response = app
        .token(
            client,
            &[("grant_type", "refresh_token"), ("refresh_token", token)],
        )
        .await;
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_role_taken_away_ends_the_tokens_rights_at_the_next_call_and_refresh() {
    let app = spawn_app().await;
    let (client, mia, role) = setup(&app).await;
    let browser = app.browser_for("mia", "mia-password-1").await;
    let code = app.code_for(&browser, &client, &[("scope", SCOPES)]).await;
    let tokens = app.redeem(&client, &code, None).await;
    assert!(
        tokens["scope"]
            .as_str()
            .unwrap()
            .contains("internal_user_mgt_list")
    );
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(list_users(&app, access).await, 200);

    membership(&app, &role, "remove", &mia).await;
    assert_eq!(
        list_users(&app, access).await,
        403,
        "the bearer call re-checks"
    );

    let (status, refreshed) =
        refresh(&app, &client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{refreshed}");
    assert!(
        !refreshed["scope"]
            .as_str()
            .unwrap()
            .contains("internal_user_mgt_list"),
        "{refreshed}"
    );
    assert!(refreshed["scope"].as_str().unwrap().contains("openid"));
    assert_eq!(
        list_users(&app, refreshed["access_token"].as_str().unwrap()).await,
        403
    );

    // Given the role back, the old grant does not regain it: a new sign-in would.
    membership(&app, &role, "add", &mia).await;
    let (status, again) =
        refresh(&app, &client, refreshed["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{again}");
    assert!(
        !again["scope"]
            .as_str()
            .unwrap()
            .contains("internal_user_mgt_list")
    );
}

#[tokio::test]
async fn no_refresh_token_outlives_its_sign_in_by_more_than_the_family_lifetime() {
    let data = tempfile::TempDir::new().unwrap();
    let app = spawn_app_in(data.path(), |config| {
        config.refresh_family_lifetime_secs = 2
    })
    .await
    .unwrap();
    let (client, _, _) = setup(&app).await;
    let browser = app.browser_for("mia", "mia-password-1").await;
    let code = app.code_for(&browser, &client, &[("scope", SCOPES)]).await;
    let tokens = app.redeem(&client, &code, None).await;
    let auth_time = crate::helpers::claims(tokens["id_token"].as_str().unwrap())["auth_time"]
        .as_i64()
        .unwrap();
    let (status, fresh) = refresh(&app, &client, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "within the lifetime");
    while identity::clock::now() < auth_time + 2 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (status, refused) = refresh(&app, &client, fresh["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"], "invalid_grant");
}
