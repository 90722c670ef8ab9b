//! Organization isolation (issue 18): a role whose audience is a sub-organization grants
//! management rights there and below only. Its holder lists, reads and changes the users
//! and roles of that subtree; the root's (`admin`, Administrator) are as unknown to it as
//! ones that do not exist, and nothing there changes.

use crate::helpers::{TestApp, admin, spawn_app};
use identity::entities::user;
use reqwest::Method;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, IntoActiveModel};
use serde_json::{Value, json};

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const BRANCH_ADMIN_PASSWORD: &str = "branch-Admin-password-1";

async fn as_admin(app: &TestApp, method: Method, path: &str, body: Value) -> Value {
    let (user, pass) = admin();
    let response = app
        .client
        .request(method, app.at(path))
        .basic_auth(user, Some(pass))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap_or(Value::Null)
}

async fn as_branch_admin(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app
        .client
        .request(method, app.at(path))
        .basic_auth("branch-admin", Some(BRANCH_ADMIN_PASSWORD));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Moves a user's home to `organization` (users are created in their creator's).
async fn move_to(app: &TestApp, user_id: &str, organization: &str) {
    let found = user::Entity::find_by_id(uuid::Uuid::parse_str(user_id).unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut moved = found.into_active_model();
    moved.organization_id = Set(uuid::Uuid::parse_str(organization).unwrap());
    moved.update(&app.db).await.unwrap();
}

#[tokio::test]
async fn a_sub_organization_administrator_sees_and_changes_nothing_of_the_root() {
    let app = spawn_app().await;
    let branch = as_admin(
        &app,
        Method::POST,
        "/api/server/v1/organizations",
        json!({ "name": "Branch" }),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let branch_admin = app.create_user("branch-admin", BRANCH_ADMIN_PASSWORD).await;
    let clerk = app
        .create_user("branch-clerk", "branch-clerk-password-1")
        .await;
    let root_user = app.create_user("root-user", "root-user-password-1").await;
    move_to(&app, &branch_admin, &branch).await;
    move_to(&app, &clerk, &branch).await;
    as_admin(
        &app,
        Method::POST,
        "/scim2/v2/Roles",
        json!({ "displayName": "Branch administrators",
            "audience": { "type": "organization", "value": branch },
            "permissions": identity::scopes::MANAGEMENT.iter().map(|s| json!({ "value": s })).collect::<Vec<_>>(),
            "users": [{ "value": branch_admin }] }),
    )
    .await;
    let admin_id = app.get_as_admin(app.at("/scim2/Me")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let administrator = app
        .get_as_admin(app.at("/scim2/v2/Roles?filter=displayName%20eq%20%22Administrator%22"))
        .await["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Lists hold the branch only.
    let (status, listed) = as_branch_admin(&app, Method::GET, "/scim2/Users", None).await;
    assert_eq!(status, 200);
    let mut names: Vec<&str> = listed["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["branch-admin", "branch-clerk"]);
    let (_, roles) = as_branch_admin(&app, Method::GET, "/scim2/v2/Roles", None).await;
    let role_names: Vec<&str> = roles["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(role_names, ["Branch administrators"], "{roles}");

    // The root's users and roles are not there to read or change.
    let before = app
        .get_as_admin(app.at(&format!("/scim2/Users/{admin_id}")))
        .await;
    for (method, path, body) in [
        (Method::GET, format!("/scim2/Users/{admin_id}"), None),
        (Method::GET, format!("/scim2/Users/{root_user}"), None),
        (
            Method::PATCH,
            format!("/scim2/Users/{admin_id}"),
            Some(
                json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "active", "value": false }] }),
            ),
        ),
        (Method::DELETE, format!("/scim2/Users/{root_user}"), None),
        (
            Method::GET,
            format!("/scim2/v2/Roles/{administrator}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/scim2/v2/Roles/{administrator}"),
            Some(
                json!({ "schemas": [PATCH], "Operations": [{ "op": "add", "path": "users", "value": [{ "value": branch_admin }] }] }),
            ),
        ),
    ] {
        let (status, body) = as_branch_admin(&app, method.clone(), &path, body).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
    }
    assert_eq!(
        app.get_as_admin(app.at(&format!("/scim2/Users/{admin_id}")))
            .await,
        before
    );
    let members = app
        .get_as_admin(app.at(&format!("/scim2/v2/Roles/{administrator}")))
        .await["users"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(members, 1, "Administrator still has admin alone");
    let root_user_now = app
        .get_as_admin(app.at(&format!("/scim2/Users/{root_user}")))
        .await;
    assert_eq!(root_user_now["userName"], "root-user");

    // Within the branch, the branch administrator works as usual.
    let (status, _) = as_branch_admin(
        &app,
        Method::PATCH,
        &format!("/scim2/Users/{clerk}"),
        Some(json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "active", "value": false }] })),
    )
    .await;
    assert_eq!(status, 200);

    // The root's applications (the Console among them) and organizations are not there.
    let console = app
        .get_as_admin(app.at("/api/server/v1/applications?filter=name%20eq%20Console"))
        .await["applications"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, apps) =
        as_branch_admin(&app, Method::GET, "/api/server/v1/applications", None).await;
    assert_eq!(
        (status, apps["totalResults"].as_u64()),
        (200, Some(0)),
        "{apps}"
    );
    for (method, path, body) in [
        (
            Method::GET,
            format!("/api/server/v1/applications/{console}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/server/v1/applications/{console}"),
            Some(json!({ "name": "Taken over" })),
        ),
        (
            Method::GET,
            format!("/api/server/v1/applications/{console}/authorized-apis"),
            None,
        ),
    ] {
        let (status, body) = as_branch_admin(&app, method.clone(), &path, body).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
    }
    let (_, organizations) =
        as_branch_admin(&app, Method::GET, "/api/server/v1/organizations", None).await;
    let names: Vec<&str> = organizations["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Branch"]);
    let (status, _) = as_branch_admin(
        &app,
        Method::POST,
        "/api/server/v1/organizations",
        Some(json!({ "name": "Beside the branch" })),
    )
    .await;
    assert_eq!(status, 400, "no sub-organization of the root");
    let (status, _) = as_branch_admin(
        &app,
        Method::POST,
        "/api/server/v1/organizations",
        Some(json!({ "name": "Below the branch", "parentId": branch })),
    )
    .await;
    assert_eq!(status, 201, "a sub-organization of the branch");

    // A root impersonation session (admin impersonating root-user) is not there either.
    let my_account = app
        .get_as_admin(app.at("/api/server/v1/applications?filter=name%20eq%20My%20Account"))
        .await["applications"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = identity::clock::now();
    let session = uuid::Uuid::new_v4();
    identity::entities::impersonation_session::ActiveModel {
        id: Set(session),
        organization_id: Set(identity::seed::root_organization_id(&app.db).await.unwrap()),
        impersonator_id: Set(uuid::Uuid::parse_str(&admin_id).unwrap()),
        impersonator_name: Set("admin".into()),
        target_id: Set(uuid::Uuid::parse_str(&root_user).unwrap()),
        application_id: Set(uuid::Uuid::parse_str(&my_account).unwrap()),
        idp_session_id: Set(None),
        reason: Set("root business".into()),
        ticket: Set(String::new()),
        read_only: Set(false),
        started_at: Set(now),
        expires_at: Set(now + 600),
        ended_at: Set(None),
        ended_by: Set(None),
        end_reason: Set(None),
        request_id: Set(None),
        support_access_id: Set(None),
        limit_at: Set(None),
    }
    .insert(&app.db)
    .await
    .unwrap();
    let (_, sessions) = as_branch_admin(
        &app,
        Method::GET,
        "/api/server/v1/impersonation-sessions",
        None,
    )
    .await;
    assert_eq!(sessions["totalResults"], 0, "{sessions}");
    let (status, _) = as_branch_admin(
        &app,
        Method::DELETE,
        &format!("/api/server/v1/impersonation-sessions/{session}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let all = app
        .get_as_admin(app.at("/api/server/v1/impersonation-sessions"))
        .await;
    assert_eq!(all["totalResults"], 1, "the root's administrator sees it");

    // The audit log shows what concerns the branch's users only (a failed sign-in of the
    // clerk, not the root's sign-ins and refusals).
    app.sign_in_with(
        &crate::helpers::client(),
        "branch-clerk",
        "wrong-password",
        "/console",
    )
    .await;
    app.sign_in_with(
        &crate::helpers::client(),
        "root-user",
        "wrong-password",
        "/console",
    )
    .await;
    let (status, events) = as_branch_admin(
        &app,
        Method::GET,
        "/api/server/v1/audit-events?limit=500",
        None,
    )
    .await;
    assert_eq!(status, 200);
    let events = events["events"].as_array().unwrap().clone();
    assert!(!events.is_empty(), "the clerk's failed sign-in is there");
    let branch_people = [branch_admin.as_str(), clerk.as_str()];
    for event in &events {
        let named = ["actor", "target", "impersonator"].iter().any(|k| {
            event[*k]
                .as_str()
                .is_some_and(|id| branch_people.contains(&id))
        });
        assert!(named, "{event}");
    }

    // Rights held for the branch do not reach the settings of one's own (root) home.
    let configurer = app.create_user("configurer", "configurer-password-1").await;
    as_admin(
        &app,
        Method::POST,
        "/scim2/v2/Roles",
        json!({ "displayName": "Branch configurers",
            "audience": { "type": "organization", "value": branch },
            "permissions": [{ "value": "internal_config_view" }, { "value": "internal_config_update" }],
            "users": [{ "value": configurer }] }),
    )
    .await;
    let settings = app
        .client
        .patch(app.at("/api/server/v1/configs/impersonation"))
        .basic_auth("configurer", Some("configurer-password-1"))
        .json(&json!([{ "operation": "REPLACE", "path": "/enableEmailNotification", "value": false }]))
        .send()
        .await
        .unwrap();
    assert_eq!(settings.status(), 403);
    // Nor the server's signing keys.
    let rotate = app
        .client
        .post(app.at("/api/server/v1/keys/rotate"))
        .basic_auth("configurer", Some("configurer-password-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(rotate.status(), 403);

    // The Console's organization tree starts at the branch.
    {
        use leptos::server_fn::ServerFn;
        let browser = app.browser_for("branch-admin", BRANCH_ADMIN_PASSWORD).await;
        let tree = browser
            .post(app.at(app::pages::console::organizations::ListOrganizations::PATH))
            .header("Origin", &app.url)
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(tree.status(), 200);
        let tree: Value = tree.json().await.unwrap();
        let names: Vec<(&str, u64)> = tree
            .as_array()
            .unwrap()
            .iter()
            .map(|n| (n["name"].as_str().unwrap(), n["depth"].as_u64().unwrap()))
            .collect();
        assert_eq!(names, [("Branch", 0), ("Below the branch", 1)]);
    }

    // The root's administrator sees everyone.
    let all = app.get_as_admin(app.at("/scim2/Users")).await;
    assert_eq!(all["totalResults"], 5);
}
