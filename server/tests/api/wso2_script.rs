//! The WSO2-style curl setup script, run unchanged against the server.

use crate::helpers::{ADMIN_PASSWORD, admin, spawn_app};
use serde_json::Value;
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

    let (user, pass) = admin();
    let users: Value = app
        .client
        .get(app.at("/scim2/Users"))
        .query(&[("filter", "userName eq \"kim\"")])
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users["totalResults"], 1);
    let apps: Value = app
        .client
        .get(app.at("/api/server/v1/applications"))
        .query(&[("filter", "name eq Booking app")])
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(apps["totalResults"], 1);
}
