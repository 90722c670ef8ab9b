//! The Console's server functions check the caller first: a user without the permission
//! gets 403, the page shows no data, and the refusal is in the audit log.

use crate::helpers::{admin, spawn_app};
use serde_json::{Value, json};

async fn refusals(app: &crate::helpers::TestApp, actor: &str) -> Vec<String> {
    let events: Value = app
        .get_as_admin(app.at(&format!(
            "/api/server/v1/audit-events?action=request-rejected&actor={actor}"
        )))
        .await;
    events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn console_pages_refuse_callers_without_the_permission_and_audit_it() {
    let app = spawn_app().await;
    let plain = app.create_user("plain", "plain-password-1").await;
    let browser = app.browser_for("plain", "plain-password-1").await;
    let users = browser.get(app.at("/console/users")).send().await.unwrap();
    assert_eq!(users.status(), 403);
    let html = users.text().await.unwrap();
    assert!(html.contains("no access to the Console"), "{html}");
    assert!(!html.contains("admin@"), "no user data on a refused page");
    assert!(
        refusals(&app, &plain)
            .await
            .iter()
            .any(|r| r == "403 forbidden: lacks internal_user_mgt_view"),
        "the refusal is audited"
    );

    // Console access without the audit scope: the audit log is refused, Users is not.
    let (user, pass) = admin();
    let viewer = app.create_user("viewer", "viewer-password-1").await;
    let role = app
        .client
        .post(app.at("/scim2/v2/Roles"))
        .basic_auth(user, Some(pass))
        .json(&json!({
            "displayName": "User viewers",
            "permissions": [{ "value": "internal_user_mgt_view" }],
            "users": [{ "value": viewer }],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(role.status(), 201);
    let browser = app.browser_for("viewer", "viewer-password-1").await;
    let listed = browser.get(app.at("/console/users")).send().await.unwrap();
    assert_eq!(listed.status(), 200);
    let audit = browser.get(app.at("/console/audit")).send().await.unwrap();
    assert_eq!(audit.status(), 403);
    assert!(
        refusals(&app, &viewer)
            .await
            .iter()
            .any(|r| r == "403 forbidden: lacks internal_audit_view"),
        "the refusal is audited"
    );
}
