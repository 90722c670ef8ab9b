//! The rules that keep impersonation from being turned against itself (issue 13): no start
//! from another site, one impersonation per sign-in also when exchanges race, no token
//! outliving its session, `act` wherever the user is named, ending that ends everything.

use crate::helpers::{TestApp, admin, claims, location, query_param};
use crate::impersonation::{Setup, exchange, setup, tokens};
use futures::future::join_all;
use identity::entities::{access_token, idp_session, impersonation_session, refresh_token};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};

async fn sessions(app: &TestApp) -> Vec<impersonation_session::Model> {
    impersonation_session::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
}

async fn settings(app: &TestApp, path: &str, value: Value) {
    let response = app.set_impersonation(path, value).await;
    assert!(response.status().is_success(), "{}", response.status());
}

/// An impersonation started in `browser`: the exchanged access token and the session.
async fn impersonating(
    s: &Setup,
    browser: &reqwest::Client,
) -> (String, impersonation_session::Model) {
    let (id_token, subject) = tokens(s, browser).await;
    let access = crate::impersonation::exchanged(s, &id_token, &subject).await;
    let session = impersonation_session::Entity::find()
        .filter(impersonation_session::Column::EndedAt.is_null())
        .one(&s.app.db)
        .await
        .unwrap()
        .expect("a running session");
    (access, session)
}

/// The session as stored now.
async fn reloaded(
    app: &TestApp,
    session: &impersonation_session::Model,
) -> impersonation_session::Model {
    impersonation_session::Entity::find_by_id(session.id)
        .one(&app.db)
        .await
        .unwrap()
        .expect("the session is kept")
}

/// Asserts that the impersonation behind `access` is over: its token inactive at once,
/// and its end recorded by the sweep; returns the session as stored then.
async fn over_at_once(
    s: &Setup,
    access: &str,
    session: &impersonation_session::Model,
    case: &str,
) -> impersonation_session::Model {
    assert_eq!(
        s.app.introspect(&s.shop, access).await["active"],
        false,
        "{case}: the token stops at once"
    );
    let ended = identity::impersonation::session::end_due(&s.app.db)
        .await
        .unwrap();
    assert_eq!(ended, 1, "{case}: the sweep records the end");
    reloaded(&s.app, session).await
}

/// A business application enabled for impersonated single sign-on, with `grant_types`.
async fn sso_application(s: &Setup, grant_types: &[&str]) -> crate::helpers::Registered {
    let sso = json!({ "advancedConfigurations": { "skipLoginConsent": true, "enableImpersonation": true } });
    s.app
        .register("Demo", json!({ "grantTypes": grant_types }), sso)
        .await
}

