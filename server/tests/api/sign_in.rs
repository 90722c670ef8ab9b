use crate::helpers::{ADMIN_PASSWORD, TestApp, client, location, spawn_app};
use identity::entities::{idp_session, user};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, IntoActiveModel, PaginatorTrait};

/// `POST /logout` from `browser`, as the page's own form sends it.
async fn sign_out(app: &TestApp, browser: &reqwest::Client) -> reqwest::Response {
    browser
        .post(app.at("/logout"))
        .header("Origin", &app.url)
        .send()
        .await
        .unwrap()
}

/// The session's Set-Cookie header of a response (`idp_session`, or `__Host-idp_session`
/// over https).
fn session_set_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("idp_session=") || v.starts_with("__Host-idp_session="))
        .expect("an idp_session cookie")
        .to_owned()
}

#[tokio::test]
async fn the_console_sends_a_visitor_without_a_session_to_sign_in() {
    let app = spawn_app().await;
    let response = app.client.get(app.at("/console")).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login?return_to=%2Fconsole");
}

#[tokio::test]
async fn the_login_page_is_a_form_that_works_without_javascript() {
    let app = spawn_app().await;
    let response = app.client.get(app.at("/login")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(
        html.contains(r#"<form method="post" action="/login""#),
        "{html}"
    );
    assert!(html.contains(r#"name="username""#) && html.contains(r#"name="password""#));
    assert!(
        html.contains("/pkg/frontend.js"),
        "hydration scripts are linked"
    );
    assert!(html.contains("/pkg/main.css"), "the stylesheet is linked");
}

#[tokio::test]
async fn signing_in_sets_a_hardened_cookie_and_returns_to_the_page() {
    let app = spawn_app().await;
    let response = app.sign_in("admin", ADMIN_PASSWORD).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/console");
    let cookie = session_set_cookie(&response);
    assert!(cookie.contains("; HttpOnly"), "{cookie}");
    assert!(cookie.contains("; SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("; Path=/"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http has no Secure cookies: {cookie}"
    );

    let page = app.client.get(app.at("/console")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Welcome, Administrator"), "{html}");
}

#[tokio::test]
async fn cookies_are_secure_when_the_public_url_is_https() {
    let data = tempfile::TempDir::new().unwrap();
    let app = crate::helpers::spawn_app_in(data.path(), |c| {
        c.public_url = Some("https://id.example".into())
    })
    .await
    .unwrap();
    let response = app
        .client
        .post(app.at("/login"))
        .header("Origin", "https://id.example")
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(session_set_cookie(&response).ends_with("; Secure"));
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    let wrong = app.sign_in("admin", "not-the-password").await;
    let unknown = app.sign_in("nobody", "not-the-password").await;
    for response in [&wrong, &unknown] {
        assert_eq!(response.status(), 303);
        assert_eq!(
            location(response),
            "/login?error=invalid_credentials&return_to=%2Fconsole"
        );
        assert!(response.headers().get("set-cookie").is_none());
    }
    assert_eq!(idp_session::Entity::find().count(&app.db).await.unwrap(), 0);
}

#[tokio::test]
async fn a_disabled_or_locked_user_cannot_sign_in_and_their_session_stops_working() {
    let app = spawn_app().await;
    assert_eq!(
        location(&app.sign_in("admin", ADMIN_PASSWORD).await),
        "/console"
    );

    let admin = identity::users::find_by_username(&app.db, "admin")
        .await
        .unwrap()
        .unwrap();
    for status in [user::UserStatus::Disabled, user::UserStatus::Locked] {
        let mut changed = admin.clone().into_active_model();
        changed.status = Set(status);
        changed.update(&app.db).await.unwrap();

        let page = app.client.get(app.at("/console")).send().await.unwrap();
        assert_eq!(
            page.status(),
            303,
            "{status:?}: the live session stops working"
        );
        let again = app
            .sign_in_with(&client(), "admin", ADMIN_PASSWORD, "/console")
            .await;
        assert!(location(&again).starts_with("/login?error="), "{status:?}");
    }
}

#[tokio::test]
async fn the_session_id_changes_at_every_sign_in() {
    let app = spawn_app().await;
    let first = session_set_cookie(&app.sign_in("admin", ADMIN_PASSWORD).await);
    let second = session_set_cookie(&app.sign_in("admin", ADMIN_PASSWORD).await);
    assert_ne!(first, second);
    // The first session was ended by the second sign-in in the same browser.
    let old_value = first.split(';').next().unwrap().to_owned();
    let replay = client()
        .get(app.at("/console"))
        .header("cookie", old_value)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 303);
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() {
    let app = spawn_app().await;
    let cookie = session_set_cookie(&app.sign_in("admin", ADMIN_PASSWORD).await);
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let out = sign_out(&app, &app.client).await;
    assert_eq!(out.status(), 303);
    assert_eq!(location(&out), "/login");
    assert!(session_set_cookie(&out).contains("Max-Age=0"));
    // Even a client that kept the old cookie is signed out.
    let replay = client()
        .get(app.at("/console"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 303);
}

#[tokio::test]
async fn a_sign_in_posted_from_another_site_is_refused() {
    let app = spawn_app().await;
    for origin in [Some("https://evil.example"), None] {
        let mut request = app
            .client
            .post(app.at("/login"))
            .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)]);
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403, "{origin:?}");
    }
    assert_eq!(idp_session::Entity::find().count(&app.db).await.unwrap(), 0);
}

#[tokio::test]
async fn return_to_never_leaves_this_server() {
    let app = spawn_app().await;
    for target in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
    ] {
        let response = app
            .sign_in_with(&client(), "admin", ADMIN_PASSWORD, target)
            .await;
        assert_eq!(location(&response), "/console", "{target}");
    }
    let response = app
        .sign_in_with(&client(), "admin", ADMIN_PASSWORD, "/console?tab=2")
        .await;
    assert_eq!(location(&response), "/console?tab=2");
}

#[tokio::test]
async fn a_user_without_the_administrator_role_is_told_they_have_no_access() {
    let app = spawn_app().await;
    let admin = identity::users::find_by_username(&app.db, "admin")
        .await
        .unwrap()
        .unwrap();
    identity::users::create(
        &app.db,
        identity::users::NewUser {
            organization_id: admin.organization_id,
            username: "alice",
            email: "alice@example.org",
            given_name: "Alice",
            family_name: "Liddell",
            password: "alice-password-1",
        },
    )
    .await
    .unwrap();
    assert_eq!(
        location(&app.sign_in("alice", "alice-password-1").await),
        "/console"
    );
    let html = app
        .client
        .get(app.at("/console"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("No access"), "{html}");
    assert!(!html.contains("Welcome"), "{html}");
}

#[tokio::test]
async fn sign_ins_sign_outs_and_automatic_locks_are_audited() {
    let app = spawn_app().await;
    let id = app.create_user("sam", "sam-Password-1").await;
    let browser = client();
    let signed_in = app
        .sign_in_with(&browser, "sam", "sam-Password-1", "/console")
        .await;
    assert_eq!(location(&signed_in), "/console");
    let out = sign_out(&app, &browser).await;
    assert_eq!(out.status(), 303);
    // A second sign-out ends nothing, and records nothing.
    sign_out(&app, &browser).await;
    for action in ["sign-in", "sign-out"] {
        let found = app.audit_events(action).await;
        assert_eq!(found.len(), 1, "{action}: {found:?}");
        assert_eq!(found[0]["actor"], id.to_string(), "{action}");
        assert_eq!(found[0]["outcome"], "success");
    }
    assert!(app.audit_events("account-locked").await.is_empty());

    for _ in 0..5 {
        let refused = app
            .sign_in_with(&client(), "sam", "wrong-Password-1", "/console")
            .await;
        assert!(location(&refused).starts_with("/login?error="));
    }
    let locked = app.audit_events("account-locked").await;
    assert_eq!(locked.len(), 1, "{locked:?}");
    assert_eq!(locked[0]["target"], id.to_string());
    assert!(
        locked[0]["reason"]
            .as_str()
            .unwrap()
            .contains("5 failed sign-ins")
    );
}
