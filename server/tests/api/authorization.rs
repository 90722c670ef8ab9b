//! The authorization model: API resources, applications authorized for them, and roles
//! (SCIM Roles v2) that give users their scopes.

use crate::helpers::{ADMIN_PASSWORD, TestApp, admin, spawn_app};
use serde_json::{Value, json};

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn get(app: &TestApp, path: &str) -> Value {
    app.get_as_admin(app.at(path)).await
}

async fn impersonation_api(app: &TestApp) -> Value {
    let listed = get(
        app,
        "/api/server/v1/api-resources?filter=identifier%20eq%20system:impersonation",
    )
    .await;
    assert_eq!(listed["totalResults"], 1);
    listed["apiResources"][0].clone()
}

#[tokio::test]
async fn the_user_impersonation_api_exists_from_the_first_start() {
    let app = spawn_app().await;
    let summary = impersonation_api(&app).await;
    assert_eq!(summary["name"], "User Impersonation");
    assert_eq!(summary["type"], "SYSTEM");
    let detail = get(
        &app,
        &format!(
            "/api/server/v1/api-resources/{}",
            summary["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(detail["scopes"][0]["name"], "internal_user_impersonate");
    let management = get(
        &app,
        "/api/server/v1/api-resources?filter=identifier%20eq%20system:management",
    )
    .await;
    assert_eq!(management["totalResults"], 1);
}

#[tokio::test]
async fn an_application_is_authorized_for_an_api_and_its_scopes_flow_into_tokens() {
    let app = spawn_app().await;
    let (user, pass) = admin();
    let service = app
        .register(
            "Service",
            json!({ "grantTypes": ["client_credentials"], "callbackURLs": [] }),
            json!({}),
        )
        .await;
    let management = get(
        &app,
        "/api/server/v1/api-resources?filter=identifier%20eq%20system:management",
    )
    .await;
    let api_id = management["apiResources"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let refused = app
        .token(
            &service,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "internal_user_mgt_list"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 400);

    let authorized = app
        .client
        .post(app.at(&format!("/api/server/v1/applications/{}/authorized-apis", service.id)))
        .basic_auth(user, Some(pass))
        .json(&json!({ "id": api_id, "policyIdentifier": "RBAC", "scopes": ["internal_user_mgt_list"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(authorized.status(), 200);
    let listed = get(
        &app,
        &format!("/api/server/v1/applications/{}/authorized-apis", service.id),
    )
    .await;
    assert_eq!(listed[0]["identifier"], "system:management");
    assert_eq!(
        listed[0]["authorizedScopes"][0]["name"],
        "internal_user_mgt_list"
    );

    let granted: Value = app
        .token(
            &service,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "internal_user_mgt_list"),
            ],
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(granted["scope"], "internal_user_mgt_list");
    let token = granted["access_token"].as_str().unwrap();
    let list_users = || app.bearer_status(reqwest::Method::GET, "/scim2/Users", token);
    assert_eq!(
        list_users().await,
        200,
        "an application token with the scope reads users"
    );

    let foreign = app
        .client
        .post(app.at(&format!("/api/server/v1/applications/{}/authorized-apis", service.id)))
        .basic_auth(user, Some(pass))
        .json(&json!({ "id": api_id, "policyIdentifier": "RBAC", "scopes": ["internal_user_impersonate"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 400, "a scope of another API");

    let removed = app
        .client
        .delete(app.at(&format!(
            "/api/server/v1/applications/{}/authorized-apis/{api_id}",
            service.id
        )))
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    // The token issued before keeps no right the application has lost.
    assert_eq!(
        list_users().await,
        403,
        "the scope was taken from the application"
    );
    let refused = app
        .token(
            &service,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "internal_user_mgt_list"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 400);
}

#[tokio::test]
async fn an_application_role_gives_its_users_the_scope_in_that_application_only() {
    let app = spawn_app().await;
    let (user, pass) = admin();
    let shop = app
        .register(
            "Shop",
            json!({}),
            json!({ "advancedConfigurations": { "skipLoginConsent": true } }),
        )
        .await;
    let api_id = impersonation_api(&app).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let authorize = app
        .client
        .post(app.at(&format!("/api/server/v1/applications/{}/authorized-apis", shop.id)))
        .basic_auth(user, Some(pass))
        .json(&json!({ "id": api_id, "policyIdentifier": "RBAC", "scopes": ["internal_user_impersonate"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(authorize.status(), 200);
    let ivy = app.create_user("ivy", "ivy-password-1").await;

    let created = app
        .client
        .post(app.at("/scim2/v2/Roles"))
        .basic_auth(user, Some(pass))
        .json(&json!({
            "displayName": "Shop impersonator",
            "audience": { "type": "application", "value": shop.id },
            "permissions": [{ "value": "internal_user_impersonate" }],
            "users": [{ "value": ivy }],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let role: Value = created.json().await.unwrap();
    assert_eq!(role["audience"]["value"], shop.id);
    assert_eq!(role["users"][0]["display"], "ivy");

    let browser = app.browser_for("ivy", "ivy-password-1").await;
    let code = app
        .code_for(
            &browser,
            &shop,
            &[("scope", "openid internal_user_impersonate")],
        )
        .await;
    let tokens = app.redeem(&shop, &code, None).await;
    assert_eq!(tokens["scope"], "openid internal_user_impersonate");

    // The same user asks another application: no such scope there.
    let other = app
        .register(
            "Other",
            json!({}),
            json!({ "advancedConfigurations": { "skipLoginConsent": true } }),
        )
        .await;
    let code = app
        .code_for(
            &browser,
            &other,
            &[("scope", "openid internal_user_impersonate")],
        )
        .await;
    assert_eq!(app.redeem(&other, &code, None).await["scope"], "openid");

    // Removing the user from the role removes the scope from new grants.
    let removed = app
        .client
        .patch(app.at(&format!("/scim2/v2/Roles/{}", role["id"].as_str().unwrap())))
        .basic_auth(user, Some(pass))
        .json(&json!({ "schemas": [PATCH], "Operations": [{ "op": "remove", "path": format!("users[value eq \"{ivy}\"]") }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    let code = app
        .code_for(
            &browser,
            &shop,
            &[("scope", "openid internal_user_impersonate")],
        )
        .await;
    assert_eq!(app.redeem(&shop, &code, None).await["scope"], "openid");
}

#[tokio::test]
async fn a_role_cannot_hold_a_scope_its_application_is_not_authorized_for() {
    let app = spawn_app().await;
    let (user, pass) = admin();
    let shop = app.register("Shop", json!({}), json!({})).await;
    let response = app
        .client
        .post(app.at("/scim2/v2/Roles"))
        .basic_auth(user, Some(pass))
        .json(&json!({
            "displayName": "Too much",
            "audience": { "type": "application", "value": shop.id },
            "permissions": [{ "value": "internal_user_impersonate" }],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scimType"], "invalidValue");
}

#[tokio::test]
async fn the_impersonator_role_is_read_only_except_for_its_users() {
    let app = spawn_app().await;
    let (user, pass) = admin();
    let my_account = get(
        &app,
        "/api/server/v1/applications?filter=name%20eq%20My%20Account",
    )
    .await;
    let my_account_id = my_account["applications"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = get(&app, &format!("/scim2/v2/Roles?filter=displayName%20eq%20%22Impersonator%22%20and%20audience.value%20eq%20%22{my_account_id}%22")).await;
    assert_eq!(listed["totalResults"], 1);
    let role = &listed["Resources"][0];
    assert_eq!(
        role["permissions"],
        json!([{ "value": "internal_user_impersonate", "display": "internal_user_impersonate" }])
    );
    let path = app.at(&format!("/scim2/v2/Roles/{}", role["id"].as_str().unwrap()));

    let patch = |ops: Value| {
        app.client
            .patch(&path)
            .basic_auth(user, Some(pass))
            .json(&json!({ "schemas": [PATCH], "Operations": ops }))
            .send()
    };
    let rename = patch(json!([{ "op": "replace", "path": "displayName", "value": "Renamed" }]))
        .await
        .unwrap();
    assert_eq!(rename.status(), 403);
    let strip = patch(json!([{ "op": "remove", "path": "permissions", "value": [{ "value": "internal_user_impersonate" }] }])).await.unwrap();
    assert_eq!(strip.status(), 403);
    let delete = app
        .client
        .delete(&path)
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 403);

    let me: Value = app
        .client
        .get(app.at("/scim2/Me"))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let assign = patch(json!([{ "op": "add", "path": "users", "value": [{ "value": me["id"] }] }]))
        .await
        .unwrap();
    assert_eq!(assign.status(), 200);
    let after: Value = assign.json().await.unwrap();
    assert_eq!(after["users"][0]["display"], "admin");
    assert_eq!(after["displayName"], "Impersonator");
}
