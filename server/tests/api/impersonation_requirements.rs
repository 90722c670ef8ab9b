//! What an organization may ask of an impersonator before a start (issue 14): a password
//! entered recently (step-up) and a help-desk ticket in its format, beside the reason.
//! Off by default; checked at the subject token and again at the exchange.

use crate::helpers::{TestApp, admin, location, query_param};
use crate::impersonation::{
    exchange, exchanged, refused_exchange, rename_me, setup, subject_request,
};
use identity::entities::{idp_session, impersonation_session};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};

const CONFIGS: &str = "/api/server/v1/configs/impersonation";

/// Moves the impersonator's last password entry `seconds` into the past.
async fn signed_in_ago(app: &TestApp, seconds: i64) {
    let before = identity::clock::now() - seconds;
    idp_session::Entity::update_many()
        .col_expr(idp_session::Column::AuthTime, Expr::value(before))
        .filter(idp_session::Column::EndedAt.is_null())
        .exec(&app.db)
        .await
        .unwrap();
}

#[tokio::test]
async fn every_new_setting_is_validated_naming_its_field_and_a_refusal_changes_nothing() {
    let s = setup().await;
    let defaults = s.app.get_as_admin(s.app.at(CONFIGS)).await;
    assert_eq!(defaults["reauthenticateWithinMinutes"], 0);
    assert_eq!(defaults["ticketRequired"], false);
    assert_eq!(defaults["ticketPattern"], "");
    let refused = [
        (
            "/reauthenticateWithinMinutes",
            json!(61),
            "reauthenticateWithinMinutes",
        ),
        (
            "/reauthenticateWithinMinutes",
            json!("5"),
            "reauthenticateWithinMinutes",
        ),
        ("/ticketRequired", json!("yes"), "ticketRequired"),
        ("/ticketPattern", json!("(unclosed"), "ticketPattern"),
        ("/ticketPattern", json!("x".repeat(201)), "ticketPattern"),
        (
            "/ticketPattern",
            json!(r"\w{1000}\w{1000}\w{1000}"),
            "ticketPattern",
        ),
        (
            "/maxSessionDurationMinutes",
            json!(0),
            "maxSessionDurationMinutes",
        ),
    ];
    for (path, value, field) in refused {
        let answer = s.app.set_impersonation(path, value.clone()).await;
        assert_eq!(answer.status(), 400, "{path} = {value}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["fields"][0]["field"], field, "{body}");
        assert!(body.to_string().len() < 2_000, "the answer stays small");
    }
    assert_eq!(s.app.get_as_admin(s.app.at(CONFIGS)).await, defaults);

    for (path, value) in [
        ("/reauthenticateWithinMinutes", json!(15)),
        ("/ticketRequired", json!(true)),
        ("/ticketPattern", json!("SUP-[0-9]+")),
    ] {
        assert_eq!(
            s.app.set_impersonation(path, value).await.status(),
            200,
            "{path}"
        );
    }
    let set = s.app.get_as_admin(s.app.at(CONFIGS)).await;
    assert_eq!(set["reauthenticateWithinMinutes"], 15);
    assert_eq!(set["ticketRequired"], true);
    assert_eq!(set["ticketPattern"], "SUP-[0-9]+");
}

#[tokio::test]
async fn a_ticket_in_the_organizations_format_is_asked_at_authorize_and_again_at_the_exchange() {
    let s = setup().await;
    s.app
        .set_impersonation("/ticketRequired", json!(true))
        .await;
    s.app
        .set_impersonation("/ticketPattern", json!("SUP-[0-9]+"))
        .await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    // None, not in the format, more than the format, and attacker-sized.
    let huge = format!("SUP-{}", "1".repeat(5_000));
    for ticket in [
        None,
        Some("4711"),
        Some("SUP-4711 and more"),
        Some(huge.as_str()),
    ] {
        let extra: Vec<(&str, &str)> = ticket.map(|t| ("ticket", t)).into_iter().collect();
        let answer = subject_request(&s.app, &browser, &s.shop, &s.target_id, &extra).await;
        assert_eq!(
            query_param(&answer, "error").as_deref(),
            Some("invalid_request"),
            "{ticket:?}"
        );
        assert!(
            query_param(&answer, "error_description")
                .unwrap()
                .contains("ticket in the organization's format"),
            "{answer}"
        );
        assert!(query_param(&answer, "subject_token").is_none());
    }
    let denied = s.app.audit_events("impersonation-denied").await;
    assert_eq!(denied.len(), 4);
    assert!(
        denied.iter().all(|e| e.to_string().len() < 2_000),
        "no ticket echoed"
    );
    assert!(
        denied
            .iter()
            .all(|e| e["reason"] == "no ticket given, or not in the organization's format")
    );

    let ticketed = [("ticket", "SUP-4711")];
    let answer = subject_request(&s.app, &browser, &s.shop, &s.target_id, &ticketed).await;
    let id_token = query_param(&answer, "id_token").unwrap();
    let subject = query_param(&answer, "subject_token").unwrap();
    let exchanged = exchange(&s.app, &s.shop, &subject, &id_token).await;
    assert_eq!(exchanged.status(), 200);
    let session = impersonation_session::Entity::find()
        .one(&s.app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.ticket, "SUP-4711");
    let listed = s
        .app
        .get_as_admin(s.app.at("/api/server/v1/impersonation-sessions"))
        .await;
    assert_eq!(listed["sessions"][0]["ticket"], "SUP-4711");

    // The format changes between the subject token and the exchange: refused then.
    identity::impersonation::session::end_now(&s.app.db, &session, None, "stopped")
        .await
        .unwrap();
    let answer = subject_request(&s.app, &browser, &s.shop, &s.target_id, &ticketed).await;
    let id_token = query_param(&answer, "id_token").unwrap();
    let subject = query_param(&answer, "subject_token").unwrap();
    s.app
        .set_impersonation("/ticketPattern", json!("INC[0-9]+"))
        .await;
    refused_exchange(&s, &subject, &id_token, "ticket").await;
}

#[tokio::test]
async fn with_a_step_up_an_old_sign_in_is_sent_to_enter_the_password_again() {
    let s = setup().await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    // Signed in twenty minutes ago; the organization asks for ten.
    signed_in_ago(&s.app, 20 * 60).await;
    s.app
        .set_impersonation("/reauthenticateWithinMinutes", json!(10))
        .await;
    let answer = subject_request(&s.app, &browser, &s.shop, &s.target_id, &[]).await;
    assert!(
        answer.starts_with("/login?"),
        "sent to sign in again: {answer}"
    );
    let return_to = query_param(&answer, "return_to").unwrap();
    assert!(return_to.starts_with("/oauth2/authorize?"), "{return_to}");
    let silent = [("prompt", "none")];
    let answer = subject_request(&s.app, &browser, &s.shop, &s.target_id, &silent).await;
    assert_eq!(
        query_param(&answer, "error").as_deref(),
        Some("login_required")
    );

    // The password again: the same request goes through, with a fresh auth_time.
    let again = s
        .app
        .sign_in_with(&browser, "support", "support-password-1", &return_to)
        .await;
    assert_eq!(location(&again), return_to);
    let answer = subject_request(&s.app, &browser, &s.shop, &s.target_id, &[]).await;
    let id_token = query_param(&answer, "id_token").unwrap_or_else(|| panic!("{answer}"));
    let auth_time = crate::helpers::claims(&id_token)["auth_time"]
        .as_i64()
        .unwrap();
    assert!(identity::clock::now() - auth_time < 60);
    let subject = query_param(&answer, "subject_token").unwrap();
    exchanged(&s, &id_token, &subject).await;
}

#[tokio::test]
async fn a_step_up_turned_on_after_the_subject_token_refuses_the_exchange() {
    let s = setup().await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    signed_in_ago(&s.app, 20 * 60).await;
    let answer = subject_request(&s.app, &browser, &s.shop, &s.target_id, &[]).await;
    let id_token = query_param(&answer, "id_token").unwrap();
    let subject = query_param(&answer, "subject_token").unwrap();
    s.app
        .set_impersonation("/reauthenticateWithinMinutes", json!(10))
        .await;
    refused_exchange(&s, &subject, &id_token, "enter their password again").await;
    assert!(
        impersonation_session::Entity::find()
            .one(&s.app.db)
            .await
            .unwrap()
            .is_none()
    );
}

/// (id_token, subject_token) of a subject token request with `extra` parameters.
async fn subject_tokens(
    s: &crate::impersonation::Setup,
    browser: &reqwest::Client,
    extra: &[(&str, &str)],
) -> (String, String) {
    let answer = subject_request(&s.app, browser, &s.shop, &s.target_id, extra).await;
    let id_token = query_param(&answer, "id_token").unwrap_or_else(|| panic!("{answer}"));
    (id_token, query_param(&answer, "subject_token").unwrap())
}

#[tokio::test]
async fn a_read_only_session_says_so_carries_read_only_scopes_and_changes_nothing() {
    let s = setup().await;
    let (user, pass) = admin();
    let browser = s.app.browser_for("support", "support-password-1").await;
    let asked = [
        (
            "scope",
            "internal_user_impersonate openid profile internal_login",
        ),
        ("mode", "readOnly"),
    ];
    // Nothing declared read-only by the application: openid profile email only.
    let (id_token, subject) = subject_tokens(&s, &browser, &asked).await;
    let access = exchanged(&s, &id_token, &subject).await;
    let claims = crate::helpers::claims(&access);
    assert_eq!(claims["impersonation_mode"], "read-only");
    assert_eq!(claims["scope"], "openid profile");
    let introspected = s.app.introspect(&s.shop, &access).await;
    assert_eq!(introspected["impersonation_mode"], "read-only");
    identity::impersonation::session::end_due(&s.app.db)
        .await
        .unwrap();
    let stop = "/api/users/v1/me/impersonation-session";
    assert_eq!(
        s.app
            .bearer_status(reqwest::Method::DELETE, stop, &access)
            .await,
        204
    );

    // Declared: the self-service scope passes, and reads work; writes never do.
    let declared = s
        .app
        .client
        .patch(
            s.app
                .at(&format!("/api/server/v1/applications/{}", s.shop.id)),
        )
        .basic_auth(user, Some(pass))
        .json(&json!({ "advancedConfigurations": { "readOnlyScopes": ["internal_login"] } }))
        .send()
        .await
        .unwrap();
    assert!(declared.status().is_success(), "{}", declared.status());
    let (id_token, subject) = subject_tokens(&s, &browser, &asked).await;
    let access = exchanged(&s, &id_token, &subject).await;
    assert_eq!(
        crate::helpers::claims(&access)["scope"],
        "openid profile internal_login"
    );
    assert_eq!(
        s.app
            .bearer_status(reqwest::Method::GET, "/scim2/Me", &access)
            .await,
        200
    );
    let renamed = rename_me(&s.app, &access, "Changed").await;
    assert_eq!(renamed.status(), 403);
    assert!(renamed.text().await.unwrap().contains("read-only"));
    let created = s
        .app
        .client
        .post(s.app.at("/api/server/v1/applications"))
        .bearer_auth(&access)
        .json(&json!({ "name": "Sneaky" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 403);
    let failed: Vec<(String, String)> = crate::impersonation::audit_events(&s.app)
        .await
        .iter()
        .filter(|e| e["path"].is_string() && e["outcome"] == "failure")
        .map(|e| {
            (
                e["action"].as_str().unwrap().into(),
                e["method"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        [
            (
                "resource-creation-via-impersonation".to_owned(),
                "POST".to_owned()
            ),
            (
                "resource-modification-via-impersonation".to_owned(),
                "PATCH".to_owned()
            ),
        ]
    );
    let session = impersonation_session::Entity::find()
        .filter(impersonation_session::Column::EndedAt.is_null())
        .one(&s.app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(session.read_only);
    // Stop is the one write a read-only session makes.
    assert_eq!(
        s.app
            .bearer_status(reqwest::Method::DELETE, stop, &access)
            .await,
        204
    );
}

#[tokio::test]
async fn an_organization_may_allow_only_read_only_sessions() {
    let s = setup().await;
    let refused = s
        .app
        .set_impersonation("/allowFullMode", json!(false))
        .await;
    assert_eq!(refused.status(), 400, "full is still the default");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["fields"][0]["field"], "allowFullMode");
    assert_eq!(
        s.app
            .set_impersonation("/defaultMode", json!("sideways"))
            .await
            .status(),
        400
    );
    assert_eq!(
        s.app
            .set_impersonation("/defaultMode", json!("readOnly"))
            .await
            .status(),
        200
    );
    assert_eq!(
        s.app
            .set_impersonation("/allowFullMode", json!(false))
            .await
            .status(),
        200
    );

    let browser = s.app.browser_for("support", "support-password-1").await;
    for (mode, description) in [("full", "only read-only"), ("sideways", "mode takes")] {
        let answer =
            subject_request(&s.app, &browser, &s.shop, &s.target_id, &[("mode", mode)]).await;
        assert_eq!(
            query_param(&answer, "error").as_deref(),
            Some("invalid_request")
        );
        assert!(
            query_param(&answer, "error_description")
                .unwrap()
                .contains(description),
            "{mode}: {answer}"
        );
    }
    // Asking for nothing gets the default: read-only.
    let (id_token, subject) = subject_tokens(&s, &browser, &[]).await;
    let access = exchanged(&s, &id_token, &subject).await;
    assert_eq!(
        crate::helpers::claims(&access)["impersonation_mode"],
        "read-only"
    );
    let listed = s
        .app
        .get_as_admin(s.app.at("/api/server/v1/impersonation-sessions"))
        .await;
    assert_eq!(listed["sessions"][0]["mode"], "readOnly");

    // An impersonated single sign-on in it: the ID token says read-only too.
    let sso = json!({ "advancedConfigurations": { "skipLoginConsent": true, "enableImpersonation": true } });
    let demo = s.app.register("Demo", json!({}), sso).await;
    let code = s.app.code_for(&browser, &demo, &[]).await;
    let tokens = s.app.redeem(&demo, &code, None).await;
    let id = crate::helpers::claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["impersonation_mode"], "read-only");
    assert_eq!(
        crate::helpers::claims(tokens["access_token"].as_str().unwrap())["scope"],
        "openid profile email"
    );
}

#[tokio::test]
async fn the_consoles_dialog_takes_the_password_again_and_a_wrong_one_starts_nothing() {
    let s = setup().await;
    s.app
        .set_impersonation("/reauthenticateWithinMinutes", json!(5))
        .await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    signed_in_ago(&s.app, 20 * 60).await;
    let start = |password: &'static str| {
        browser
            .post(s.app.at("/console/impersonate"))
            .header("Origin", &s.app.url)
            .form(&[
                ("user", s.target_id.as_str()),
                ("reason", "Ticket 8"),
                ("password", password),
            ])
            .send()
    };

    // A wrong password: an error page, no authorization request, a failed sign-in on record.
    let wrong = start("not-my-password").await.unwrap();
    assert_eq!(wrong.status(), 400);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("The password is not right")
    );
    let failed = s.app.audit_events("sign-in-failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["target"], s.impersonator_id.as_str());
    let before = idp_session::Entity::find()
        .filter(idp_session::Column::EndedAt.is_null())
        .one(&s.app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        identity::clock::now() - before.auth_time >= 20 * 60,
        "no step-up"
    );

    // The right one: the sign-in counts as fresh, and the request goes on to authorize.
    let right = start("support-password-1").await.unwrap();
    assert_eq!(right.status(), 303);
    assert!(
        location(&right).starts_with("/oauth2/authorize?"),
        "{}",
        location(&right)
    );
    let after = idp_session::Entity::find_by_id(before.id)
        .one(&s.app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(identity::clock::now() - after.auth_time < 60, "stepped up");
}

#[tokio::test]
async fn a_clients_own_max_age_or_prompt_login_asks_for_the_password_again() {
    let s = setup().await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    signed_in_ago(&s.app, 20 * 60).await;
    for extra in [vec![("max_age", "60")], vec![("prompt", "login")]] {
        let answer = subject_request(&s.app, &browser, &s.shop, &s.target_id, &extra).await;
        assert!(answer.starts_with("/login?"), "{extra:?}: {answer}");
    }
    let silent = [("max_age", "60"), ("prompt", "none")];
    let answer = subject_request(&s.app, &browser, &s.shop, &s.target_id, &silent).await;
    assert_eq!(
        query_param(&answer, "error").as_deref(),
        Some("login_required")
    );
    let wrong = [("max_age", "soon")];
    let answer = subject_request(&s.app, &browser, &s.shop, &s.target_id, &wrong).await;
    assert_eq!(
        query_param(&answer, "error").as_deref(),
        Some("invalid_request")
    );
    // Recent enough: issued.
    let roomy = [("max_age", "3600")];
    let answer = subject_request(&s.app, &browser, &s.shop, &s.target_id, &roomy).await;
    assert!(query_param(&answer, "subject_token").is_some(), "{answer}");
}

#[tokio::test]
async fn a_read_only_token_is_refused_on_every_write_path_of_our_apis_and_each_refusal_is_audited()
{
    let s = setup().await;
    let browser = s.app.browser_for("support", "support-password-1").await;
    let asked = [
        (
            "scope",
            "internal_user_impersonate openid profile internal_login",
        ),
        ("mode", "readOnly"),
    ];
    let (id_token, subject) = subject_tokens(&s, &browser, &asked).await;
    let access = exchanged(&s, &id_token, &subject).await;
    let (app, user, any) = (&s.shop.id, &s.target_id, uuid::Uuid::new_v4());
    // Every route of ours that changes something (server/src/routes/management, scim2),
    // with real ids where a handler would find something.
    let writes: Vec<(reqwest::Method, String)> = vec![
        (reqwest::Method::POST, "/api/server/v1/applications".into()),
        (
            reqwest::Method::PATCH,
            format!("/api/server/v1/applications/{app}"),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/server/v1/applications/{app}"),
        ),
        (
            reqwest::Method::PUT,
            format!("/api/server/v1/applications/{app}/inbound-protocols/oidc"),
        ),
        (
            reqwest::Method::POST,
            format!("/api/server/v1/applications/{app}/inbound-protocols/oidc/regenerate-secret"),
        ),
        (
            reqwest::Method::POST,
            format!("/api/server/v1/applications/{app}/authorized-apis"),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/server/v1/applications/{app}/authorized-apis/{any}"),
        ),
        (
            reqwest::Method::PATCH,
            "/api/server/v1/configs/impersonation".into(),
        ),
        (
            reqwest::Method::DELETE,
            "/api/server/v1/configs/impersonation".into(),
        ),
        (
            reqwest::Method::PUT,
            "/api/server/v1/email/template-types/ImpersonationEmailNotification/templates/en_US"
                .into(),
        ),
        (
            reqwest::Method::DELETE,
            "/api/server/v1/email/template-types/ImpersonationEmailNotification/templates/en_US"
                .into(),
        ),
        (reqwest::Method::POST, "/api/server/v1/organizations".into()),
        (
            reqwest::Method::POST,
            format!("/api/server/v1/organizations/{any}/members"),
        ),
        (reqwest::Method::POST, "/api/server/v1/keys/rotate".into()),
        (
            reqwest::Method::DELETE,
            format!("/api/server/v1/keys/{any}"),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/server/v1/impersonation-sessions/{any}"),
        ),
        (
            reqwest::Method::POST,
            "/api/server/v1/impersonation-requests".into(),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/server/v1/impersonation-requests/{any}"),
        ),
        (
            reqwest::Method::POST,
            format!("/api/server/v1/impersonation-requests/{any}/approve"),
        ),
        (
            reqwest::Method::POST,
            format!("/api/server/v1/impersonation-requests/{any}/deny"),
        ),
        (
            reqwest::Method::POST,
            format!("/api/users/v1/me/impersonation-requests/{any}/approve"),
        ),
        (
            reqwest::Method::POST,
            format!("/api/users/v1/me/impersonation-requests/{any}/deny"),
        ),
        (
            reqwest::Method::POST,
            "/api/users/v1/me/support-access".into(),
        ),
        (
            reqwest::Method::DELETE,
            "/api/users/v1/me/support-access".into(),
        ),
        (reqwest::Method::POST, "/scim2/Users".into()),
        (reqwest::Method::PUT, format!("/scim2/Users/{user}")),
        (reqwest::Method::PATCH, format!("/scim2/Users/{user}")),
        (reqwest::Method::DELETE, format!("/scim2/Users/{user}")),
        (reqwest::Method::PUT, "/scim2/Me".into()),
        (reqwest::Method::PATCH, "/scim2/Me".into()),
        (reqwest::Method::POST, "/scim2/v2/Roles".into()),
        (
            reqwest::Method::PATCH,
            format!("/scim2/v2/Roles/{}", s.role_id),
        ),
        (
            reqwest::Method::DELETE,
            format!("/scim2/v2/Roles/{}", s.role_id),
        ),
    ];
    for (method, path) in &writes {
        let answer = s
            .app
            .client
            .request(method.clone(), s.app.at(path))
            .bearer_auth(&access)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 403, "{method} {path}");
        assert!(
            answer.text().await.unwrap().contains("read-only"),
            "{method} {path}"
        );
    }
    let refused = crate::impersonation::audit_events(&s.app)
        .await
        .into_iter()
        .filter(|e| {
            e["action"]
                .as_str()
                .unwrap()
                .ends_with("-via-impersonation")
                && e["outcome"] == "failure"
        })
        .count();
    assert_eq!(refused, writes.len(), "each refusal audited once");
    // Nothing changed: the application, the user and the role are still there.
    let shop = s
        .app
        .get_as_admin(s.app.at(&format!("/api/server/v1/applications/{app}")))
        .await;
    assert_eq!(shop["id"], app.as_str());
    let target = s
        .app
        .get_as_admin(s.app.at(&format!("/scim2/Users/{user}")))
        .await;
    assert_eq!(target["id"], user.as_str());
}
