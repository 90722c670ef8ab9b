//! SCIM 2.0 Users and Me over HTTP.

use crate::helpers::{ADMIN_PASSWORD, TestApp, admin, spawn_app};
use serde_json::{Value, json};

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn post_user(app: &TestApp, body: Value) -> reqwest::Response {
    let (user, pass) = admin();
    app.client
        .post(app.at("/scim2/Users"))
        .basic_auth(user, Some(pass))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn scim_error(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], "application/scim+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    assert_eq!(body["status"], status.to_string());
    (status, body)
}

async fn list(app: &TestApp, query: &[(&str, &str)]) -> reqwest::Response {
    let (user, pass) = admin();
    app.client
        .get(app.at("/scim2/Users"))
        .basic_auth(user, Some(pass))
        .query(query)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn creating_a_user_answers_201_with_location_and_never_the_password() {
    let app = spawn_app().await;
    let response = post_user(
        &app,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "kim",
            "password": "MyPa33w@rd",
            "name": { "givenName": "Kim", "familyName": "Berry" },
            "emails": [{ "type": "home", "value": "kim@example.org", "primary": true }]
        }),
    )
    .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["content-type"], "application/scim+json");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let text = response.text().await.unwrap();
    assert!(
        !text.to_lowercase().contains("password") && !text.contains("MyPa33w@rd"),
        "{text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        location,
        format!("{}/scim2/Users/{}", app.url, body["id"].as_str().unwrap())
    );
    assert_eq!(body["userName"], "kim");
    assert_eq!(body["name"]["givenName"], "Kim");
    assert_eq!(body["emails"][0]["value"], "kim@example.org");
    assert_eq!(body["active"], true);
    assert_eq!(body["meta"]["resourceType"], "User");
    // The new user can sign in with the password given.
    app.browser_for("kim", "MyPa33w@rd").await;
}

#[tokio::test]
async fn bad_user_input_gets_the_scim_error_it_deserves_and_changes_nothing() {
    let app = spawn_app().await;
    app.create_user("taken", "taken-password-1").await;
    let cases = [
        (
            json!({ "userName": "taken", "password": "another-password" }),
            409,
            "uniqueness",
        ),
        (json!({ "password": "password-1" }), 400, "invalidValue"),
        (json!({ "userName": "nopass" }), 400, "invalidValue"),
        (
            json!({ "userName": "short", "password": "abc" }),
            400,
            "invalidValue",
        ),
        (
            json!({ "userName": "bademail", "password": "password-1", "emails": ["not-an-email"] }),
            400,
            "invalidValue",
        ),
    ];
    for (body, status, kind) in cases {
        let (got, error) = scim_error(post_user(&app, body.clone()).await).await;
        assert_eq!(
            (got, error["scimType"].as_str()),
            (status, Some(kind)),
            "{body}"
        );
    }
    let total: Value = list(&app, &[]).await.json().await.unwrap();
    assert_eq!(total["totalResults"], 2, "admin and taken, nothing else");
}

