//! Response headers every answer carries (issue 18): pages allow only our own scripts and
//! the hydration script with this response's nonce, nobody may frame anything, and over
//! https browsers are told to use nothing else.

use crate::helpers::{spawn_app, spawn_app_in};

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn pages_allow_only_the_scripts_they_carry_and_nothing_may_frame_them() {
    let app = spawn_app().await;
    let page = app.client.get(app.at("/login")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let policy = header(&page, "content-security-policy").unwrap().to_owned();
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    let nonce = policy
        .split_whitespace()
        .find_map(|part| part.strip_prefix("'nonce-"))
        .and_then(|rest| rest.strip_suffix('\''))
        .expect("a nonce in the policy")
        .to_owned();
    assert!(nonce.len() >= 16, "{nonce}");
    assert_eq!(header(&page, "x-frame-options"), Some("DENY"));
    assert_eq!(
        header(&page, "strict-transport-security"),
        None,
        "plain http"
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the hydration script carries it"
    );
    assert!(
        !html.contains(" style=\""),
        "no inline style the policy would block"
    );

    // Another render, another nonce.
    let again = app.client.get(app.at("/login")).send().await.unwrap();
    let second = header(&again, "content-security-policy").unwrap();
    assert!(!second.contains(&nonce));

    // Answers that are not pages run nothing.
    let api = app.client.get(app.at("/health/live")).send().await.unwrap();
    assert_eq!(
        header(&api, "content-security-policy"),
        Some("default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'")
    );
}

#[tokio::test]
async fn over_https_browsers_are_told_to_use_nothing_else() {
    let data = tempfile::TempDir::new().unwrap();
    let app = spawn_app_in(data.path(), |config| {
        config.public_url = Some("https://idp.example".into());
    })
    .await
    .unwrap();
    let page = app.client.get(app.at("/health/live")).send().await.unwrap();
    assert_eq!(
        header(&page, "strict-transport-security"),
        Some("max-age=31536000")
    );

    // The session cookie is __Host- prefixed and Secure; the plain name counts for nothing.
    let signed_in = app.sign_in("admin", crate::helpers::ADMIN_PASSWORD).await;
    let cookie = header(&signed_in, "set-cookie").unwrap().to_owned();
    assert!(cookie.starts_with("__Host-idp_session="), "{cookie}");
    assert!(
        cookie.contains("; Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Domain"), "{cookie}");
    let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    let console = |name: &str| {
        app.client
            .get(app.at("/console"))
            .header("Cookie", format!("{name}={value}"))
            .send()
    };
    assert_eq!(console("__Host-idp_session").await.unwrap().status(), 200);
    assert_eq!(console("idp_session").await.unwrap().status(), 303);
}

#[tokio::test]
async fn every_console_page_carries_the_page_policy() {
    let app = spawn_app().await;
    let browser = app
        .browser_for("admin", crate::helpers::ADMIN_PASSWORD)
        .await;
    for path in [
        "/console",
        "/console/users",
        "/console/users?q=a&dir=desc&after=a-03&key=a-03",
        "/console/roles",
        "/myaccount",
    ] {
        let page = browser.get(app.at(path)).send().await.unwrap();
        let policy = header(&page, "content-security-policy").unwrap_or_default();
        assert!(
            policy.contains("'nonce-"),
            "{path}: {} {policy}",
            page.status()
        );
    }
}
