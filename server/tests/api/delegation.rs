//! The delegation matrix (issue 18): a caller can grant, assign or authorize only what it
//! holds, and cannot act on a user who holds more. Each caller holds one management scope
//! on its own, or a realistic bundle, through an organization role; each cell tries one
//! way to reach for power and asserts the status, the error, and, when refused, that the
//! database is exactly as before and the refusal names the caller in the audit log.

use crate::helpers::{TestApp, admin, spawn_app};
use identity::entities::{
    application, audit_event, authorized_scope, role, role_scope, role_user, user,
};
use identity::scopes::{MANAGEMENT, USER_IMPERSONATE};
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Everything a refused cell must leave as it was: roles, their scopes and users, every
/// user's password hash, status and details, what each application is authorized for,
/// and each application's settings.
async fn snapshot(app: &TestApp) -> String {
    let db = &app.db;
    let roles = role::Entity::find()
        .order_by_asc(role::Column::Id)
        .all(db)
        .await
        .unwrap();
    let scopes = role_scope::Entity::find()
        .order_by_asc(role_scope::Column::RoleId)
        .order_by_asc(role_scope::Column::Scope)
        .all(db)
        .await
        .unwrap();
    let members = role_user::Entity::find()
        .order_by_asc(role_user::Column::RoleId)
        .order_by_asc(role_user::Column::UserId)
        .all(db)
        .await
        .unwrap();
    let users = user::Entity::find()
        .order_by_asc(user::Column::Id)
        .all(db)
        .await
        .unwrap();
    let authorized = authorized_scope::Entity::find()
        .order_by_asc(authorized_scope::Column::ApplicationId)
        .order_by_asc(authorized_scope::Column::Scope)
        .all(db)
        .await
        .unwrap();
    let apps = application::Entity::find()
        .order_by_asc(application::Column::Id)
        .all(db)
        .await
        .unwrap();
    format!("{roles:?}\n{scopes:?}\n{members:?}\n{users:?}\n{authorized:?}\n{apps:?}")
}

async fn refusals_of(app: &TestApp, actor: &str) -> u64 {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("request-rejected"))
        .filter(audit_event::Column::ActorId.eq(actor))
        .count(&app.db)
        .await
        .unwrap()
}

