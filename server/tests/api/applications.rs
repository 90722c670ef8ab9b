//! The applications management API over HTTP, as WSO2 scripts use it.

use crate::helpers::{CALLBACK, admin, location, spawn_app};
use serde_json::{Value, json};

#[tokio::test]
async fn a_new_applications_secret_is_shown_once_and_works() {
    let app = spawn_app().await;
    let shop = app
        .register(
            "Shop",
            json!({ "grantTypes": ["authorization_code", "client_credentials"] }),
            json!({}),
        )
        .await;
    let secret = shop
        .secret
        .clone()
        .expect("the first read shows the secret");
    let again: Value = app
        .get_as_admin(app.at(&format!(
            "/api/server/v1/applications/{}/inbound-protocols/oidc",
            shop.id
        )))
        .await;
    assert_eq!(again["clientId"], shop.client_id);
    assert!(again.get("clientSecret").is_none(), "never twice");
    let token = app
        .token(&shop, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(token.status(), 200);
    assert!(!secret.is_empty());
}

#[tokio::test]
async fn regenerating_the_secret_retires_the_old_one_at_once() {
    let app = spawn_app().await;
    let mut shop = app
        .register(
            "Shop",
            json!({ "grantTypes": ["client_credentials"], "callbackURLs": [] }),
            json!({}),
        )
        .await;
    let (user, pass) = admin();
    let fresh: Value = app
        .client
        .post(app.at(&format!(
            "/api/server/v1/applications/{}/inbound-protocols/oidc/regenerate-secret",
            shop.id
        )))
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let old = app
        .token(&shop, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(old.status(), 401);
    shop.secret = fresh["clientSecret"].as_str().map(str::to_owned);
    assert_eq!(
        app.token(&shop, &[("grant_type", "client_credentials")])
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn application_settings_round_trip_through_the_api() {
    let app = spawn_app().await;
    let (user, pass) = admin();
    let shop = app
        .register(
            "Shop",
            json!({
                "grantTypes": ["authorization_code", "urn:ietf:params:oauth:grant-type:token-exchange"],
                "accessToken": { "type": "JWT", "userAccessTokenExpiryInSeconds": 900 },
                "subjectToken": { "enable": true, "applicationSubjectTokenExpiryInSeconds": 120 },
            }),
            json!({ "isDiscoverable": true, "accessUrl": "https://app.example/", "description": "A shop" }),
        )
        .await;
    let read: Value = app
        .get_as_admin(app.at(&format!("/api/server/v1/applications/{}", shop.id)))
        .await;
    assert_eq!(read["name"], "Shop");
    assert_eq!(read["isDiscoverable"], true);
    assert_eq!(read["accessUrl"], "https://app.example/");
    assert_eq!(read["clientId"], shop.client_id);
    let oidc: Value = app
        .get_as_admin(app.at(&format!(
            "/api/server/v1/applications/{}/inbound-protocols/oidc",
            shop.id
        )))
        .await;
    assert_eq!(
        oidc["subjectToken"],
        json!({ "enable": true, "applicationSubjectTokenExpiryInSeconds": 120 })
    );
    assert_eq!(oidc["accessToken"]["userAccessTokenExpiryInSeconds"], 900);
    assert_eq!(oidc["callbackURLs"], json!([CALLBACK]));

    let renamed = app
        .client
        .patch(app.at(&format!("/api/server/v1/applications/{}", shop.id)))
        .basic_auth(user, Some(pass))
        .json(&json!({ "name": "Shop 2", "advancedConfigurations": { "skipLoginConsent": true } }))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    let listed = app
        .get_as_admin(
            reqwest::Url::parse_with_params(
                &app.at("/api/server/v1/applications"),
                [("filter", "name eq Shop 2")],
            )
            .unwrap(),
        )
        .await;
    assert_eq!(listed["totalResults"], 1);
    assert_eq!(listed["applications"][0]["id"], shop.id);
}

#[tokio::test]
async fn invalid_applications_are_refused_with_the_field_and_nothing_is_saved() {
    let app = spawn_app().await;
    app.register("Shop", json!({}), json!({})).await;
    let (user, pass) = admin();
    let create = |body: Value| {
        app.client
            .post(app.at("/api/server/v1/applications"))
            .basic_auth(user, Some(pass))
            .json(&body)
            .send()
    };
    let bad_callback = create(json!({ "name": "Bad", "inboundProtocolConfiguration": { "oidc": {
        "grantTypes": ["authorization_code"], "callbackURLs": ["https://app.example/cb#fragment"] } } }))
    .await
    .unwrap();
    assert_eq!(bad_callback.status(), 400);
    let body: Value = bad_callback.json().await.unwrap();
    assert_eq!(body["fields"][0]["field"], "callbackURLs");
    let regex = create(json!({ "name": "Regex", "inboundProtocolConfiguration": { "oidc": {
        "grantTypes": ["authorization_code"], "callbackURLs": ["regexp=(https://a|https://b)"] } } }))
    .await
    .unwrap();
    assert_eq!(regex.status(), 400);
    let opaque = create(json!({ "name": "Opaque", "inboundProtocolConfiguration": { "oidc": {
        "grantTypes": ["authorization_code"], "callbackURLs": [CALLBACK], "accessToken": { "type": "Default" } } } }))
    .await
    .unwrap();
    assert_eq!(opaque.status(), 400);
    let duplicate = create(json!({ "name": "Shop" })).await.unwrap();
    assert_eq!(duplicate.status(), 409);
    let malformed = app
        .client
        .post(app.at("/api/server/v1/applications"))
        .basic_auth(user, Some(pass))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let listed: Value = app
        .get_as_admin(app.at("/api/server/v1/applications"))
        .await;
    assert_eq!(
        listed["totalResults"], 3,
        "Console, My Account and Shop only"
    );
}

#[tokio::test]
async fn deleting_an_application_and_the_system_ones_that_stay() {
    let app = spawn_app().await;
    let shop = app.register("Shop", json!({}), json!({})).await;
    let (user, pass) = admin();
    let path = app.at(&format!("/api/server/v1/applications/{}", shop.id));
    assert_eq!(
        app.client
            .delete(&path)
            .basic_auth(user, Some(pass))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        app.client
            .get(&path)
            .basic_auth(user, Some(pass))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let listed: Value = app
        .get_as_admin(app.at("/api/server/v1/applications"))
        .await;
    let console = listed["applications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["clientId"] == "CONSOLE")
        .unwrap()
        .clone();
    let refused = app
        .client
        .delete(app.at(console["self"].as_str().unwrap()))
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let anonymous = app
        .client
        .get(app.at("/api/server/v1/applications"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let _ = location(&anonymous);
}
