//! The WSO2-style curl setup script, run unchanged against the server.

use crate::helpers::{ADMIN_PASSWORD, spawn_app};
use std::process::Command;

#[tokio::test]
async fn the_wso2_style_curl_setup_script_works_unchanged() {
    let app = spawn_app().await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/examples/wso2-setup.sh"
    );
    let url = app.local_url.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .arg(script)
            .env("IDP_URL", url)
            .env("IDP_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("\"token_type\":\"Bearer\""), "{stdout}");

    let with_filter = |path: &str, filter: &str| {
        reqwest::Url::parse_with_params(&app.at(path), [("filter", filter)]).unwrap()
    };
    let users = app
        .get_as_admin(with_filter("/scim2/Users", "userName eq \"kim\""))
        .await;
    assert_eq!(users["totalResults"], 1);
    let apps = app
        .get_as_admin(with_filter(
            "/api/server/v1/applications",
            "name eq Booking app",
        ))
        .await;
    assert_eq!(apps["totalResults"], 1);
}