/// Lets application `id` refresh impersonated grants (with `grant_types`).
async fn refresh_for_impersonation(s: &Setup, id: &str, grant_types: &[&str]) {
    let (user, pass) = admin();
    let enabled = s
        .app
        .client
        .put(s.app.at(&format!(
            "/api/server/v1/applications/{id}/inbound-protocols/oidc"
        )))
        .basic_auth(user, Some(pass))
        .json(&json!({
            "grantTypes": grant_types,
            "refreshToken": { "enableForImpersonation": true }
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), 200);
}

/// What `/oauth2/userinfo` answers for `token`.
async fn userinfo(app: &TestApp, token: &str) -> Value {
    app.client
        .get(app.at("/oauth2/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_link_or_another_site_cannot_start_an_impersonation() {
    let s = setup().await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    let start = s.app.at("/console/impersonate");
    let form = [
        ("user", s.target_id.as_str()),
        ("reason", "attacker's words"),
    ];

    // A link (a GET, from anywhere) starts nothing.
    let linked = browser.get(&start).query(&form).send().await.unwrap();
    assert_eq!(linked.status(), 405);
    // A form on another site, or one that hides where it comes from, neither.
    for origin in [Some("https://attacker.example"), None] {
        let mut post = browser.post(&start).form(&form);
        if let Some(origin) = origin {
            post = post.header("Origin", origin);
        }
        let response = post.send().await.unwrap();
        assert_eq!(response.status(), 403, "from {origin:?}");
    }
    assert!(s.app.audit_events("subject-token-issued").await.is_empty());
    assert!(sessions(&s.app).await.is_empty());
    let mails = identity::entities::outbox_mail::Entity::find()
        .count(&s.app.db)
        .await
        .unwrap();
    assert_eq!(
        mails, 0,
        "nobody was told of an impersonation that never began"
    );

    // Our own page's form starts the real authorization request for My Account.
    let own = browser
        .post(&start)
        .header("Origin", &s.app.url)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 303);
    let to = location(&own);
    assert!(to.starts_with("/oauth2/authorize?"), "{to}");
    assert_eq!(
        query_param(to, "requested_subject").as_deref(),
        Some(s.target_id.as_str())
    );
}

#[tokio::test]
async fn twenty_subject_tokens_of_one_sign_in_exchanged_at_once_start_one_session() {
    let s = setup().await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    // All fetched before any exchange: the authorization endpoint's check sees nothing
    // running each time.
    let mut fetched = Vec::new();
    for _ in 0..20 {
        fetched.push(tokens(&s, &browser).await);
    }
    let answers = join_all(
        fetched
            .iter()
            .map(|(id_token, subject)| exchange(&s.app, &s.shop, subject, id_token)),
    )
    .await;
    let mut granted = 0;
    for answer in answers {
        if answer.status() == 200 {
            granted += 1;
            continue;
        }
        assert_eq!(answer.status(), 400);
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("already impersonates"),
            "{body}"
        );
    }
    assert_eq!(granted, 1);
    let running = sessions(&s.app).await;
    assert_eq!(running.len(), 1, "one session, so Stop ends everything");
    let denied: Vec<Value> = s.app.audit_events("impersonation-denied").await;
    assert_eq!(denied.len(), 19, "{denied:?}");
    assert!(
        denied
            .iter()
            .all(|e| e["reason"] == "the session already impersonates another user")
    );
    assert_eq!(s.app.audit_events("impersonation-started").await.len(), 1);

    // Once it ends, the same sign-in may impersonate again.
    identity::impersonation::session::end_now(&s.app.db, &running[0], None, "stopped")
        .await
        .unwrap();
    let (id_token, subject) = tokens(&s, &browser).await;
    crate::impersonation::exchanged(&s, &id_token, &subject).await;
}

#[tokio::test]
async fn an_exchange_after_the_impersonator_signed_out_starts_nothing() {
    let s = setup().await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    let (id_token, subject) = tokens(&s, &browser).await;
    let out = browser
        .post(s.app.at("/logout"))
        .header("Origin", &s.app.url)
        .send()
        .await
        .unwrap();
    assert!(out.status().is_redirection(), "{}", out.status());
    let refused = exchange(&s.app, &s.shop, &subject, &id_token).await;
    assert_eq!(refused.status(), 400);
    assert!(sessions(&s.app).await.is_empty());
}

/// Tokens minted in an impersonation session: `exp` at its hard limit at the latest, for
/// whoever checks JWTs locally.
fn assert_within(token: &str, session: &impersonation_session::Model, what: &str) {
    let exp = claims(token)["exp"].as_i64().unwrap();
    assert!(
        exp <= session.expires_at,
        "{what}: exp {exp} after the session's end {}",
        session.expires_at
    );
}

#[tokio::test]
async fn no_token_of_an_impersonation_outlives_it_nor_the_sign_in_it_came_from() {
    let s = setup().await;
    // A one-minute limit; the applications keep their hour-long access tokens.
    settings(&s.app, "/maxSessionDurationMinutes", json!(1)).await;
    let shop_grants = [
        "authorization_code",
        "refresh_token",
        crate::impersonation::EXCHANGE,
    ];
    refresh_for_impersonation(&s, &s.shop.id, &shop_grants).await;
    let demo = sso_application(&s, &["authorization_code", "refresh_token"]).await;
    refresh_for_impersonation(&s, &demo.id, &["authorization_code", "refresh_token"]).await;

    let browser = s.app.browser_for("support", "support-password-1").await;
    let (id_token, subject) = tokens(&s, &browser).await;
    let body: Value = exchange(&s.app, &s.shop, &subject, &id_token)
        .await
        .json()
        .await
        .unwrap();
    let session = sessions(&s.app).await.remove(0);
    assert!(session.expires_at <= session.started_at + 60);
    assert_within(
        body["access_token"].as_str().unwrap(),
        &session,
        "exchanged",
    );
    assert!(body["expires_in"].as_i64().unwrap() <= 60, "{body}");
    let refresh = refresh_token::Entity::find()
        .filter(refresh_token::Column::ImpersonationSessionId.eq(session.id))
        .all(&s.app.db)
        .await
        .unwrap();
    assert!(!refresh.is_empty(), "the exchange gave a refresh token");
    assert!(refresh.iter().all(|r| r.expires_at <= session.expires_at));

    // Single sign-on as the user: the access token, the ID token and the refresh token.
    let code = s.app.code_for(&browser, &demo, &[]).await;
    let sso = s.app.redeem(&demo, &code, None).await;
    assert_within(
        sso["access_token"].as_str().unwrap(),
        &session,
        "SSO access",
    );
    assert_within(sso["id_token"].as_str().unwrap(), &session, "SSO ID");
    let records = access_token::Entity::find()
        .filter(access_token::Column::ImpersonationSessionId.eq(session.id))
        .all(&s.app.db)
        .await
        .unwrap();
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.expires_at <= session.expires_at));

    // A sign-in that ends sooner than the limit ends the impersonation with it.
    identity::impersonation::session::end_now(&s.app.db, &session, None, "stopped")
        .await
        .unwrap();
    settings(&s.app, "/maxSessionDurationMinutes", json!(60)).await;
    let sign_in = idp_session::Entity::find()
        .filter(idp_session::Column::EndedAt.is_null())
        .one(&s.app.db)
        .await
        .unwrap()
        .unwrap();
    let soon = identity::clock::now() + 30;
    idp_session::Entity::update_many()
        .col_expr(idp_session::Column::ExpiresAt, Expr::value(soon))
        .filter(idp_session::Column::Id.eq(sign_in.id))
        .exec(&s.app.db)
        .await
        .unwrap();
    let (id_token, subject) = tokens(&s, &browser).await;
    let body: Value = exchange(&s.app, &s.shop, &subject, &id_token)
        .await
        .json()
        .await
        .unwrap();
    let second = impersonation_session::Entity::find()
        .filter(impersonation_session::Column::EndedAt.is_null())
        .one(&s.app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(second.expires_at <= soon, "{} > {soon}", second.expires_at);
    assert_within(body["access_token"].as_str().unwrap(), &second, "exchanged");
}

