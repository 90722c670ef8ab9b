use crate::helpers::spawn_app;

#[tokio::test]
async fn liveness_and_readiness_answer_up() {
    let app = spawn_app().await;
    for path in ["/health/live", "/health/ready"] {
        let response = app.client.get(app.at(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"], "up", "{path}");
    }
}

#[tokio::test]
async fn readiness_answers_503_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.db.clone().close().await.unwrap();
    let response = app
        .client
        .get(app.at("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["reason"], "database unreachable");
    let live = app.client.get(app.at("/health/live")).send().await.unwrap();
    assert_eq!(live.status(), 200);
}

#[tokio::test]
async fn readiness_says_when_migrations_are_pending_or_the_schema_is_newer() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    let reason = || async {
        let response = app
            .client
            .get(app.at("/health/ready"))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap();
        (
            status,
            body["reason"].as_str().unwrap_or_default().to_owned(),
        )
    };
    app.db
        .execute_unprepared(
            "DELETE FROM seaql_migrations WHERE version = 'm20261201_000014_events'",
        )
        .await
        .unwrap();
    assert_eq!(
        reason().await,
        (
            503,
            "migrations pending: m20261201_000014_events".to_owned()
        )
    );
    app.db
        .execute_unprepared(
            "INSERT INTO seaql_migrations (version, applied_at) VALUES \
             ('m20261201_000014_events', 0), ('m20991231_000099_future', 0)",
        )
        .await
        .unwrap();
    assert_eq!(
        reason().await,
        (
            503,
            "database schema is newer than this server: m20991231_000099_future".to_owned()
        )
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_the_callers() {
    let app = spawn_app().await;
    let response = app.client.get(app.at("/health/live")).send().await.unwrap();
    let id = response
        .headers()
        .get("x-request-id")
        .expect("a request id");
    assert_eq!(id.to_str().unwrap().len(), 36, "a UUID");

    let response = app
        .client
        .get(app.at("/health/live"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
}

#[tokio::test]
async fn the_favicon_is_where_browsers_look_for_it() {
    let app = spawn_app().await;
    let response = app.client.get(app.at("/favicon.ico")).send().await.unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(response.headers()["location"], "/pkg/favicon.svg");
}