#[tokio::test]
async fn twenty_simultaneous_creations_of_one_username_create_one_user() {
    let app = spawn_app().await;
    let attempts = (0..20).map(|_| {
        post_user(
            &app,
            json!({ "userName": "race", "password": "race-password-1" }),
        )
    });
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn the_api_needs_credentials_and_the_right_scope() {
    let app = spawn_app().await;
    app.create_user("plain", "plain-password-1").await;
    let anonymous = app.client.get(app.at("/scim2/Users")).send().await.unwrap();
    let (status, _) = scim_error(anonymous).await;
    assert_eq!(status, 401);
    let wrong = app
        .client
        .get(app.at("/scim2/Users"))
        .basic_auth("admin", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("Basic")
    );
    let plain = app
        .client
        .get(app.at("/scim2/Users"))
        .basic_auth("plain", Some("plain-password-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(scim_error(plain).await.0, 403);
}

#[tokio::test]
async fn filters_search_usernames_emails_and_names_with_paging() {
    let app = spawn_app().await;
    for name in ["alice", "alina", "bob", "carol"] {
        app.create_user(name, "password-123").await;
    }
    let names = |body: &Value| -> Vec<String> {
        body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].as_str().unwrap().to_owned())
            .collect()
    };
    let cases: [(&str, &[&str]); 9] = [
        (r#"userName eq "bob""#, &["bob"]),
        (r#"userName eq "BOB""#, &["bob"]),
        (r#"userName sw "al""#, &["alice", "alina"]),
        (r#"userName co "li""#, &["alice", "alina"]),
        (r#"emails co "carol@""#, &["carol"]),
        (r#"emails.value eq "bob@example.org""#, &["bob"]),
        (r#"name.familyName eq "alina""#, &["alina"]),
        (
            r#"name.givenName sw "Giv" and userName ew "ol""#,
            &["carol"],
        ),
        (
            r#"userName eq "bob" or userName eq "carol""#,
            &["bob", "carol"],
        ),
    ];
    for (filter, expected) in cases {
        let body: Value = list(&app, &[("filter", filter)])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(names(&body), expected, "{filter}");
        assert_eq!(body["totalResults"], expected.len(), "{filter}");
    }
    let like_chars: Value = list(&app, &[("filter", r#"userName co "%""#)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        like_chars["totalResults"], 0,
        "% is a character, not a wildcard"
    );

    let page: Value = list(&app, &[("startIndex", "2"), ("count", "2")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        page["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
    assert_eq!(page["totalResults"], 5);
    assert_eq!(page["startIndex"], 2);
    assert_eq!(page["itemsPerPage"], 2);
    assert_eq!(
        names(&page),
        ["alice", "alina"],
        "admin is first by username"
    );
}

#[tokio::test]
async fn a_malformed_filter_is_invalid_filter() {
    let app = spawn_app().await;
    for filter in [
        r#"userName eq"#,
        r#"password eq "x""#,
        r#"userName zz "a""#,
        r#"(userName eq "a""#,
    ] {
        let (status, body) = scim_error(list(&app, &[("filter", filter)]).await).await;
        assert_eq!(
            (status, body["scimType"].as_str()),
            (400, Some("invalidFilter")),
            "{filter}"
        );
    }
}

#[tokio::test]
async fn filters_past_the_limits_are_refused_briefly_and_the_server_stays_up() {
    let app = spawn_app().await;
    let comparison = r#"userName eq "admin""#;
    // Within 4 KiB, so that the nesting is what refuses it.
    let deep = format!("{}{comparison}", "(".repeat(4000));
    let many = vec![comparison; 101].join(" or ");
    let long = format!(r#"userName eq "{}""#, "a".repeat(5000));
    let unknown = format!(r#"{} eq "a""#, "x".repeat(3000));
    for (filter, reason) in [
        (&deep, "nests parentheses deeper than 32"),
        (&many, "has more than 100 comparisons"),
        (&long, "is longer than 4096 bytes"),
        (&unknown, "filtering on xxxx"),
    ] {
        let (status, body) = scim_error(list(&app, &[("filter", filter)]).await).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["scimType"], "invalidFilter");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains(reason), "{detail}");
        assert!(
            detail.len() < 200,
            "the detail repeats the filter: {detail}"
        );
    }
    // Just within the limits: answered.
    let nested = format!("{}{comparison}{}", "(".repeat(32), ")".repeat(32));
    let hundred = vec![comparison; 100].join(" or ");
    for filter in [&nested, &hundred] {
        let response = list(&app, &[("filter", filter)]).await;
        assert_eq!(response.status(), 200);
        let page: Value = response.json().await.unwrap();
        assert_eq!(page["totalResults"], 1);
    }
}

#[tokio::test]
async fn a_role_filter_past_the_limit_is_refused_briefly() {
    let app = spawn_app().await;
    let (user, pass) = admin();
    for (filter, reason) in [
        (
            format!(r#"displayName eq "{}""#, "a".repeat(5000)),
            "longer than 4096 bytes",
        ),
        (
            format!(r#"{} eq "a""#, "x".repeat(3000)),
            "Filtering roles on xxxx",
        ),
    ] {
        let response = app
            .client
            .get(app.at("/scim2/v2/Roles"))
            .basic_auth(user, Some(pass))
            .query(&[("filter", &filter)])
            .send()
            .await
            .unwrap();
        let (status, body) = scim_error(response).await;
        assert_eq!(
            (status, body["scimType"].as_str()),
            (400, Some("invalidFilter"))
        );
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains(reason), "{detail}");
        assert!(
            detail.len() < 200,
            "the detail repeats the filter: {detail}"
        );
    }
}

#[tokio::test]
async fn get_put_patch_and_delete_a_user() {
    let app = spawn_app().await;
    let id = app.create_user("pat", "pat-password-1").await;
    let (user, pass) = admin();
    let path = app.at(&format!("/scim2/Users/{id}"));

    let got: Value = app.get_as_admin(&path).await;
    assert_eq!(got["userName"], "pat");

    let put: Value = app
        .client
        .put(&path)
        .basic_auth(user, Some(pass))
        .json(&json!({ "userName": "patricia", "name": { "givenName": "Patricia" }, "emails": ["pat@example.com"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(put["userName"], "patricia");
    assert_eq!(put["name"]["givenName"], "Patricia");
    assert!(put["name"].get("familyName").is_none(), "PUT replaces");
    assert_eq!(put["emails"][0]["value"], "pat@example.com");

    let patched = app
        .client
        .patch(&path)
        .basic_auth(user, Some(pass))
        .json(&json!({ "schemas": [PATCH], "Operations": [
            { "op": "replace", "path": "name.familyName", "value": "Smith" },
            { "op": "add", "value": { "name": { "givenName": "Pat" } } }
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(
        (
            patched["name"]["givenName"].as_str(),
            patched["name"]["familyName"].as_str()
        ),
        (Some("Pat"), Some("Smith"))
    );

    let bad_patch = app
        .client
        .patch(&path)
        .basic_auth(user, Some(pass))
        .json(&json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "nickName", "value": "x" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(scim_error(bad_patch).await.1["scimType"], "invalidPath");

    let deleted = app
        .client
        .delete(&path)
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = app
        .client
        .get(&path)
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(scim_error(gone).await.0, 404);
    let unknown = app
        .client
        .get(app.at("/scim2/Users/not-a-uuid"))
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn an_administrator_cannot_delete_their_own_account() {
    let app = spawn_app().await;
    let me: Value = app
        .client
        .get(app.at("/scim2/Me"))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let response = app
        .client
        .delete(app.at(&format!("/scim2/Users/{}", me["id"].as_str().unwrap())))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(scim_error(response).await.0, 400);
}

#[tokio::test]
async fn me_shows_and_changes_the_callers_own_profile_only() {
    let app = spawn_app().await;
    app.create_user("meg", "meg-password-1").await;
    let shop = app.register("Shop", json!({}), json!({})).await;
    let browser = app.browser_for("meg", "meg-password-1").await;
    // A token for self-service (WSO2's internal_login): any application may ask for it.
    let self_service = [("scope", "openid profile internal_login")];
    let code = app.code_for(&browser, &shop, &self_service).await;
    let access = app.redeem(&shop, &code, None).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let me: Value = app
        .client
        .get(app.at("/scim2/Me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["userName"], "meg");
    let patched = app
        .client
        .patch(app.at("/scim2/Me"))
        .bearer_auth(&access)
        .json(&json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "name.givenName", "value": "Margaret" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["name"]["givenName"], "Margaret");

    for path in ["userName", "active", "password"] {
        let refused = app
            .client
            .patch(app.at("/scim2/Me"))
            .bearer_auth(&access)
            .json(&json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": path, "value": "x" }] }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            scim_error(refused).await.1["scimType"],
            "mutability",
            "{path}"
        );
    }
    let anonymous = app.client.get(app.at("/scim2/Me")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}