#[tokio::test]
async fn impersonated_sign_ins_say_who_really_acts_in_the_id_token_and_userinfo() {
    let s = setup().await;
    let demo = sso_application(&s, &["authorization_code"]).await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    impersonating(&s, &browser).await;
    let code = s.app.code_for(&browser, &demo, &[]).await;
    let tokens = s.app.redeem(&demo, &code, None).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], s.target_id);
    assert_eq!(id["act"], json!({ "sub": s.impersonator_id }));
    let info = userinfo(&s.app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["sub"], s.target_id);
    assert_eq!(info["act"], json!({ "sub": s.impersonator_id }));

    // Not impersonated: no act anywhere.
    let own_browser = s.app.browser_for("customer", "customer-password-1").await;
    let code = s.app.code_for(&own_browser, &demo, &[]).await;
    let own = s.app.redeem(&demo, &code, None).await;
    assert!(
        claims(own["id_token"].as_str().unwrap())
            .get("act")
            .is_none()
    );
    let info = userinfo(&s.app, own["access_token"].as_str().unwrap()).await;
    assert!(info.get("act").is_none(), "{info}");
}

#[tokio::test]
async fn signing_out_ends_the_impersonation_it_runs_with_its_tokens() {
    let s = setup().await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    let (access, session) = impersonating(&s, &browser).await;
    assert_eq!(s.app.introspect(&s.shop, &access).await["active"], true);
    let out = browser
        .post(s.app.at("/logout"))
        .header("Origin", &s.app.url)
        .send()
        .await
        .unwrap();
    assert!(out.status().is_redirection());
    assert_eq!(s.app.introspect(&s.shop, &access).await["active"], false);
    let ended = reloaded(&s.app, &session).await;
    assert!(ended.ended_at.is_some());
    assert_eq!(
        ended.end_reason.as_deref(),
        Some("the impersonator's sign-in ended")
    );
    assert_eq!(
        ended.ended_by.map(|u| u.to_string()),
        Some(s.impersonator_id.clone())
    );

    // Signing out everywhere (from another browser) ends it too.
    let browser = s.app.browser_for("support", "support-password-1").await;
    let (access, session) = impersonating(&s, &browser).await;
    let impersonator = uuid::Uuid::parse_str(&s.impersonator_id).unwrap();
    identity::sessions::end_all_for_user(&s.app.db, impersonator)
        .await
        .unwrap();
    // At once, for whoever asks, and recorded by the sweep when nobody does (the server
    // function also ends it in its own transaction: `end_signed_out`).
    let ended = over_at_once(&s, &access, &session, "signed out everywhere").await;
    assert_eq!(
        ended.end_reason.as_deref(),
        Some("the impersonator's sign-in ended")
    );
}

