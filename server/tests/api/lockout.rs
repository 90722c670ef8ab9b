//! Sign-in throttling (issue 18): a failed-password streak locks password sign-in for a
//! while, the lock passes by itself and grows with each further lock, the answer never
//! tells a lock from a wrong password, and `server users unlock` or an administrator ends
//! it. Locks here last 2 s, doubling up to 4 s.

use crate::helpers::{TestApp, admin, client, location, spawn_app_in};
use futures::future::join_all;
use identity::entities::user;
use tempfile::TempDir;

async fn throttled_app(data: &TempDir) -> TestApp {
    spawn_app_in(data.path(), |config| {
        config.lockout_threshold = 3;
        config.lockout_duration_secs = 2;
        config.lockout_max_secs = 4;
    })
    .await
    .expect("the server starts")
}

async fn load(app: &TestApp, username: &str) -> user::Model {
    identity::users::find_by_username(&app.db, username)
        .await
        .unwrap()
        .unwrap()
}

/// Signs in at the sign-in page; `true` when a session started.
async fn signs_in(app: &TestApp, username: &str, password: &str) -> bool {
    let response = app
        .sign_in_with(&client(), username, password, "/console")
        .await;
    location(&response) == "/console" || !location(&response).starts_with("/login")
}

/// `GET /scim2/Me` with HTTP Basic: the status code.
async fn basic(app: &TestApp, username: &str, password: &str) -> u16 {
    app.client
        .get(app.at("/scim2/Me"))
        .basic_auth(username, Some(password))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Waits until `username`'s lock has passed (by the database's clock of seconds).
async fn wait_for_unlock(app: &TestApp, username: &str) {
    let until = load(app, username).await.locked_until.expect("locked");
    while identity::clock::now() < until {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_failed_password_streak_locks_once_for_a_while_and_the_lock_passes_by_itself() {
    let data = TempDir::new().unwrap();
    let app = throttled_app(&data).await;
    let id = app.create_user("lucy", "lucy-password-1").await;
    // Eight wrong passwords at once, half at the page, half over HTTP Basic: exactly
    // one lock, counted exactly.
    let attempts = (0..8).map(|n| {
        let app = &app;
        async move {
            if n % 2 == 0 {
                assert!(!signs_in(app, "lucy", "wrong-password").await);
            } else {
                assert_eq!(basic(app, "lucy", "wrong-password").await, 401);
            }
        }
    });
    join_all(attempts).await;
    let lucy = load(&app, "lucy").await;
    assert_eq!(lucy.lock_count, 1, "one lock");
    assert_eq!(
        lucy.status,
        user::UserStatus::Active,
        "not an administrator's lock"
    );
    let until = lucy.locked_until.expect("locked");
    assert!(until - identity::clock::now() <= 2);
    let locks = app.audit_events("account-locked").await;
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert_eq!(locks[0]["target"], id);

    // While locked, the right password gets the answer a wrong one gets, on both paths.
    assert!(!signs_in(&app, "lucy", "lucy-password-1").await);
    assert_eq!(basic(&app, "lucy", "lucy-password-1").await, 401);
    let scim = app
        .get_as_admin(app.at(&format!("/scim2/Users/{id}")))
        .await;
    assert_eq!(scim["urn:scim:wso2:schema"]["accountLocked"], true);

    wait_for_unlock(&app, "lucy").await;
    assert_eq!(basic(&app, "lucy", "lucy-password-1").await, 200);
    let lucy = load(&app, "lucy").await;
    assert_eq!(
        (lucy.failed_logins, lucy.lock_count),
        (0, 0),
        "a success ends the streak"
    );
}

#[tokio::test]
async fn each_further_lock_lasts_twice_as_long_up_to_the_maximum() {
    let data = TempDir::new().unwrap();
    let app = throttled_app(&data).await;
    app.create_user("max", "max-password-1").await;
    let mut lengths = Vec::new();
    for _ in 0..3 {
        for _ in 0..3 {
            assert_eq!(basic(&app, "max", "wrong-password").await, 401);
        }
        let locked_at = identity::clock::now();
        let max = load(&app, "max").await;
        lengths.push(max.locked_until.unwrap() - locked_at);
        wait_for_unlock(&app, "max").await;
    }
    // Seconds are whole: a lock of n s set in the second before `locked_at` reads n - 1.
    let expected = [2, 4, 4];
    for (length, expected) in lengths.iter().zip(expected) {
        assert!(
            *length == expected || *length == expected - 1,
            "{lengths:?} against {expected:?}"
        );
    }
    assert_eq!(load(&app, "max").await.lock_count, 3);
}

#[tokio::test]
async fn the_operator_unlocks_from_the_command_line_and_an_administrator_from_the_api() {
    let data = TempDir::new().unwrap();
    let app = spawn_app_in(data.path(), |config| config.lockout_threshold = 2)
        .await
        .unwrap();
    let id = app.create_user("olga", "olga-password-1").await;
    for _ in 0..2 {
        assert_eq!(basic(&app, "olga", "wrong-password").await, 401);
    }
    assert!(load(&app, "olga").await.locked_until.is_some());
    assert_eq!(
        basic(&app, "olga", "olga-password-1").await,
        401,
        "locked for 300 s"
    );

    // The operator's command, on the same data folder, while the server runs.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["users", "unlock", "olga"])
        .env("IDP_DATA_DIR", data.path())
        .envs(app_database_url(&app).map(|url| ("IDP_DATABASE_URL", url)))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("olga is unlocked"));
    assert_eq!(basic(&app, "olga", "olga-password-1").await, 200);
    let unlocks = app.audit_events("account-unlocked").await;
    assert_eq!(unlocks.len(), 1, "{unlocks:?}");
    assert_eq!(unlocks[0]["target"], id);

    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["users", "unlock", "nobody"])
        .env("IDP_DATA_DIR", data.path())
        .envs(app_database_url(&app).map(|url| ("IDP_DATABASE_URL", url)))
        .output()
        .unwrap();
    assert!(!missing.status.success());

    // An administrator unlocks through SCIM (active back to true ends the lock).
    for _ in 0..2 {
        assert_eq!(basic(&app, "olga", "wrong-password").await, 401);
    }
    let (user, pass) = admin();
    let response = app
        .client
        .patch(app.at(&format!("/scim2/Users/{id}")))
        .basic_auth(user, Some(pass))
        .json(&serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{ "op": "replace", "path": "active", "value": true }],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(basic(&app, "olga", "olga-password-1").await, 200);
    let unlocks = app.audit_events("account-unlocked").await;
    assert_eq!(unlocks.len(), 2, "{unlocks:?}");
    assert!(unlocks[0]["actor"].is_string(), "names the administrator");
}

/// The PostgreSQL database the test server uses, if the run is on PostgreSQL.
fn app_database_url(app: &TestApp) -> Option<String> {
    app.database_url.clone()
}
