//! Tokens an application gets for itself (client credentials) are issued without a write
//! (issue 16): no row records them, and they still stop working at once when revoked, when
//! the application loses the grant or is deleted, on every instance of the database.

use crate::helpers::{Registered, TestApp, admin, claims, spawn_app, spawn_app_in};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};

async fn service(app: &TestApp) -> Registered {
    service_named(app, "Service").await
}

async fn application_token(app: &TestApp, service: &Registered) -> String {
    let response = app
        .token(service, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn recorded(db: &DatabaseConnection) -> (i64, i64) {
    (
        count(db, r#"SELECT COUNT(*) FROM "access_tokens""#).await,
        count(db, r#"SELECT COUNT(*) FROM "revoked_access_tokens""#).await,
    )
}

#[tokio::test]
async fn an_application_token_is_issued_without_a_row_and_revoked_at_once() {
    let app = spawn_app().await;
    let service = service(&app).await;
    let other = service_named(&app, "Other").await;
    let before = recorded(&app.db).await;
    let tokens = [
        application_token(&app, &service).await,
        application_token(&app, &service).await,
    ];
    assert_eq!(recorded(&app.db).await, before, "issued without a write");
    let [token, kept] = &tokens;
    let live = app.introspect(&service, token).await;
    assert_eq!(live["active"], true);
    assert_eq!(live["sub"], service.client_id);
    assert_eq!(live["jti"], claims(token)["jti"]);
    assert!(live.get("username").is_none());

    // Another client may not revoke it: nothing changes.
    assert_eq!(app.revoke_access_token(&other, token).await, 400);
    assert_eq!(recorded(&app.db).await, before);
    assert_eq!(app.introspect(&service, token).await["active"], true);

    // Twenty revocations at once: all succeed, one entry, inactive at once.
    let attempts = (0..20).map(|_| app.revoke_access_token(&service, token));
    let statuses = futures::future::join_all(attempts).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(recorded(&app.db).await, (before.0, before.1 + 1));
    assert_eq!(
        app.introspect(&service, token).await,
        json!({ "active": false })
    );
    assert_eq!(app.introspect(&service, kept).await["active"], true);

    // Garbage and tokens that are not ours add nothing to the list.
    let forged = format!("{}x", &kept[..kept.len() - 1]);
    for junk in ["garbage", forged.as_str(), &"a".repeat(10_000)] {
        assert_eq!(app.revoke_access_token(&service, junk).await, 200);
    }
    assert_eq!(recorded(&app.db).await, (before.0, before.1 + 1));
    assert_eq!(app.introspect(&service, kept).await["active"], true);
}

async fn service_named(app: &TestApp, name: &str) -> Registered {
    app.register(
        name,
        json!({ "grantTypes": ["client_credentials"], "callbackURLs": [] }),
        json!({}),
    )
    .await
}

#[tokio::test]
async fn an_application_token_ends_when_its_application_loses_the_grant_or_is_deleted() {
    let app = spawn_app().await;
    let (user, pass) = admin();
    let losing = service_named(&app, "Losing").await;
    let deleted = service_named(&app, "Deleted").await;
    let bystander = service_named(&app, "Bystander").await;
    let tokens: Vec<String> = futures::future::join_all(
        [&losing, &deleted, &bystander].map(|s| application_token(&app, s)),
    )
    .await;

    let put = app
        .client
        .put(app.at(&format!(
            "/api/server/v1/applications/{}/inbound-protocols/oidc",
            losing.id
        )))
        .basic_auth(user, Some(pass))
        .json(&json!({ "grantTypes": ["authorization_code"], "callbackURLs": [crate::helpers::CALLBACK] }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(app.introspect(&losing, &tokens[0]).await["active"], false);

    let removed = app
        .client
        .delete(app.at(&format!("/api/server/v1/applications/{}", deleted.id)))
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    // Asked by the application that is still there, as its audience would be.
    assert_eq!(
        app.introspect(&bystander, &tokens[1]).await,
        json!({ "active": false })
    );
    assert_eq!(app.introspect(&bystander, &tokens[2]).await["active"], true);
}

/// Two instances on one database (PostgreSQL in the suite's second run): a token revoked
/// on one is inactive on the other at the next request.
#[tokio::test]
async fn a_revocation_on_one_instance_holds_on_the_other_at_once() {
    let data = tempfile::TempDir::new().unwrap();
    let shared = |c: &mut server::Config| c.public_url = Some("http://idp.scale-out.test".into());
    let first = spawn_app_in(data.path(), shared).await.unwrap();
    let second = spawn_app_in(data.path(), shared).await.unwrap();
    let service = service(&first).await;
    let token = application_token(&second, &service).await;
    assert_eq!(first.introspect(&service, &token).await["active"], true);
    assert_eq!(second.introspect(&service, &token).await["active"], true);
    assert_eq!(first.revoke_access_token(&service, &token).await, 200);
    assert_eq!(second.introspect(&service, &token).await["active"], false);
    let api = second
        .client
        .get(second.at("/api/server/v1/applications"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    second.stop().await;
    first.stop().await;
}

/// The migration that stopped recording application tokens keeps the revocations of
/// those it finds: a revoked one stays revoked, a live one stays live, and the rows go.
#[tokio::test]
async fn the_migration_keeps_the_revocations_of_recorded_application_tokens() {
    use migrations::MigratorTrait;
    let app = spawn_app().await;
    let service = service(&app).await;
    let revoked = application_token(&app, &service).await;
    let live = application_token(&app, &service).await;
    // Back to before it: it, and the one after it (signing algorithms).
    migrations::Migrator::down(&app.db, Some(2)).await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let row = |jti: &str, exp: i64, revoked_at: &str| {
        format!(
            r#"INSERT INTO "access_tokens" ("jti", "application_id", "user_id", "idp_session_id",
               "code_id", "family_id", "scope", "created_at", "expires_at", "revoked_at",
               "impersonation_session_id")
               SELECT '{jti}', "id", NULL, NULL, NULL, NULL, '', {now}, {exp}, {revoked_at}, NULL
               FROM "applications" WHERE "client_id" = '{}'"#,
            service.client_id
        )
    };
    for sql in [
        row(
            claims(&revoked)["jti"].as_str().unwrap(),
            now + 3600,
            &now.to_string(),
        ),
        row(claims(&live)["jti"].as_str().unwrap(), now + 3600, "NULL"),
        row("long-expired", now - 10, &now.to_string()),
    ] {
        app.db.execute_unprepared(&sql).await.unwrap();
    }
    migrations::Migrator::up(&app.db, None).await.unwrap();
    assert_eq!(
        count(
            &app.db,
            r#"SELECT COUNT(*) FROM "access_tokens" WHERE "user_id" IS NULL"#
        )
        .await,
        0
    );
    assert_eq!(
        count(&app.db, r#"SELECT COUNT(*) FROM "revoked_access_tokens""#).await,
        1,
        "only the revoked token that has not expired yet"
    );
    assert_eq!(app.introspect(&service, &revoked).await["active"], false);
    assert_eq!(app.introspect(&service, &live).await["active"], true);
}
