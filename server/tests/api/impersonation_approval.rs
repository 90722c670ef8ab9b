//! Impersonation that asks first (issue 14): requests for access, approved by the user, a
//! second administrator or both; standing support access; each path of a request
//! (approve, deny, expire, withdraw), and who may not decide (the requester, a weaker
//! administrator, an impersonated token).

use crate::helpers::{TestApp, admin, query_param};
use crate::impersonation::{
    Setup, exchange, exchanged, refused_exchange, setup, subject_request, tokens,
};
use futures::future::join_all;
use identity::entities::{impersonation_request, impersonation_session, outbox_mail};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};

const REQUESTS: &str = "/api/server/v1/impersonation-requests";
const MINE: &str = "/api/users/v1/me/impersonation-requests";
const SUPPORT_ACCESS: &str = "/api/users/v1/me/support-access";
const SUPPORT: (&str, &str) = ("support", "support-password-1");
const CUSTOMER: (&str, &str) = ("customer", "customer-password-1");

/// `method path` with `body` as `who` (HTTP Basic): status and JSON body (`null` if none).
async fn call(
    app: &TestApp,
    who: (&str, &str),
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app
        .client
        .request(method, app.at(path))
        .basic_auth(who.0, Some(who.1));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The support user asks to impersonate the customer; returns the request.
async fn request_access(s: &Setup, extra: Value) -> Value {
    let mut body = json!({ "target": s.target_id, "reason": "Order 4711 is stuck" });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let (status, created) =
        call(&s.app, SUPPORT, reqwest::Method::POST, REQUESTS, Some(body)).await;
    assert_eq!(status, 201, "{created}");
    created
}

/// The customer decides `id` (`approve` or `deny`) with their own password.
async fn user_decides(s: &Setup, id: &str, decision: &str, body: Option<Value>) -> (u16, Value) {
    let path = format!("{MINE}/{id}/{decision}");
    call(&s.app, CUSTOMER, reqwest::Method::POST, &path, body).await
}

/// The subject token request's answer for the support user.
async fn try_subject_token(s: &Setup) -> String {
    let browser = s.app.browser_for(SUPPORT.0, SUPPORT.1).await;
    subject_request(&s.app, &browser, &s.shop, &s.target_id, &[]).await
}

async fn status_of(s: &Setup, id: &str) -> String {
    let read = s
        .app
        .get_as_admin(s.app.at(&format!("{REQUESTS}/{id}")))
        .await;
    read["status"].as_str().unwrap().to_owned()
}

/// Moves a request's deadline (`column`) into the past.
async fn overdue(app: &TestApp, id: &str, column: impersonation_request::Column) {
    impersonation_request::Entity::update_many()
        .col_expr(column, Expr::value(identity::clock::now() - 1))
        .filter(impersonation_request::Column::Id.eq(uuid::Uuid::parse_str(id).unwrap()))
        .exec(&app.db)
        .await
        .unwrap();
}

fn id(request: &Value) -> String {
    request["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn with_approval_off_the_wso2_flow_is_unchanged_and_no_request_is_needed() {
    let s = setup().await;
    let settings = s
        .app
        .get_as_admin(s.app.at("/api/server/v1/configs/impersonation"))
        .await;
    assert_eq!(settings["approval"], "none");
    assert_eq!(settings["requestExpiryMinutes"], 1440);
    assert_eq!(settings["approvalWindowMinutes"], 60);
    let body = json!({ "target": s.target_id });
    let (status, answer) = call(&s.app, SUPPORT, reqwest::Method::POST, REQUESTS, Some(body)).await;
    assert_eq!(status, 409, "{answer}");
    assert!(answer.to_string().contains("does not ask for approval"));
    let browser = s.app.browser_for(SUPPORT.0, SUPPORT.1).await;
    let (id_token, subject_token) = tokens(&s, &browser).await;
    exchanged(&s, &id_token, &subject_token).await;
}

#[tokio::test]
async fn approval_settings_are_validated_naming_their_field() {
    let s = setup().await;
    for (path, value, field) in [
        ("/approval", json!("sometimes"), "approval"),
        ("/approval", json!(1), "approval"),
        ("/requestExpiryMinutes", json!(4), "requestExpiryMinutes"),
        (
            "/requestExpiryMinutes",
            json!(7 * 24 * 60 + 1),
            "requestExpiryMinutes",
        ),
        ("/approvalWindowMinutes", json!(0), "approvalWindowMinutes"),
    ] {
        let answer = s.app.set_impersonation(path, value.clone()).await;
        assert_eq!(answer.status(), 400, "{path} = {value}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["fields"][0]["field"], field, "{body}");
    }
    let settings = s
        .app
        .get_as_admin(s.app.at("/api/server/v1/configs/impersonation"))
        .await;
    assert_eq!(settings["approval"], "none", "nothing changed");
    for approval in ["user", "administrator", "userAndAdministrator", "none"] {
        assert_eq!(
            s.app
                .set_impersonation("/approval", json!(approval))
                .await
                .status(),
            200
        );
    }
}

#[tokio::test]
async fn the_user_approves_a_request_which_then_starts_exactly_one_read_only_session() {
    let s = setup().await;
    s.app.set_impersonation("/approval", json!("user")).await;

    // Without an approval: access_denied, saying an approval is needed.
    let refused = try_subject_token(&s).await;
    assert_eq!(
        query_param(&refused, "error").as_deref(),
        Some("access_denied")
    );
    assert!(
        query_param(&refused, "error_description")
            .unwrap()
            .contains("An approval is needed"),
        "{refused}"
    );
    let denied = s.app.audit_events("impersonation-denied").await;
    assert_eq!(
        denied[0]["reason"],
        "the organization asks for an approval, and there is none to use"
    );

    let created = request_access(
        &s,
        json!({ "ticket": "SUP-1", "mode": "readOnly", "durationMinutes": 15 }),
    )
    .await;
    assert_eq!(created["status"], "pending");
    assert_eq!(created["approvals"]["user"], "pending");
    assert_eq!(created["approvals"]["administrator"], "notAsked");
    assert_eq!(created["mode"], "readOnly");
    let request_id = id(&created);

    // The user is mailed, with the way to decide.
    let mails = outbox_mail::Entity::find()
        .filter(outbox_mail::Column::Recipient.eq("customer@example.org"))
        .all(&s.app.db)
        .await
        .unwrap();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].subject, "Someone asks to access your account");
    assert!(
        mails[0].text.contains("support asks to act as you"),
        "{}",
        mails[0].text
    );
    assert!(mails[0].text.contains("Order 4711 is stuck"));
    assert!(mails[0].text.contains("/myaccount/access-requests"));

    // The same request twice: one is open already.
    let body = json!({ "target": s.target_id });
    let (status, _) = call(&s.app, SUPPORT, reqwest::Method::POST, REQUESTS, Some(body)).await;
    assert_eq!(status, 409);

    // Still pending: still refused.
    let refused = try_subject_token(&s).await;
    assert_eq!(
        query_param(&refused, "error").as_deref(),
        Some("access_denied")
    );

    // The user sees it and approves it.
    let (status, mine) = call(&s.app, CUSTOMER, reqwest::Method::GET, MINE, None).await;
    assert_eq!(status, 200);
    assert_eq!(mine["requests"][0]["id"], request_id.as_str());
    let (status, approved) = user_decides(&s, &request_id, "approve", None).await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["status"], "approved");
    assert!(approved["validUntil"].is_string());
    let (status, _) = user_decides(&s, &request_id, "approve", None).await;
    assert_eq!(status, 409, "approved once");

    // Now it starts, read-only as requested, for at most the duration requested.
    let browser = s.app.browser_for(SUPPORT.0, SUPPORT.1).await;
    let (id_token, subject_token) = tokens(&s, &browser).await;
    let access = exchanged(&s, &id_token, &subject_token).await;
    assert_eq!(
        crate::helpers::claims(&access)["impersonation_mode"],
        "read-only"
    );
    let session = impersonation_session::Entity::find()
        .one(&s.app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(session.read_only);
    assert_eq!(session.ticket, "SUP-1");
    assert_eq!(
        session.request_id.map(|i| i.to_string()),
        Some(request_id.clone())
    );
    assert!(session.expires_at - session.started_at <= 15 * 60);
    assert_eq!(status_of(&s, &request_id).await, "used");

    // One approval, one session: the next start needs a new request.
    let other = s.app.browser_for(SUPPORT.0, SUPPORT.1).await;
    let refused = subject_request(&s.app, &other, &s.shop, &s.target_id, &[]).await;
    assert_eq!(
        query_param(&refused, "error").as_deref(),
        Some("access_denied")
    );

    let actions: Vec<String> = crate::impersonation::audit_events(&s.app)
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    for action in [
        "impersonation-requested",
        "impersonation-request-approved",
        "impersonation-started",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
}

#[tokio::test]
async fn twenty_exchanges_racing_for_one_approval_start_one_session() {
    let s = setup().await;
    s.app.set_impersonation("/approval", json!("user")).await;
    let request_id = id(&request_access(&s, json!({})).await);
    user_decides(&s, &request_id, "approve", None).await;
    // Twenty sign-ins of the impersonator, each with a subject token for the approval.
    let mut pairs = Vec::new();
    for _ in 0..20 {
        let browser = s.app.browser_for(SUPPORT.0, SUPPORT.1).await;
        pairs.push(tokens(&s, &browser).await);
    }
    let answers = join_all(
        pairs
            .iter()
            .map(|(id_token, subject)| exchange(&s.app, &s.shop, subject, id_token)),
    )
    .await;
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status().as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        19,
        "{statuses:?}"
    );
    let sessions = impersonation_session::Entity::find()
        .all(&s.app.db)
        .await
        .unwrap();
    assert_eq!(sessions.len(), 1);
    let denials = s.app.audit_events("impersonation-denied").await;
    assert_eq!(denials.len(), 19);
    assert!(
        denials
            .iter()
            .all(|d| d["reason"]
                == "the organization asks for an approval, and there is none to use"),
        "{denials:?}"
    );
}

#[tokio::test]
async fn one_approval_starts_one_session_across_two_instances_on_one_database() {
    let data = tempfile::TempDir::new().unwrap();
    let public = "http://idp.scale-out.test";
    let shared = |c: &mut server::Config| c.public_url = Some(public.to_owned());
    let first = crate::helpers::spawn_app_in(data.path(), shared)
        .await
        .unwrap();
    let second = crate::helpers::spawn_app_in(data.path(), shared)
        .await
        .unwrap();
    let s = crate::impersonation::setup_in(first).await;
    s.app.set_impersonation("/approval", json!("user")).await;
    let request_id = id(&request_access(&s, json!({})).await);
    user_decides(&s, &request_id, "approve", None).await;
    let mut pairs = Vec::new();
    for _ in 0..20 {
        let browser = s.app.browser_for(SUPPORT.0, SUPPORT.1).await;
        pairs.push(tokens(&s, &browser).await);
    }
    let answers = join_all(pairs.iter().enumerate().map(|(i, (id_token, subject))| {
        let instance = if i % 2 == 0 { &s.app } else { &second };
        exchange(instance, &s.shop, subject, id_token)
    }))
    .await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    let sessions = impersonation_session::Entity::find()
        .all(&s.app.db)
        .await
        .unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(status_of(&s, &request_id).await, "used");
}

#[tokio::test]
async fn a_denied_withdrawn_or_expired_request_starts_nothing_and_is_decided_no_more() {
    let s = setup().await;
    s.app.set_impersonation("/approval", json!("user")).await;

    // Withdrawn: only by the requester.
    let withdrawn = id(&request_access(&s, json!({})).await);
    let path = format!("{REQUESTS}/{withdrawn}");
    let (status, _) = call(&s.app, CUSTOMER, reqwest::Method::DELETE, &path, None).await;
    assert_eq!(status, 404, "not the customer's to withdraw");
    let (status, body) = call(&s.app, SUPPORT, reqwest::Method::DELETE, &path, None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("withdrawn")));
    let (status, _) = user_decides(&s, &withdrawn, "approve", None).await;
    assert_eq!(status, 409);

    // Expired: not decided in time reads as expired at once, and the sweep records it once.
    let expiring = id(&request_access(&s, json!({})).await);
    overdue(&s.app, &expiring, impersonation_request::Column::DecideBy).await;
    assert_eq!(status_of(&s, &expiring).await, "expired");
    let (status, _) = user_decides(&s, &expiring, "approve", None).await;
    assert_eq!(status, 409);
    assert_eq!(
        identity::impersonation::approval::expire_due(&s.app.db)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        identity::impersonation::approval::expire_due(&s.app.db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.app
            .audit_events("impersonation-request-expired")
            .await
            .len(),
        1
    );

    // An approval not used within its window expires too.
    let unused = id(&request_access(&s, json!({})).await);
    user_decides(&s, &unused, "approve", None).await;
    overdue(&s.app, &unused, impersonation_request::Column::ValidUntil).await;
    let refused = try_subject_token(&s).await;
    assert_eq!(
        query_param(&refused, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(status_of(&s, &unused).await, "expired");

    // Denied by the user, with a comment kept to its size (last: a denial keeps the
    // requester from asking this user again for a day).
    let denied = id(&request_access(&s, json!({})).await);
    let comment = "Not now. ".repeat(200);
    let (status, body) =
        user_decides(&s, &denied, "deny", Some(json!({ "comment": comment }))).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "denied");
    assert!(body["comment"].as_str().unwrap().len() <= 600);
    let (status, _) = user_decides(&s, &denied, "approve", None).await;
    assert_eq!(status, 409, "denied stays denied");
    let refused = try_subject_token(&s).await;
    assert_eq!(
        query_param(&refused, "error").as_deref(),
        Some("access_denied")
    );

    // The list filters by status.
    let expired = s
        .app
        .get_as_admin(s.app.at(&format!("{REQUESTS}?status=expired")))
        .await;
    assert_eq!(expired["totalResults"], 2);
    let (status, _) = call(
        &s.app,
        admin(),
        reqwest::Method::GET,
        &format!("{REQUESTS}?status=maybe"),
        None,
    )
    .await;
    assert_eq!(status, 400);
    for action in [
        "impersonation-request-denied",
        "impersonation-request-withdrawn",
    ] {
        assert_eq!(s.app.audit_events(action).await.len(), 1, "{action}");
    }
}

/// Creates a role of `audience` (`{"type", "value"}`) granting `scopes`, held by
/// `user_id`; its id.
async fn role(
    app: &TestApp,
    name: &str,
    audience: Value,
    scopes: &[&str],
    user_id: &str,
) -> String {
    let (user, pass) = admin();
    let created = app
        .client
        .post(app.at("/scim2/v2/Roles"))
        .basic_auth(user, Some(pass))
        .json(&json!({
            "displayName": name,
            "audience": audience,
            "permissions": scopes.iter().map(|s| json!({ "value": s })).collect::<Vec<_>>(),
            "users": [{ "value": user_id }],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let body: Value = created.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

/// Gives `user_id` a root organization role of its own granting `scopes`.
async fn organization_role(app: &TestApp, name: &str, scopes: &[&str], user_id: &str) {
    let root = identity::seed::root_organization_id(&app.db).await.unwrap();
    let audience = json!({ "type": "organization", "value": root });
    role(app, name, audience, scopes, user_id).await;
}

#[tokio::test]
async fn a_second_administrator_approves_never_the_requester_nor_a_weaker_one() {
    let s = setup().await;
    s.app
        .set_impersonation("/approval", json!("administrator"))
        .await;
    // The requester administers users too, and may approve others' requests.
    let approve_scope = identity::scopes::IMPERSONATION_APPROVE;
    let support_scopes = [approve_scope, "internal_user_mgt_view"];
    organization_role(&s.app, "Support desk", &support_scopes, &s.impersonator_id).await;
    let request_id = id(&request_access(&s, json!({})).await);
    let approve = format!("{REQUESTS}/{request_id}/approve");

    // The user is not asked; a user without the scope cannot decide.
    let (status, _) = user_decides(&s, &request_id, "approve", None).await;
    assert_eq!(status, 403);
    let (status, _) = call(&s.app, CUSTOMER, reqwest::Method::POST, &approve, None).await;
    assert_eq!(status, 403);
    // An approver holding less than the requester (not internal_user_mgt_view).
    let weak = s.app.create_user("weak", "weak-password-1").await;
    organization_role(&s.app, "Approvers", &[approve_scope], &weak).await;
    let weak_login = ("weak", "weak-password-1");
    let (status, body) = call(&s.app, weak_login, reqwest::Method::POST, &approve, None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.to_string().contains("fewer privileges"), "{body}");
    let deny = format!("{REQUESTS}/{request_id}/deny");
    let (status, _) = call(&s.app, weak_login, reqwest::Method::POST, &deny, None).await;
    assert_eq!(status, 403, "nor deny");
    // The requester cannot decide their own.
    let (status, body) = call(&s.app, SUPPORT, reqwest::Method::POST, &approve, None).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.to_string()
            .contains("Nobody decides a request they made"),
        "{body}"
    );
    assert_eq!(
        status_of(&s, &request_id).await,
        "pending",
        "nothing changed"
    );

    // The administrator holds everything the requester holds: approved.
    let (status, body) = call(&s.app, admin(), reqwest::Method::POST, &approve, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "approved");
    assert_eq!(body["approvals"]["administrator"], "approved");
    let browser = s.app.browser_for(SUPPORT.0, SUPPORT.1).await;
    let (id_token, subject_token) = tokens(&s, &browser).await;
    exchanged(&s, &id_token, &subject_token).await;
}

#[tokio::test]
async fn user_and_administrator_both_approve_before_anything_starts() {
    let s = setup().await;
    s.app
        .set_impersonation("/approval", json!("userAndAdministrator"))
        .await;
    let request_id = id(&request_access(&s, json!({})).await);
    let (_, body) = user_decides(&s, &request_id, "approve", None).await;
    assert_eq!(
        body["status"], "pending",
        "the administrator's part is still missing"
    );
    let refused = try_subject_token(&s).await;
    assert_eq!(
        query_param(&refused, "error").as_deref(),
        Some("access_denied")
    );
    let approve = format!("{REQUESTS}/{request_id}/approve");
    let (status, body) = call(&s.app, admin(), reqwest::Method::POST, &approve, None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")));
    let browser = s.app.browser_for(SUPPORT.0, SUPPORT.1).await;
    let (id_token, subject_token) = tokens(&s, &browser).await;
    exchanged(&s, &id_token, &subject_token).await;
}

#[tokio::test]
async fn standing_support_access_allows_without_a_request_and_revoking_it_ends_the_session() {
    let s = setup().await;
    s.app.set_impersonation("/approval", json!("user")).await;
    for hours in [json!(0), json!(73), json!("2")] {
        let (status, body) = call(
            &s.app,
            CUSTOMER,
            reqwest::Method::POST,
            SUPPORT_ACCESS,
            Some(json!({ "hours": hours })),
        )
        .await;
        assert_eq!(status, 400, "{hours}: {body}");
    }
    let (status, granted) = call(
        &s.app,
        CUSTOMER,
        reqwest::Method::POST,
        SUPPORT_ACCESS,
        Some(json!({ "hours": 2 })),
    )
    .await;
    assert_eq!(status, 201, "{granted}");
    assert_eq!(granted["granted"], true);
    let (status, _) = call(
        &s.app,
        CUSTOMER,
        reqwest::Method::POST,
        SUPPORT_ACCESS,
        Some(json!({ "hours": 3 })),
    )
    .await;
    assert_eq!(status, 409, "one grant at a time");

    let browser = s.app.browser_for(SUPPORT.0, SUPPORT.1).await;
    let (id_token, subject_token) = tokens(&s, &browser).await;
    let access = exchanged(&s, &id_token, &subject_token).await;
    let session = impersonation_session::Entity::find()
        .one(&s.app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(session.support_access_id.is_some());
    assert!(session.expires_at <= identity::clock::now() + 2 * 3600);
    assert_eq!(s.app.introspect(&s.shop, &access).await["active"], true);

    let (status, _) = call(
        &s.app,
        CUSTOMER,
        reqwest::Method::DELETE,
        SUPPORT_ACCESS,
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        s.app.introspect(&s.shop, &access).await["active"],
        false,
        "ended at once"
    );
    let ended = impersonation_session::Entity::find()
        .one(&s.app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ended.end_reason.as_deref(),
        Some("the user revoked support access")
    );
    let (status, _) = call(
        &s.app,
        CUSTOMER,
        reqwest::Method::DELETE,
        SUPPORT_ACCESS,
        None,
    )
    .await;
    assert_eq!(status, 404, "nothing left to revoke");

    // Without it, a request is needed again.
    let other = s.app.browser_for(SUPPORT.0, SUPPORT.1).await;
    let refused = subject_request(&s.app, &other, &s.shop, &s.target_id, &[]).await;
    assert_eq!(
        query_param(&refused, "error").as_deref(),
        Some("access_denied")
    );
    for action in ["support-access-granted", "support-access-revoked"] {
        assert_eq!(s.app.audit_events(action).await.len(), 1, "{action}");
    }
}

#[tokio::test]
async fn an_impersonated_token_neither_decides_nor_grants_nor_requests() {
    let s = setup().await;
    s.app.set_impersonation("/approval", json!("user")).await;
    let pending = id(&request_access(&s, json!({})).await);
    call(
        &s.app,
        CUSTOMER,
        reqwest::Method::POST,
        SUPPORT_ACCESS,
        Some(json!({ "hours": 1 })),
    )
    .await;
    // Impersonating the customer (through their standing access) with a self-service token.
    let browser = s.app.browser_for(SUPPORT.0, SUPPORT.1).await;
    let scope = [("scope", "internal_user_impersonate openid internal_login")];
    let answer = subject_request(&s.app, &browser, &s.shop, &s.target_id, &scope).await;
    let id_token = query_param(&answer, "id_token").unwrap();
    let subject_token = query_param(&answer, "subject_token").unwrap();
    let token = exchanged(&s, &id_token, &subject_token).await;
    assert!(
        crate::helpers::claims(&token)["scope"]
            .as_str()
            .unwrap()
            .contains("internal_login")
    );

    let attempts = [
        (
            reqwest::Method::POST,
            format!("{MINE}/{pending}/approve"),
            None,
        ),
        (
            reqwest::Method::POST,
            format!("{MINE}/{pending}/deny"),
            Some(json!({})),
        ),
        (reqwest::Method::DELETE, SUPPORT_ACCESS.to_owned(), None),
        (
            reqwest::Method::POST,
            SUPPORT_ACCESS.to_owned(),
            Some(json!({ "hours": 72 })),
        ),
        (
            reqwest::Method::POST,
            REQUESTS.to_owned(),
            Some(json!({ "target": s.impersonator_id })),
        ),
    ];
    for (method, path, body) in attempts {
        let mut request = s
            .app
            .client
            .request(method.clone(), s.app.at(&path))
            .bearer_auth(&token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 403, "{method} {path}");
    }
    assert_eq!(status_of(&s, &pending).await, "pending", "nothing decided");
    let (_, access) = call(&s.app, CUSTOMER, reqwest::Method::GET, SUPPORT_ACCESS, None).await;
    assert_eq!(access["granted"], true, "nothing revoked");
    let failed: Vec<Value> = crate::impersonation::audit_events(&s.app)
        .await
        .into_iter()
        .filter(|e| {
            e["action"]
                .as_str()
                .unwrap()
                .ends_with("-via-impersonation")
                && e["outcome"] == "failure"
        })
        .collect();
    assert!(
        failed.len() >= 5,
        "each refused write is audited: {failed:?}"
    );
}

#[tokio::test]
async fn a_flood_of_requests_is_bounded_and_attacker_sized_input_is_refused() {
    let s = setup().await;
    s.app.set_impersonation("/approval", json!("user")).await;
    let huge = "x".repeat(10_000);
    for body in [
        json!({ "target": s.target_id, "reason": huge }),
        json!({ "target": s.target_id, "durationMinutes": 100_000 }),
        json!({ "target": s.target_id, "mode": "godMode" }),
        json!({ "target": huge }),
        json!({ "target": s.target_id, "unknown": 1 }),
    ] {
        let (status, answer) =
            call(&s.app, SUPPORT, reqwest::Method::POST, REQUESTS, Some(body)).await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer.to_string().len() < 2_000, "nothing echoed at size");
    }
    // Twenty open requests at most per requester (each mails a user).
    for n in 0..20 {
        let target = s
            .app
            .create_user(&format!("user{n}"), "user-password-1")
            .await;
        let body = json!({ "target": target });
        let (status, _) = call(&s.app, SUPPORT, reqwest::Method::POST, REQUESTS, Some(body)).await;
        assert_eq!(status, 201);
    }
    let body = json!({ "target": s.target_id });
    let (status, answer) = call(&s.app, SUPPORT, reqwest::Method::POST, REQUESTS, Some(body)).await;
    assert_eq!(status, 409, "{answer}");
    let requested = s.app.audit_events("impersonation-requested").await;
    assert_eq!(requested.len(), 20);
    // The requester sees their own; a user without the scope sees none of others'.
    let (status, mine) = call(&s.app, SUPPORT, reqwest::Method::GET, REQUESTS, None).await;
    assert_eq!((status, mine["totalResults"].as_u64()), (200, Some(20)));
    let (status, theirs) = call(&s.app, CUSTOMER, reqwest::Method::GET, REQUESTS, None).await;
    assert_eq!((status, theirs["totalResults"].as_u64()), (200, Some(0)));
}

#[tokio::test]
async fn rules_say_who_may_impersonate_whom_and_are_checked_again_at_the_exchange() {
    let s = setup().await;
    let vip = role(
        &s.app,
        "VIP",
        json!({ "type": "application", "value": s.shop.id }),
        &[],
        &s.target_id,
    )
    .await;
    // Malformed, unknown, and too many rules: refused naming `rules`, nothing changed.
    let stranger = uuid::Uuid::new_v4();
    let too_many: Vec<Value> = (0..51)
        .map(|_| json!({ "impersonatorRole": s.role_id }))
        .collect();
    for rules in [
        json!("everyone"),
        json!([{ "impersonatorRole": "nobody" }]),
        json!([{ "impersonatorRole": s.role_id, "effect": "maybe" }]),
        json!([{ "impersonatorRole": stranger }]),
        json!([{ "impersonatorRole": s.role_id, "targetOrganization": stranger }]),
        json!(too_many),
    ] {
        let answer = s.app.set_impersonation("/rules", rules.clone()).await;
        assert_eq!(answer.status(), 400, "{rules}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["fields"][0]["field"], "rules", "{body}");
        assert!(body.to_string().len() < 2_000);
    }

    // The first matching rule decides: the VIP is kept out, everyone else allowed.
    let rules = json!([
        { "impersonatorRole": s.role_id, "targetRole": vip, "effect": "deny" },
        { "impersonatorRole": s.role_id, "effect": "allow" },
    ]);
    assert_eq!(s.app.set_impersonation("/rules", rules).await.status(), 200);
    let refused = try_subject_token(&s).await;
    assert_eq!(
        query_param(&refused, "error").as_deref(),
        Some("access_denied"),
        "{refused}"
    );
    let denied = s.app.audit_events("impersonation-denied").await;
    assert_eq!(
        denied[0]["reason"],
        "no rule of the organization lets the impersonator impersonate this user"
    );
    let other = s.app.create_user("regular", "regular-password-1").await;
    let browser = s.app.browser_for(SUPPORT.0, SUPPORT.1).await;
    let allowed = subject_request(&s.app, &browser, &s.shop, &other, &[]).await;
    assert!(
        query_param(&allowed, "subject_token").is_some(),
        "{allowed}"
    );

    // Allowed at authorize, a rule changed before the exchange: refused there.
    let rules = json!([{ "impersonatorRole": s.role_id, "effect": "allow" }]);
    assert_eq!(s.app.set_impersonation("/rules", rules).await.status(), 200);
    let browser = s.app.browser_for(SUPPORT.0, SUPPORT.1).await;
    let (id_token, subject_token) = tokens(&s, &browser).await;
    let rules = json!([{ "impersonatorRole": s.role_id, "targetRole": vip, "effect": "deny" }]);
    assert_eq!(s.app.set_impersonation("/rules", rules).await.status(), 200);
    refused_exchange(&s, &subject_token, &id_token, "no rule of the organization").await;
    assert!(
        impersonation_session::Entity::find()
            .all(&s.app.db)
            .await
            .unwrap()
            .is_empty()
    );

    // A rule for a role the impersonator does not hold matches nothing: refused.
    let admins = s
        .app
        .get_as_admin(
            s.app
                .at("/scim2/v2/Roles?filter=displayName%20eq%20%22Administrator%22"),
        )
        .await["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rules = json!([{ "impersonatorRole": admins, "effect": "allow" }]);
    assert_eq!(s.app.set_impersonation("/rules", rules).await.status(), 200);
    let browser = s.app.browser_for(SUPPORT.0, SUPPORT.1).await;
    let refused = subject_request(&s.app, &browser, &s.shop, &other, &[]).await;
    assert_eq!(
        query_param(&refused, "error").as_deref(),
        Some("access_denied")
    );

    // No rules: today's rule again.
    assert_eq!(
        s.app.set_impersonation("/rules", json!([])).await.status(),
        200
    );
    let browser = s.app.browser_for(SUPPORT.0, SUPPORT.1).await;
    let (id_token, subject_token) = tokens(&s, &browser).await;
    exchanged(&s, &id_token, &subject_token).await;
}

#[tokio::test]
async fn an_approval_that_standing_access_gave_ends_with_it_and_the_user_takes_an_approval_back() {
    let s = setup().await;
    s.app.set_impersonation("/approval", json!("user")).await;
    let grant = json!({ "hours": 1 });
    call(
        &s.app,
        CUSTOMER,
        reqwest::Method::POST,
        SUPPORT_ACCESS,
        Some(grant),
    )
    .await;
    // Asked while support access runs: the user's part is approved by it, at once.
    let by_standing = request_access(&s, json!({ "durationMinutes": 60 })).await;
    assert_eq!(by_standing["status"], "approved");
    let (status, _) = call(
        &s.app,
        CUSTOMER,
        reqwest::Method::DELETE,
        SUPPORT_ACCESS,
        None,
    )
    .await;
    assert_eq!(status, 204);
    // Revoking the access takes that approval back too: nothing starts.
    assert_eq!(status_of(&s, &id(&by_standing)).await, "denied");
    let refused = try_subject_token(&s).await;
    assert_eq!(
        query_param(&refused, "error").as_deref(),
        Some("access_denied")
    );

    // An approval of the user's own, taken back before it was used. (A denial keeps the
    // requester from asking the same user again for a day: another requester asks.)
    let other = s.app.create_user("helper", "helper-password-1").await;
    let (user, pass) = admin();
    let added = s
        .app
        .client
        .patch(s.app.at(&format!("/scim2/v2/Roles/{}", s.role_id)))
        .basic_auth(user, Some(pass))
        .json(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{ "op": "add", "path": "users", "value": [{ "value": other }] }],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 200);
    let body = json!({ "target": s.target_id });
    let helper = ("helper", "helper-password-1");
    let (status, created) = call(&s.app, helper, reqwest::Method::POST, REQUESTS, Some(body)).await;
    assert_eq!(status, 201, "{created}");
    user_decides(&s, &id(&created), "approve", None).await;
    let (status, body) = user_decides(&s, &id(&created), "deny", Some(json!({}))).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("denied")),
        "{body}"
    );
    let browser = s.app.browser_for("helper", "helper-password-1").await;
    let refused = subject_request(&s.app, &browser, &s.shop, &s.target_id, &[]).await;
    assert_eq!(
        query_param(&refused, "error").as_deref(),
        Some("access_denied")
    );

    // After a denial, the same requester does not ask again at once.
    let body = json!({ "target": s.target_id });
    let (status, answer) = call(&s.app, SUPPORT, reqwest::Method::POST, REQUESTS, Some(body)).await;
    assert_eq!(status, 409, "{answer}");
    assert!(answer.to_string().contains("denied your last request"));
}

#[tokio::test]
async fn the_user_and_an_administrator_approving_at_once_leave_the_request_approved() {
    let s = setup().await;
    s.app
        .set_impersonation("/approval", json!("userAndAdministrator"))
        .await;
    let request_id = id(&request_access(&s, json!({})).await);
    let approve = format!("{REQUESTS}/{request_id}/approve");
    let (by_user, by_admin) = tokio::join!(
        user_decides(&s, &request_id, "approve", None),
        call(&s.app, admin(), reqwest::Method::POST, &approve, None),
    );
    assert_eq!((by_user.0, by_admin.0), (200, 200));
    assert_eq!(status_of(&s, &request_id).await, "approved");
}

#[tokio::test]
async fn consent_needs_my_account_or_the_password_and_a_page_elsewhere_cannot_use_cached_credentials()
 {
    let s = setup().await;
    s.app.set_impersonation("/approval", json!("user")).await;
    let pending = id(&request_access(&s, json!({})).await);
    // The customer signs in to the Shop, which asks for internal_login: it reads, but
    // does not let anyone in on the customer's behalf.
    let browser = s.app.browser_for(CUSTOMER.0, CUSTOMER.1).await;
    let code = s
        .app
        .code_for(&browser, &s.shop, &[("scope", "openid internal_login")])
        .await;
    let token = s.app.redeem(&s.shop, &code, None).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        s.app
            .bearer_status(reqwest::Method::GET, MINE, &token)
            .await,
        200
    );
    for (method, path) in [
        (reqwest::Method::POST, format!("{MINE}/{pending}/approve")),
        (reqwest::Method::DELETE, SUPPORT_ACCESS.to_owned()),
    ] {
        assert_eq!(
            s.app.bearer_status(method, &path, &token).await,
            403,
            "{path}"
        );
    }
    let grant = s
        .app
        .client
        .post(s.app.at(SUPPORT_ACCESS))
        .bearer_auth(&token)
        .json(&json!({ "hours": 72 }))
        .send()
        .await
        .unwrap();
    assert_eq!(grant.status(), 403);
    assert_eq!(status_of(&s, &pending).await, "pending");

    // A form on another site posting with the browser's cached Basic credentials.
    let (user, pass) = admin();
    for header in [
        ("Origin", "https://attacker.example"),
        ("Sec-Fetch-Site", "cross-site"),
    ] {
        let forged = s
            .app
            .client
            .post(s.app.at(&format!("{MINE}/{pending}/approve")))
            .basic_auth(CUSTOMER.0, Some(CUSTOMER.1))
            .header(header.0, header.1)
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 401, "{header:?}");
        let forged = s
            .app
            .client
            .patch(s.app.at("/api/server/v1/configs/impersonation"))
            .basic_auth(user, Some(pass))
            .header(header.0, header.1)
            .json(&json!([{ "operation": "REPLACE", "path": "/approval", "value": "none" }]))
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 401, "{header:?}");
    }
    assert_eq!(status_of(&s, &pending).await, "pending");
    // The same from our own origin, or from a client that sends none, is fine.
    let (status, _) = user_decides(&s, &pending, "approve", None).await;
    assert_eq!(status, 200);
}