/// Sets the impersonator's status as an administrator would.
async fn set_status(s: &Setup, status: identity::entities::user::UserStatus) {
    let id = uuid::Uuid::parse_str(&s.impersonator_id).unwrap();
    let found = identity::users::find(&s.app.db, id).await.unwrap().unwrap();
    let changes = identity::users::Changes {
        status: Some(status),
        ..Default::default()
    };
    let by = identity::delegation::Authority::operator();
    identity::users::update(&s.app.db, &by, found, changes)
        .await
        .unwrap()
        .unwrap();
}

/// Takes the impersonator out of the Shop impersonator role (`remove`) or puts them back.
async fn role_membership(s: &Setup, remove: bool) {
    let (user, pass) = admin();
    let operation = match remove {
        true => {
            json!({ "op": "remove", "path": format!("users[value eq \"{}\"]", s.impersonator_id) })
        }
        false => json!({ "op": "add", "path": "users", "value": [{ "value": s.impersonator_id }] }),
    };
    let changed = s
        .app
        .client
        .patch(s.app.at(&format!("/scim2/v2/Roles/{}", s.role_id)))
        .basic_auth(user, Some(pass))
        .json(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [operation]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
}

#[tokio::test]
async fn an_impersonator_who_loses_the_right_loses_the_running_session_at_once() {
    use identity::entities::user::UserStatus;
    let s = setup().await;
    for case in ["disabled", "locked", "role taken away"] {
        let browser = s.app.browser_for("support", "support-password-1").await;
        let (access, session) = impersonating(&s, &browser).await;
        match case {
            "disabled" => set_status(&s, UserStatus::Disabled).await,
            "locked" => set_status(&s, UserStatus::Locked).await,
            _ => role_membership(&s, true).await,
        }
        let reason = over_at_once(&s, &access, &session, case)
            .await
            .end_reason
            .unwrap();
        assert!(
            reason.starts_with("no longer allowed: "),
            "{case}: {reason}"
        );
        // Put things back for the next case.
        set_status(&s, UserStatus::Active).await;
        role_membership(&s, false).await;
    }
    // With every right back, impersonation works again, and nothing ends it.
    let browser = s.app.browser_for("support", "support-password-1").await;
    let (access, _) = impersonating(&s, &browser).await;
    assert_eq!(s.app.introspect(&s.shop, &access).await["active"], true);
    assert_eq!(
        identity::impersonation::session::end_due(&s.app.db)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn refresh_tokens_of_impersonated_single_sign_on_follow_the_applications_setting() {
    let s = setup().await;
    let grants = ["authorization_code", "refresh_token"];
    let demo = sso_application(&s, &grants).await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    impersonating(&s, &browser).await;
    let code = s.app.code_for(&browser, &demo, &[]).await;
    let without = s.app.redeem(&demo, &code, None).await;
    assert!(without.get("refresh_token").is_none(), "{without}");

    refresh_for_impersonation(&s, &demo.id, &grants).await;
    let code = s.app.code_for(&browser, &demo, &[]).await;
    let with = s.app.redeem(&demo, &code, None).await;
    assert!(with["refresh_token"].is_string(), "{with}");

    // The user's own sign-in is not impersonated: refresh as the application allows.
    let own = s.app.browser_for("customer", "customer-password-1").await;
    let code = s.app.code_for(&own, &demo, &[]).await;
    assert!(s.app.redeem(&demo, &code, None).await["refresh_token"].is_string());
}

/// The value of the hidden field `name` of a form_post page.
fn hidden_field(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_sign_in_gets_a_new_cookie_when_the_console_hand_off_starts_an_impersonation() {
    let s = crate::impersonation::setup().await;
    // The Console's hand-off lands in My Account, which must be enabled for it: the
    // impersonator holds the built-in Impersonator role.
    let (user, pass) = admin();
    let roles: Value = s
        .app
        .get_as_admin(
            s.app
                .at("/scim2/v2/Roles?filter=displayName%20eq%20%22Impersonator%22"),
        )
        .await;
    let impersonator_role = roles["Resources"][0]["id"].as_str().unwrap().to_owned();
    let assigned = s
        .app
        .client
        .patch(s.app.at(&format!("/scim2/v2/Roles/{impersonator_role}")))
        .basic_auth(user, Some(pass))
        .json(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{ "op": "add", "path": "users", "value": [{ "value": s.impersonator_id }] }]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(assigned.status(), 200);
    let browser = s.app.browser_for("support", "support-password-1").await;
    let sign_in = idp_session::Entity::find()
        .filter(idp_session::Column::EndedAt.is_null())
        .one(&s.app.db)
        .await
        .unwrap()
        .unwrap();

    let start = browser
        .post(s.app.at("/console/impersonate"))
        .header("Origin", &s.app.url)
        .form(&[("user", s.target_id.as_str()), ("reason", "Ticket 7")])
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 303);
    let page = browser
        .get(s.app.at(location(&start)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let answer =
        ["id_token", "subject_token", "state"].map(|name| (name, hidden_field(&page, name)));
    let landed = browser
        .post(s.app.at("/myaccount/callback"))
        .header("Origin", &s.app.url)
        .form(&answer)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&landed), "/myaccount");
    assert!(
        landed.headers().get_all("set-cookie").iter().any(|c| c
            .to_str()
            .unwrap()
            .starts_with("idp_session=")
            && !c.to_str().unwrap().contains("Max-Age=0")),
        "a new session cookie"
    );
    let after = idp_session::Entity::find_by_id(sign_in.id)
        .one(&s.app.db)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(
        after.token_hash, sign_in.token_hash,
        "the old cookie value is worthless"
    );
    assert!(
        after.impersonation_session_id.is_some(),
        "the sign-in impersonates"
    );
    // The browser carries the new value: My Account opens as the target.
    let my_account = browser.get(s.app.at("/myaccount")).send().await.unwrap();
    assert_eq!(my_account.status(), 200);
    assert!(
        my_account
            .text()
            .await
            .unwrap()
            .contains("impersonated by support")
    );
}

#[tokio::test]
async fn deleting_the_impersonator_keeps_the_targets_access_history() {
    let s = setup().await;
    let (user, pass) = admin();
    let browser = s.app.browser_for("support", "support-password-1").await;
    let (access, session) = impersonating(&s, &browser).await;
    let deleted = s
        .app
        .client
        .delete(s.app.at(&format!("/scim2/Users/{}", s.impersonator_id)))
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    // The running session stops at once and is recorded as ended by the sweep.
    let kept = over_at_once(&s, &access, &session, "impersonator deleted").await;
    assert_eq!(kept.impersonator_name, "support");
    assert_eq!(
        kept.end_reason.as_deref(),
        Some("the impersonator was deleted")
    );
    // What the target reads in Access history names who it was.
    let target = uuid::Uuid::parse_str(&s.target_id).unwrap();
    let history = identity::my_account::access_history(&s.app.db, target)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].impersonator, "support (deleted since)");
    let listed = s
        .app
        .get_as_admin(s.app.at("/api/server/v1/impersonation-sessions"))
        .await;
    assert_eq!(listed["sessions"][0]["impersonatorName"], "support");
}
