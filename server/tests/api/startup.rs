use crate::helpers::{ADMIN_PASSWORD, spawn_app, spawn_app_in};
use identity::entities::{application, organization, role, role_scope, role_user, user};
use identity::scopes;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, Statement,
};
use tempfile::TempDir;

#[tokio::test]
async fn the_first_start_creates_the_initial_data() {
    let app = spawn_app().await;
    let db = &app.db;

    let orgs = organization::Entity::find().all(db).await.unwrap();
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0].parent_id, None);

    let apps = application::Entity::find().all(db).await.unwrap();
    let mut client_ids: Vec<_> = apps.iter().map(|a| a.client_id.as_str()).collect();
    client_ids.sort();
    assert_eq!(
        client_ids,
        [scopes::CONSOLE_CLIENT_ID, scopes::MY_ACCOUNT_CLIENT_ID]
    );
    assert!(apps.iter().all(|a| a.system && a.public_client));
    let my_account = apps
        .iter()
        .find(|a| a.client_id == scopes::MY_ACCOUNT_CLIENT_ID)
        .unwrap();
    assert_eq!(
        my_account.redirect_uris.0,
        [format!("{}/myaccount/callback", app.url)]
    );

    let impersonator = role::Entity::find()
        .filter(role::Column::Name.eq(scopes::IMPERSONATOR_ROLE))
        .one(db)
        .await
        .unwrap()
        .expect("the Impersonator role");
    assert!(impersonator.builtin);
    assert_eq!(impersonator.audience_id, my_account.id);
    let granted: Vec<String> = role_scope::Entity::find()
        .filter(role_scope::Column::RoleId.eq(impersonator.id))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.scope)
        .collect();
    assert_eq!(granted, [scopes::USER_IMPERSONATE]);

    let admin = identity::users::find_by_username(db, "admin")
        .await
        .unwrap()
        .expect("the bootstrap administrator");
    let administrator = role::Entity::find()
        .filter(role::Column::Name.eq(scopes::ADMINISTRATOR_ROLE))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert!(administrator.builtin);
    let members: Vec<_> = role_user::Entity::find()
        .filter(role_user::Column::RoleId.eq(administrator.id))
        .all(db)
        .await
        .unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].user_id, admin.id);
    assert!(
        identity::roles::holds_organization_scope(db, admin.id, "internal_user_mgt_view")
            .await
            .unwrap()
    );
    // Impersonation is never granted by default, not even to the administrator.
    let impersonators = role_user::Entity::find()
        .filter(role_user::Column::RoleId.eq(impersonator.id))
        .count(db)
        .await
        .unwrap();
    assert_eq!(impersonators, 0);
}

/// Everything the seed writes, as text, to compare two starts.
async fn snapshot(db: &impl ConnectionTrait) -> String {
    let mut out = String::new();
    for table in [
        "organizations",
        "users",
        "applications",
        "roles",
        "role_scopes",
        "role_users",
        "seaql_migrations",
    ] {
        let rows = db
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                format!("SELECT * FROM {table} ORDER BY 1, 2"),
            ))
            .await
            .unwrap();
        out.push_str(&format!("{table}: {rows:?}\n"));
    }
    out
}

#[tokio::test]
async fn a_second_start_changes_nothing() {
    let data = TempDir::new().unwrap();
    let first = spawn_app_in(data.path(), |_| {}).await.unwrap();
    // Fix the public URL so that both starts see the same one.
    let url = first.url.clone();
    first.stop().await;
    let first = spawn_app_in(data.path(), |c| c.public_url = Some(url.clone()))
        .await
        .unwrap();
    let before = snapshot(&first.db).await;
    first.stop().await;

    let second = spawn_app_in(data.path(), |c| {
        c.public_url = Some(url.clone());
        c.admin_password = Some(server::config::Secret::new("a-different-password"));
    })
    .await
    .unwrap();
    let after = snapshot(&second.db).await;
    assert_eq!(before, after);
    // The bootstrap password is only used when `admin` is created.
    let response = second.sign_in("admin", ADMIN_PASSWORD).await;
    assert_eq!(crate::helpers::location(&response), "/console");
    second.stop().await;
}

#[tokio::test]
async fn a_generated_admin_password_is_reported_once_and_works() {
    let data = TempDir::new().unwrap();
    let config = {
        let mut config = crate::helpers::test_config(data.path());
        config.admin_password = None;
        config
    };
    let application = server::Application::build(config.clone()).await.unwrap();
    let generated = application
        .seed_report()
        .generated_admin_password
        .clone()
        .expect("a generated password");
    assert!(generated.len() >= 20);
    let db = application.state().db.clone();
    let admin =
        identity::users::authenticate(&db, "admin", generated.clone(), &Default::default()).await;
    assert!(admin.is_ok());
    drop(application);
    db.close().await.unwrap();

    let again = server::Application::build(config).await.unwrap();
    assert!(again.seed_report().generated_admin_password.is_none());
    assert!(!again.seed_report().created_admin);
}

#[tokio::test]
async fn a_database_written_by_a_newer_version_is_refused_and_left_untouched() {
    let data = TempDir::new().unwrap();
    let app = spawn_app_in(data.path(), |_| {}).await.unwrap();
    app.db
        .execute_unprepared(
            "INSERT INTO seaql_migrations (version, applied_at) \
             VALUES ('m20991231_000001_from_the_future', 0)",
        )
        .await
        .unwrap();
    let before = snapshot(&app.db).await;
    app.stop().await;

    let error = match spawn_app_in(data.path(), |_| {}).await {
        Ok(_) => panic!("the server started on a newer schema"),
        Err(error) => format!("{error:#}"),
    };
    assert!(
        error.contains("m20991231_000001_from_the_future"),
        "{error}"
    );
    assert!(error.contains("newer version"), "{error}");

    let db = identity::store::db::connect(&format!(
        "sqlite://{}?mode=rw",
        data.path().join("idp.sqlite").display()
    ))
    .await
    .unwrap();
    assert_eq!(snapshot(&db).await, before);
}

#[tokio::test]
async fn sqlite_runs_with_wal_foreign_keys_and_full_sync() {
    let app = spawn_app().await;
    let pragma = |name: &'static str| {
        let db = app.db.clone();
        async move {
            let row = db
                .query_one_raw(Statement::from_string(
                    DbBackend::Sqlite,
                    format!("PRAGMA {name}"),
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get_by_index::<String>(0)
                .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
                .unwrap()
        }
    };
    assert_eq!(pragma("journal_mode").await, "wal");
    assert_eq!(pragma("foreign_keys").await, "1");
    assert_eq!(pragma("synchronous").await, "2", "FULL");

    // Foreign keys are enforced, not just declared.
    let orphan = app
        .db
        .execute_unprepared(
            "INSERT INTO role_users (role_id, user_id) VALUES \
             (X'00000000000000000000000000000001', X'00000000000000000000000000000002')",
        )
        .await;
    assert!(orphan.is_err());
    let _ = user::Entity::find().count(&app.db).await.unwrap();
}