/// Sends `body` to `path` as `(username, password)` with HTTP Basic.
async fn call(
    app: &TestApp,
    who: (&str, &str),
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, String) {
    let mut request = app
        .client
        .request(method, app.at(path))
        .basic_auth(who.0, Some(who.1));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn as_admin(app: &TestApp, method: Method, path: &str, body: Value) -> Value {
    let (status, text) = call(app, admin(), method, path, Some(body)).await;
    assert!(status < 300, "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Creates a user holding exactly `scopes` through an organization role of its own, and
/// returns the user's and the role's ids.
async fn holder(app: &TestApp, name: &str, scopes: &[&str]) -> (String, String) {
    let user = app.create_user(name, &format!("{name}-password-1")).await;
    let permissions: Vec<Value> = scopes.iter().map(|s| json!({ "value": s })).collect();
    let role = as_admin(
        app,
        Method::POST,
        "/scim2/v2/Roles",
        json!({ "displayName": format!("Only {name}"), "permissions": permissions,
                "users": [{ "value": user }] }),
    )
    .await;
    (user, role["id"].as_str().unwrap().to_owned())
}

async fn role_id(app: &TestApp, name: &str) -> String {
    let listed = app
        .get_as_admin(app.at(&format!(
            "/scim2/v2/Roles?filter=displayName%20eq%20%22{name}%22"
        )))
        .await;
    listed["Resources"][0]["id"].as_str().unwrap().to_owned()
}

async fn application_id(app: &TestApp, name: &str) -> String {
    let listed = app
        .get_as_admin(app.at(&format!(
            "/api/server/v1/applications?filter=name%20eq%20{}",
            name.replace(' ', "%20")
        )))
        .await;
    listed["applications"][0]["id"].as_str().unwrap().to_owned()
}

/// What a cell needs: the endpoint's own scope, and what the delegation rule asks the
/// caller to hold (`None`: nobody may, not even an administrator).
struct Cell {
    name: &'static str,
    endpoint: &'static str,
    held: Option<Vec<String>>,
    method: Method,
    path: String,
    body: Option<Value>,
    ok: u16,
}

/// The test's own statement of the rule: management scopes count only when held; an
/// administrator (every management scope) holds every other scope too.
fn holds(caller: &[&str], scope: &str) -> bool {
    let administrator = MANAGEMENT.iter().all(|s| caller.contains(s));
    caller.contains(&scope) || (administrator && !MANAGEMENT.contains(&scope))
}

#[tokio::test]
async fn a_caller_grants_assigns_authorizes_and_resets_only_within_what_it_holds() {
    let app = spawn_app().await;
    let administrator = role_id(&app, "Administrator").await;
    let impersonator = role_id(&app, "Impersonator").await;
    let console = application_id(&app, "Console").await;
    let management_api = app.management_api_id().await;
    let shop = app.register("Shop", json!({}), json!({})).await;
    // A second administrator, whom only an administrator may reset, disable or delete.
    let admin2 = app.create_user("admin2", "admin2-password-1").await;
    as_admin(
        &app,
        Method::PATCH,
        &format!("/scim2/v2/Roles/{administrator}"),
        json!({ "schemas": [PATCH], "Operations": [{ "op": "add", "path": "users", "value": [{ "value": admin2 }] }] }),
    )
    .await;
    // A role granting a deletion right, and a user holding nothing.
    let deleters = as_admin(
        &app,
        Method::POST,
        "/scim2/v2/Roles",
        json!({ "displayName": "Deleters", "permissions": [{ "value": "internal_user_mgt_delete" }] }),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let plain = app.create_user("plain", "plain-password-1").await;

    let mut callers: Vec<(String, Vec<&str>)> = MANAGEMENT
        .iter()
        .map(|s| (s.replace('_', "-"), vec![*s]))
        .collect();
    callers.push((
        "helpdesk".into(),
        vec![
            "internal_user_mgt_list",
            "internal_user_mgt_view",
            "internal_user_mgt_update",
        ],
    ));
    callers.push((
        "role-manager".into(),
        vec![
            "internal_role_mgt_view",
            "internal_role_mgt_create",
            "internal_role_mgt_update",
            "internal_role_mgt_delete",
            "internal_user_mgt_list",
            "internal_user_mgt_view",
        ],
    ));
    callers.push((
        "app-manager".into(),
        vec![
            "internal_application_mgt_view",
            "internal_application_mgt_create",
            "internal_application_mgt_update",
            "internal_application_mgt_delete",
            "internal_api_resource_view",
            "internal_user_mgt_view",
        ],
    ));
    // The full administrator goes last: its cells succeed and change the targets.
    callers.push(("full".into(), MANAGEMENT.to_vec()));

    let all: Vec<String> = MANAGEMENT.iter().map(|s| (*s).to_owned()).collect();
    let mut refused_cells = 0;
    for (name, scopes) in &callers {
        let (me, my_role) = holder(&app, name, scopes).await;
        let password = format!("{name}-password-1");
        let who = (name.as_str(), password.as_str());
        let mut own_and_delete: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        own_and_delete.push("internal_user_mgt_delete".into());
        let add_me = |role: &str| Cell {
            name: "",
            endpoint: "internal_role_mgt_update",
            held: None,
            method: Method::PATCH,
            path: format!("/scim2/v2/Roles/{role}"),
            body: Some(json!({ "schemas": [PATCH],
                "Operations": [{ "op": "add", "path": "users", "value": [{ "value": me }] }] })),
            ok: 200,
        };
        let cells = vec![
            Cell {
                name: "assign themselves Administrator",
                held: Some(all.clone()),
                ..add_me(&administrator)
            },
            Cell {
                name: "assign themselves Impersonator",
                held: Some(vec![USER_IMPERSONATE.into()]),
                ..add_me(&impersonator)
            },
            Cell {
                name: "create a role granting user deletion, with themselves in it",
                endpoint: "internal_role_mgt_create",
                held: Some(vec!["internal_user_mgt_delete".into()]),
                method: Method::POST,
                path: "/scim2/v2/Roles".into(),
                body: Some(json!({ "displayName": format!("Escalation {name}"),
                    "permissions": [{ "value": "internal_user_mgt_delete" }],
                    "users": [{ "value": me }] })),
                ok: 201,
            },
            Cell {
                name: "widen their own role with user deletion",
                endpoint: "internal_role_mgt_update",
                held: Some(own_and_delete),
                method: Method::PATCH,
                path: format!("/scim2/v2/Roles/{my_role}"),
                body: Some(json!({ "schemas": [PATCH], "Operations": [{ "op": "add",
                    "path": "permissions", "value": [{ "value": "internal_user_mgt_delete" }] }] })),
                ok: 200,
            },
            Cell {
                name: "authorize an application for user deletion",
                endpoint: "internal_application_mgt_update",
                held: Some(vec!["internal_user_mgt_delete".into()]),
                method: Method::POST,
                path: format!("/api/server/v1/applications/{}/authorized-apis", shop.id),
                body: Some(json!({ "id": management_api, "policyIdentifier": "RBAC",
                    "scopes": ["internal_user_mgt_delete"] })),
                ok: 200,
            },
            Cell {
                name: "add a callback URL to the Console",
                endpoint: "internal_application_mgt_update",
                held: None,
                method: Method::PUT,
                path: format!("/api/server/v1/applications/{console}/inbound-protocols/oidc"),
                body: Some(json!({ "callbackURLs": ["https://evil.example/steal"],
                    "grantTypes": ["authorization_code", "refresh_token"], "publicClient": true })),
                ok: 200,
            },
            Cell {
                name: "choose what signs an application's tokens",
                endpoint: "internal_application_mgt_update",
                held: Some(vec![]),
                method: Method::PUT,
                path: format!(
                    "/api/server/v1/applications/{}/inbound-protocols/oidc",
                    shop.id
                ),
                body: Some(json!({ "idToken": { "idTokenSignedResponseAlg": "EdDSA" },
                    "accessToken": { "accessTokenSignedResponseAlg": "ES256" } })),
                ok: 200,
            },
            Cell {
                name: "rename the Console",
                endpoint: "internal_application_mgt_update",
                held: Some(all.clone()),
                method: Method::PATCH,
                path: format!("/api/server/v1/applications/{console}"),
                body: Some(json!({ "name": "Admin Console" })),
                ok: 200,
            },
            Cell {
                name: "reset a user who holds nothing",
                endpoint: "internal_user_mgt_update",
                held: Some(vec![]),
                method: Method::PATCH,
                path: format!("/scim2/Users/{plain}"),
                body: Some(
                    json!({ "schemas": [PATCH], "Operations": [{ "op": "replace",
                    "path": "password", "value": format!("plain-by-{name}-1") }] }),
                ),
                ok: 200,
            },
            Cell {
                name: "delete a role granting user deletion",
                endpoint: "internal_role_mgt_delete",
                held: Some(vec!["internal_user_mgt_delete".into()]),
                method: Method::DELETE,
                path: format!("/scim2/v2/Roles/{deleters}"),
                body: None,
                ok: 204,
            },
            Cell {
                name: "reset an administrator's password",
                endpoint: "internal_user_mgt_update",
                held: Some(all.clone()),
                method: Method::PATCH,
                path: format!("/scim2/Users/{admin2}"),
                body: Some(
                    json!({ "schemas": [PATCH], "Operations": [{ "op": "replace",
                    "path": "password", "value": "taken-over-1" }] }),
                ),
                ok: 200,
            },
            Cell {
                name: "disable an administrator",
                endpoint: "internal_user_mgt_update",
                held: Some(all.clone()),
                method: Method::PATCH,
                path: format!("/scim2/Users/{admin2}"),
                body: Some(
                    json!({ "schemas": [PATCH], "Operations": [{ "op": "replace",
                    "path": "active", "value": false }] }),
                ),
                ok: 200,
            },
            Cell {
                name: "take an administrator out of Administrator",
                held: Some(all.clone()),
                body: Some(json!({ "schemas": [PATCH], "Operations": [{ "op": "remove",
                    "path": "users", "value": [{ "value": admin2 }] }] })),
                ..add_me(&administrator)
            },
            Cell {
                name: "delete an administrator",
                endpoint: "internal_user_mgt_delete",
                held: Some(all.clone()),
                method: Method::DELETE,
                path: format!("/scim2/Users/{admin2}"),
                body: None,
                ok: 204,
            },
        ];
        for cell in cells {
            let may_call = scopes.contains(&cell.endpoint);
            let may_change = cell
                .held
                .as_ref()
                .is_some_and(|held| held.iter().all(|s| holds(scopes, s)));
            let before = snapshot(&app).await;
            let refusals = refusals_of(&app, &me).await;
            let (status, body) = call(&app, who, cell.method, &cell.path, cell.body).await;
            let context = format!("{name} tries to {}: {status} {body}", cell.name);
            if may_call && may_change {
                assert_eq!(status, cell.ok, "{context}");
                continue;
            }
            refused_cells += 1;
            assert_eq!(status, 403, "{context}");
            if may_call {
                assert!(body.contains("Not allowed"), "{context}");
            } else {
                assert!(body.contains(cell.endpoint), "{context}");
            }
            assert_eq!(snapshot(&app).await, before, "{context}: something changed");
            assert_eq!(
                refusals_of(&app, &me).await,
                refusals + 1,
                "{context}: the refusal names the caller"
            );
        }
    }
    assert!(refused_cells > 300, "{refused_cells} refusals");
    // The full administrator's cells went through, the Console excepted.
    let admin2_now = user::Entity::find_by_id(uuid::Uuid::parse_str(&admin2).unwrap())
        .one(&app.db)
        .await
        .unwrap();
    assert!(admin2_now.is_none(), "the administrator deleted admin2");
    let console_now = app
        .get_as_admin(app.at(&format!(
            "/api/server/v1/applications/{console}/inbound-protocols/oidc"
        )))
        .await;
    assert!(
        !console_now.to_string().contains("evil.example"),
        "{console_now}"
    );
}

#[tokio::test]
async fn an_application_token_grants_nothing_its_application_is_not_authorized_for() {
    let app = spawn_app().await;
    let administrator = role_id(&app, "Administrator").await;
    let management_api = app.management_api_id().await;
    let robot = app
        .register(
            "Robot",
            json!({ "grantTypes": ["client_credentials"] }),
            json!({}),
        )
        .await;
    as_admin(
        &app,
        Method::POST,
        &format!("/api/server/v1/applications/{}/authorized-apis", robot.id),
        json!({ "id": management_api, "policyIdentifier": "RBAC",
                "scopes": ["internal_role_mgt_update", "internal_role_mgt_view"] }),
    )
    .await;
    let token = app
        .token(
            &robot,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "internal_role_mgt_update internal_role_mgt_view"),
            ],
        )
        .await;
    assert_eq!(token.status(), 200);
    let token: Value = token.json().await.unwrap();
    let access = token["access_token"].as_str().unwrap();
    let plain = app.create_user("plain", "plain-password-1").await;
    let before = snapshot(&app).await;
    let response = app
        .client
        .patch(app.at(&format!("/scim2/v2/Roles/{administrator}")))
        .bearer_auth(access)
        .json(&json!({ "schemas": [PATCH],
            "Operations": [{ "op": "add", "path": "users", "value": [{ "value": plain }] }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap().contains("Not allowed"));
    assert_eq!(snapshot(&app).await, before);
}

/// POSTs a Console server function's form as `browser` (a signed-in session).
async fn server_fn(
    app: &TestApp,
    browser: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let response = browser
        .post(app.at(path))
        .header("Origin", &app.url)
        .header("Accept", "application/json")
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_console_refuses_the_same_escalations_and_audits_them() {
    use leptos::server_fn::ServerFn;
    let app = spawn_app().await;
    let administrator = role_id(&app, "Administrator").await;
    let (helpdesk, _) = holder(
        &app,
        "helpdesk",
        &[
            "internal_user_mgt_list",
            "internal_user_mgt_view",
            "internal_user_mgt_update",
        ],
    )
    .await;
    let (manager, _) = holder(
        &app,
        "manager",
        &[
            "internal_user_mgt_view",
            "internal_role_mgt_view",
            "internal_role_mgt_update",
        ],
    )
    .await;
    let admin_id = app.get_as_admin(app.at("/scim2/Me")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let plain = app.create_user("plain", "plain-password-1").await;

    let browser = app.browser_for("helpdesk", "helpdesk-password-1").await;
    let status_path = app::pages::console::users::SetUserStatus::PATH;
    let before = snapshot(&app).await;
    let (status, body) = server_fn(
        &app,
        &browser,
        status_path,
        &[("id", &admin_id), ("status", "disabled")],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Not allowed"), "{body}");
    assert_eq!(
        snapshot(&app).await,
        before,
        "the administrator stays active"
    );
    assert_eq!(refusals_of(&app, &helpdesk).await, 1);
    // The same helpdesk may lock a user who holds nothing.
    let (status, body) = server_fn(
        &app,
        &browser,
        status_path,
        &[("id", &plain), ("status", "locked")],
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let browser = app.browser_for("manager", "manager-password-1").await;
    let before = snapshot(&app).await;
    let (status, body) = server_fn(
        &app,
        &browser,
        app::pages::console::roles::ChangeRole::PATH,
        &[
            ("id", &administrator),
            ("change", "assign"),
            ("value", "manager"),
        ],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        snapshot(&app).await,
        before,
        "Administrator keeps its members"
    );
    assert_eq!(refusals_of(&app, &manager).await, 1);
}
