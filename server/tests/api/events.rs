//! Events for receivers outside (issue 15): webhooks, Shared Signals, back-channel logout,
//! each received over real HTTP by `tests/receivers/receiver.py`, which verifies them with
//! implementations that are not ours (the Standard Webhooks library, PyJWT).

use crate::helpers::{Registered, TestApp, admin, claims, listening, location, spawn_app};
use crate::impersonation::{exchange, setup, tokens};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

/// The receiver: a Python process on a port of its own.
pub struct Receiver {
    child: std::process::Child,
    pub port: u16,
}

/// The server's issuer (WSO2's: the token endpoint's URL).
pub fn issuer(app: &TestApp) -> String {
    format!("{}/oauth2/token", app.url)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Receiver {
    /// Starts a receiver on `port` for `app`'s tokens with audience `audience`.
    pub fn start(app: &TestApp, port: u16, audience: &str, secret: &str, mode: &str) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/receivers/receiver.py");
        // `--name=value`: a client id may begin with "-", which argparse would take for
        // an option of its own.
        let child = std::process::Command::new("python3")
            .arg(script)
            .arg(format!("--port={port}"))
            .arg(format!("--issuer={}", issuer(app)))
            .arg(format!("--jwks={}", app.at("/oauth2/jwks")))
            .arg(format!("--audience={audience}"))
            .arg(format!("--webhook-secret={secret}"))
            .arg(format!("--mode={mode}"))
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("python3 with PyJWT and standardwebhooks (scripts/setup installs them)");
        Self {
            child: listening(child, port, "receiver"),
            port,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub async fn received(&self) -> Vec<Value> {
        reqwest::get(self.url("/received"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits (up to 20 s) until what was received has an entry `matches` accepts.
    pub async fn wait_for(&self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..200 {
            if let Some(found) = self.received().await.into_iter().find(|r| matches(r)) {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "waited 20 s for {what}; received: {:#?}",
            self.received().await
        );
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a test request authenticates.
enum Auth<'a> {
    /// HTTP Basic with a username and password.
    Basic(&'a str, &'a str),
    /// A bearer access token.
    Bearer(&'a str),
    /// None: an anonymous request.
    None,
}

/// `method path` with `body`: the status and the JSON body (`null` if none).
async fn send(
    app: &TestApp,
    auth: Auth<'_>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let request = app.client.request(method, app.at(path));
    let mut request = match auth {
        Auth::Basic(user, pass) => request.basic_auth(user, Some(pass)),
        Auth::Bearer(token) => request.bearer_auth(token),
        Auth::None => request,
    };
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn as_admin(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let (user, pass) = admin();
    send(app, Auth::Basic(user, pass), method, path, body).await
}

/// A webhook for key rotations at a free port (nothing listens there yet): (port, id,
/// secret).
async fn rotation_hook(app: &TestApp) -> (u16, String, String) {
    let port = free_port();
    let (id, secret) = subscribe(
        app,
        &format!("http://127.0.0.1:{port}/webhook"),
        &["signing-key.rotated"],
    )
    .await;
    (port, id, secret)
}

/// Rotates the signing keys (an event); returns the answer.
async fn rotate_keys(app: &TestApp) -> Value {
    let (status, body) = as_admin(app, Method::POST, "/api/server/v1/keys/rotate", None).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A SCIM `replace` of one attribute of a user, as the administrator.
async fn scim_replace(app: &TestApp, user: &str, path: &str, value: Value) -> (u16, Value) {
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "replace", "path": path, "value": value }],
    });
    as_admin(
        app,
        Method::PATCH,
        &format!("/scim2/Users/{user}"),
        Some(patch),
    )
    .await
}

/// Subscribes `url` to `types`; returns (id, secret).
async fn subscribe(app: &TestApp, url: &str, types: &[&str]) -> (String, String) {
    let (status, body) = as_admin(
        app,
        Method::POST,
        "/api/server/v1/webhooks",
        Some(json!({ "url": url, "eventTypes": types, "enabled": true })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (body["id"].as_str().unwrap().to_owned(), secret)
}

async fn delivery_log(app: &TestApp, webhook: &str) -> Vec<Value> {
    let (status, body) = as_admin(
        app,
        Method::GET,
        &format!("/api/server/v1/webhooks/{webhook}/deliveries"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    body["deliveries"].as_array().unwrap().clone()
}

/// Waits (up to 30 s) until the delivery log's newest entry `matches`.
async fn wait_for_log(app: &TestApp, webhook: &str, matches: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..300 {
        if let Some(first) = delivery_log(app, webhook)
            .await
            .into_iter()
            .find(|d| matches(d))
        {
            return first;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("waited 30 s; log: {:#?}", delivery_log(app, webhook).await);
}

async fn end_session(app: &TestApp, target: &str) {
    let listed = app
        .get_as_admin(app.at(&format!(
            "/api/server/v1/impersonation-sessions?active=true&target={target}"
        )))
        .await;
    let path = listed["sessions"][0]["self"].as_str().unwrap().to_owned();
    let (status, _) = as_admin(app, Method::DELETE, &path, None).await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn a_webhook_gets_each_impersonation_signed_with_who_whom_why_and_how_it_ended() {
    let s = setup().await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/webhook");
    let (id, secret) = subscribe(
        &s.app,
        &url,
        &[
            "impersonation.started",
            "impersonation.ended",
            "user.locked",
        ],
    )
    .await;
    let receiver = Receiver::start(&s.app, port, "", &secret, "ok");
    // The secret is shown once: never in a read or a list.
    let (_, read) = as_admin(
        &s.app,
        Method::GET,
        &format!("/api/server/v1/webhooks/{id}"),
        None,
    )
    .await;
    assert!(read.get("secret").is_none() && read["url"] == url, "{read}");

    let browser = s.app.browser_for("support", "support-password-1").await;
    let (id_token, subject) = tokens(&s, &browser).await;
    assert_eq!(
        exchange(&s.app, &s.shop, &subject, &id_token)
            .await
            .status(),
        200
    );
    let started = receiver
        .wait_for("impersonation.started", |r| {
            r["type"] == "impersonation.started"
        })
        .await;
    assert_eq!(started["valid"], true);
    assert_eq!(started["data"]["impersonator"]["id"], s.impersonator_id);
    assert_eq!(started["data"]["impersonator"]["username"], "support");
    assert_eq!(started["data"]["user"]["id"], s.target_id);
    assert_eq!(started["data"]["user"]["username"], "customer");
    assert_eq!(started["data"]["mode"], "full");

    end_session(&s.app, &s.target_id).await;
    let ended = receiver
        .wait_for("impersonation.ended", |r| {
            r["type"] == "impersonation.ended"
        })
        .await;
    assert_eq!(ended["data"]["endReason"], "ended by an administrator");
    assert_eq!(ended["data"]["endedBy"]["username"], "admin");
    assert_eq!(
        ended["data"]["impersonationSessionId"],
        started["data"]["impersonationSessionId"]
    );
    // Only the types subscribed to: the subject token and sign-ins sent nothing else.
    let types: Vec<String> = receiver
        .received()
        .await
        .iter()
        .map(|r| r["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(types, ["impersonation.started", "impersonation.ended"]);
    let log = delivery_log(&s.app, &id).await;
    assert!(
        log.iter()
            .all(|d| d["status"] == "delivered" && d["responseStatus"] == 204),
        "{log:#?}"
    );
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_the_event_once_it_is_up_and_redeliver_sends_the_same_id() {
    let app = spawn_app().await;
    let (port, id, secret) = rotation_hook(&app).await;
    let rotated = rotate_keys(&app).await;
    // Nothing listens yet: the attempt fails and is retried.
    let failed = wait_for_log(&app, &id, |d| d["attempts"].as_i64() >= Some(1)).await;
    assert_eq!(failed["status"], "retrying", "{failed}");
    assert!(failed["responseStatus"].is_null());
    let receiver = Receiver::start(&app, port, "", &secret, "ok");
    let got = receiver
        .wait_for("signing-key.rotated", |r| {
            r["type"] == "signing-key.rotated"
        })
        .await;
    assert_eq!(got["data"]["kid"], rotated["activeKid"]);
    let delivered = wait_for_log(&app, &id, |d| d["status"] == "delivered").await;
    assert_eq!(delivered["responseStatus"], 204);
    assert_eq!(delivered["eventId"], got["id"]);

    // Redeliver: the same message again, with the same webhook-id for de-duplication.
    let (status, _) = as_admin(
        &app,
        Method::POST,
        &format!(
            "/api/server/v1/webhooks/{id}/deliveries/{}/redeliver",
            delivered["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(status, 202);
    for _ in 0..100 {
        if receiver.received().await.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all = receiver.received().await;
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(all[0]["id"], all[1]["id"]);
    let unique: std::collections::HashSet<_> = all.iter().map(|r| r["id"].to_string()).collect();
    assert_eq!(unique.len(), 1, "exactly one message after de-duplication");
}

#[tokio::test]
async fn redirects_are_not_followed_and_a_rotated_secret_signs_beside_the_new_one() {
    let app = spawn_app().await;
    let (port, id, secret) = rotation_hook(&app).await;
    let redirecting = Receiver::start(&app, port, "", &secret, "redirect");
    rotate_keys(&app).await;
    let refused = wait_for_log(&app, &id, |d| d["responseStatus"] == 302).await;
    assert_eq!(refused["status"], "retrying");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("redirects are not followed")
    );
    assert!(
        redirecting
            .received()
            .await
            .iter()
            .all(|r| r["channel"] != "followed")
    );
    drop(redirecting);

    // A new secret; the old one keeps signing beside it for a day, so a receiver that
    // still knows only the old one verifies the next message.
    let (status, rotated) = as_admin(
        &app,
        Method::POST,
        &format!("/api/server/v1/webhooks/{id}/rotate-secret"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    let old = Receiver::start(&app, port, "", &secret, "ok");
    let got = old
        .wait_for("the retried message", |r| r["valid"] == true)
        .await;
    assert_eq!(got["signatures"], 2);
    drop(old);
    rotate_keys(&app).await;
    let new = Receiver::start(&app, port, "", &new_secret, "ok");
    new.wait_for("a message signed with the new secret", |r| {
        r["valid"] == true
    })
    .await;
}

#[tokio::test]
async fn a_receiver_that_hangs_is_given_up_on_after_ten_seconds() {
    let app = spawn_app().await;
    let (port, id, secret) = rotation_hook(&app).await;
    let _hanging = Receiver::start(&app, port, "", &secret, "hang");
    let started = std::time::Instant::now();
    rotate_keys(&app).await;
    let timed_out = wait_for_log(&app, &id, |d| d["attempts"].as_i64() >= Some(1)).await;
    assert_eq!(timed_out["error"], "no answer within 10 s", "{timed_out}");
    assert!(started.elapsed() >= Duration::from_secs(10));
    // The server answered other requests meanwhile.
    assert_eq!(
        app.client
            .get(app.at("/health/live"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn webhook_urls_and_types_are_checked_and_nothing_attacker_sized_is_echoed() {
    let app = spawn_app().await;
    for (url, why) in [
        ("http://hooks.example.com/in", "Only https"),
        ("https://10.1.2.3/in", "non-public"),
        ("https://169.254.169.254/latest/meta-data", "non-public"),
        ("https://[fd00::1]/in", "non-public"),
        ("https://user:pw@hooks.example.com/in", "credentials"),
        ("gopher://hooks.example.com/", "Only https"),
    ] {
        let (status, body) = as_admin(
            &app,
            Method::POST,
            "/api/server/v1/webhooks",
            Some(json!({ "url": url, "eventTypes": ["user.locked"] })),
        )
        .await;
        assert_eq!(status, 400, "{url}: {body}");
        assert!(body.to_string().contains(why), "{url}: {body}");
    }
    let huge = format!("https://hooks.example.com/{}", "a".repeat(100_000));
    let (status, body) = as_admin(
        &app,
        Method::POST,
        "/api/server/v1/webhooks",
        Some(json!({ "url": huge, "eventTypes": ["x".repeat(10_000)] })),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.to_string().len() < 2_000, "{}", body.to_string().len());
    let (status, _) = as_admin(
        &app,
        Method::POST,
        "/api/server/v1/webhooks",
        Some(json!({ "url": "https://hooks.example.com/in", "eventTypes": [] })),
    )
    .await;
    assert_eq!(status, 400);
    let (_, listed) = as_admin(&app, Method::GET, "/api/server/v1/webhooks", None).await;
    assert_eq!(listed["totalResults"], 0);
    // A back-channel logout URL is held to the same rule.
    let (status, body) = as_admin(
        &app,
        Method::POST,
        "/api/server/v1/applications",
        Some(
            json!({ "name": "Inside", "inboundProtocolConfiguration": { "oidc": {
            "grantTypes": ["authorization_code"], "callbackURLs": ["https://app.example/cb"],
            "logout": { "backChannelLogoutUrl": "https://192.168.0.10/logout" } } } }),
        ),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("non-public"), "{body}");

    // Someone without the webhook scopes reads and changes nothing.
    app.create_user("plain", "plain-password-1").await;
    let denied = app
        .client
        .post(app.at("/api/server/v1/webhooks"))
        .basic_auth("plain", Some("plain-password-1"))
        .json(&json!({ "url": "https://hooks.example.com/in", "eventTypes": ["user.locked"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    let listing = app
        .client
        .get(app.at("/api/server/v1/webhooks"))
        .basic_auth("plain", Some("plain-password-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status(), 403);
}

// ---------- Shared Signals ----------

/// A receiver application holding its own token with `internal_ssf_stream_manage`.
async fn ssf_receiver(app: &TestApp, name: &str) -> (Registered, String) {
    let receiver = app
        .register(
            name,
            json!({ "grantTypes": ["client_credentials"], "callbackURLs": [] }),
            json!({}),
        )
        .await;
    let management = app.management_api_id().await;
    let (status, body) = as_admin(
        app,
        Method::POST,
        &format!("/api/server/v1/applications/{}/authorized-apis", receiver.id),
        Some(json!({ "id": management, "policyIdentifier": "RBAC", "scopes": ["internal_ssf_stream_manage"] })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token: Value = app
        .token(
            &receiver,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "internal_ssf_stream_manage"),
            ],
        )
        .await
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    (receiver, token)
}

async fn ssf(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    send(app, Auth::Bearer(token), method, path, body).await
}

const SESSION_REVOKED: &str = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
const CREDENTIAL_CHANGE: &str =
    "https://schemas.openid.net/secevent/caep/event-type/credential-change";
const VERIFICATION: &str = "https://schemas.openid.net/secevent/ssf/event-type/verification";

#[tokio::test]
async fn a_shared_signals_receiver_gets_verified_sets_for_impersonation_end_password_change_and_revocation()
 {
    let s = setup().await;
    let app = &s.app;
    let (_, metadata) = send(
        app,
        Auth::None,
        Method::GET,
        "/.well-known/ssf-configuration",
        None,
    )
    .await;
    assert_eq!(metadata["issuer"], issuer(app));
    // Where SSF looks for an issuer with a path, too.
    let path = "/.well-known/ssf-configuration/oauth2/token";
    assert_eq!(
        send(app, Auth::None, Method::GET, path, None).await.1,
        metadata
    );
    assert_eq!(
        metadata["delivery_methods_supported"],
        json!(["urn:ietf:rfc:8935"])
    );
    assert_eq!(
        metadata["configuration_endpoint"],
        format!("{}/ssf/streams", app.url)
    );

    let (client, token) = ssf_receiver(app, "Risk engine").await;
    let port = free_port();
    let receiver = Receiver::start(app, port, &client.client_id, "whsec_unused", "ok");
    let (status, stream) = ssf(
        app,
        &token,
        Method::POST,
        "/ssf/streams",
        Some(json!({
            "delivery": {
                "method": "urn:ietf:rfc:8935",
                "endpoint_url": receiver.url("/ssf"),
                "authorization_header": "Bearer receiver-secret",
            },
            "events_requested": [SESSION_REVOKED, CREDENTIAL_CHANGE, "urn:example:unknown"],
            "description": "risk engine",
        })),
    )
    .await;
    assert_eq!(status, 201, "{stream}");
    assert_eq!(stream["aud"], client.client_id);
    assert_eq!(stream["iss"], issuer(app));
    assert_eq!(
        stream["events_delivered"],
        json!([SESSION_REVOKED, CREDENTIAL_CHANGE])
    );
    assert_eq!(stream["delivery"]["authorization_header"], "(set)");
    let stream_id = stream["stream_id"].as_str().unwrap().to_owned();
    // One stream per receiver.
    let (again, _) = ssf(
        app,
        &token,
        Method::POST,
        "/ssf/streams",
        Some(json!({ "delivery": { "endpoint_url": receiver.url("/ssf") } })),
    )
    .await;
    assert_eq!(again, 409);

    // Verification, with the state echoed.
    let (status, _) = ssf(
        app,
        &token,
        Method::POST,
        "/ssf/verify",
        Some(json!({ "stream_id": stream_id, "state": "st-42" })),
    )
    .await;
    assert_eq!(status, 204);
    let verified = receiver
        .wait_for("verification", |r| {
            r["claims"]["events"].get(VERIFICATION).is_some()
        })
        .await;
    assert_eq!(verified["claims"]["events"][VERIFICATION]["state"], "st-42");
    assert_eq!(
        verified["claims"]["sub_id"],
        json!({ "format": "opaque", "id": stream_id })
    );
    assert_eq!(verified["authorization"], "Bearer receiver-secret");
    // At most one verification each 30 seconds.
    let (again, _) = ssf(
        app,
        &token,
        Method::POST,
        "/ssf/verify",
        Some(json!({ "stream_id": stream_id })),
    )
    .await;
    assert_eq!(again, 429);

    // An impersonation that ends: session-revoked for the user and that session.
    let browser = app.browser_for("support", "support-password-1").await;
    let (id_token, subject) = tokens(&s, &browser).await;
    let access: Value = exchange(app, &s.shop, &subject, &id_token)
        .await
        .json()
        .await
        .unwrap();
    let session_id =
        claims(access["access_token"].as_str().unwrap())["impersonation_session_id"].clone();
    end_session(app, &s.target_id).await;
    let revoked = receiver
        .wait_for("session-revoked", |r| {
            r["claims"]["events"].get(SESSION_REVOKED).is_some()
        })
        .await;
    let set = &revoked["claims"];
    assert_eq!(set["iss"], issuer(app));
    assert_eq!(set["aud"], client.client_id);
    assert_eq!(
        set["sub_id"],
        json!({
            "format": "complex",
            "user": { "format": "iss_sub", "iss": issuer(app), "sub": s.target_id },
            "session": { "format": "opaque", "id": session_id },
        })
    );
    let event = &set["events"][SESSION_REVOKED];
    assert_eq!(event["initiating_entity"], "admin");
    assert!(event["event_timestamp"].is_i64());
    assert!(
        event["reason_admin"]["en"]
            .as_str()
            .unwrap()
            .contains("support")
    );

    // A password set by an administrator: credential-change.
    let (status, body) =
        scim_replace(app, &s.target_id, "password", json!("a-new-password-2")).await;
    assert_eq!(status, 200, "{body}");
    let credential = receiver
        .wait_for("credential-change", |r| {
            r["claims"]["events"].get(CREDENTIAL_CHANGE).is_some()
        })
        .await;
    assert_eq!(
        credential["claims"]["sub_id"],
        json!({ "format": "iss_sub", "iss": issuer(app), "sub": s.target_id })
    );
    let change = &credential["claims"]["events"][CREDENTIAL_CHANGE];
    assert_eq!(change["credential_type"], "password");
    assert_eq!(change["change_type"], "update");
    assert_eq!(change["initiating_entity"], "admin");

    // A token revoked at /oauth2/revoke (what Keycloak's transmitter misses).
    let before = receiver.received().await.len();
    let code = app.code_for(&browser, &s.shop, &[]).await;
    let own = app.redeem(&s.shop, &code, None).await;
    let revoke = app
        .client
        .post(app.at("/oauth2/revoke"))
        .basic_auth(&s.shop.client_id, s.shop.secret.as_deref())
        .form(&[("token", own["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 200);
    let by_revocation = receiver
        .wait_for("session-revoked after /oauth2/revoke", |r| {
            r["claims"]["events"][SESSION_REVOKED]["reason_admin"]["en"] == "A token was revoked."
        })
        .await;
    assert_eq!(
        by_revocation["claims"]["sub_id"]["user"]["sub"],
        s.impersonator_id
    );
    // The user's session at that application, not their sign-in.
    assert_eq!(
        by_revocation["claims"]["sub_id"]["application"],
        json!({ "format": "opaque", "id": s.shop.client_id })
    );
    assert!(by_revocation["claims"]["sub_id"].get("session").is_none());
    assert!(receiver.received().await.len() > before);
    assert!(receiver.received().await.iter().all(|r| r["valid"] == true));
}

#[tokio::test]
async fn a_receiver_manages_only_its_own_stream_and_a_paused_stream_keeps_its_events() {
    let app = spawn_app().await;
    let (mine, token) = ssf_receiver(&app, "Mine").await;
    let (_, other_token) = ssf_receiver(&app, "Other").await;
    let port = free_port();
    let receiver = Receiver::start(&app, port, &mine.client_id, "whsec_unused", "ok");
    let (_, stream) = ssf(
        &app,
        &token,
        Method::POST,
        "/ssf/streams",
        Some(json!({ "delivery": { "endpoint_url": receiver.url("/ssf") }, "events_requested": [SESSION_REVOKED] })),
    )
    .await;
    let stream_id = stream["stream_id"].as_str().unwrap().to_owned();
    let other_sees = ssf(
        &app,
        &other_token,
        Method::GET,
        &format!("/ssf/streams?stream_id={stream_id}"),
        None,
    )
    .await;
    assert_eq!(other_sees.0, 404);
    let (status, list) = ssf(&app, &other_token, Method::GET, "/ssf/streams", None).await;
    assert_eq!((status, list), (200, json!([])));
    let other_deletes = ssf(
        &app,
        &other_token,
        Method::DELETE,
        &format!("/ssf/streams?stream_id={stream_id}"),
        None,
    )
    .await;
    assert_eq!(other_deletes.0, 404);
    // A user's token, even an administrator's, manages no stream.
    let (user, pass) = admin();
    let by_user = app
        .client
        .get(app.at("/ssf/streams"))
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(by_user.status(), 403);
    // Only loopback http (allowed in tests) or https to public addresses.
    let (status, _) = ssf(&app, &token, Method::PATCH, "/ssf/streams", Some(json!({ "stream_id": stream_id, "delivery": { "endpoint_url": "https://192.168.1.1/ssf" } }))).await;
    assert_eq!(status, 400);

    // Paused: the event is kept; enabled again: it arrives.
    let (status, paused) = ssf(
        &app,
        &token,
        Method::POST,
        "/ssf/status",
        Some(json!({ "stream_id": stream_id, "status": "paused" })),
    )
    .await;
    assert_eq!((status, paused["status"].clone()), (200, json!("paused")));
    let browser = app
        .browser_for("admin", crate::helpers::ADMIN_PASSWORD)
        .await;
    let signed_out = browser
        .post(app.at("/logout"))
        .header("Origin", &app.url)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 303, "{}", location(&signed_out));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(receiver.received().await.is_empty());
    ssf(
        &app,
        &token,
        Method::POST,
        "/ssf/status",
        Some(json!({ "stream_id": stream_id, "status": "enabled" })),
    )
    .await;
    let got = receiver
        .wait_for("the kept session-revoked", |r| {
            r["claims"]["events"].get(SESSION_REVOKED).is_some()
        })
        .await;
    assert_eq!(
        got["claims"]["events"][SESSION_REVOKED]["reason_admin"]["en"],
        "The user signed out."
    );

    // The receiver application is deleted: its stream goes with it, nothing more is sent.
    let (status, _) = as_admin(
        &app,
        Method::DELETE,
        &format!("/api/server/v1/applications/{}", mine.id),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let before = receiver.received().await.len();
    let browser = app
        .browser_for("admin", crate::helpers::ADMIN_PASSWORD)
        .await;
    browser
        .post(app.at("/logout"))
        .header("Origin", &app.url)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(receiver.received().await.len(), before);
}

// ---------- Back-channel logout ----------

#[tokio::test]
async fn ending_an_impersonation_sends_a_logout_token_for_the_impersonated_sign_in_only() {
    let s = setup().await;
    let app = &s.app;
    let port = free_port();
    let demo = app
        .register(
            "Demo",
            json!({ "logout": { "backChannelLogoutUrl": format!("http://127.0.0.1:{port}/logout") } }),
            json!({ "advancedConfigurations": { "skipLoginConsent": true, "enableImpersonation": true } }),
        )
        .await;
    let receiver = Receiver::start(app, port, &demo.client_id, "whsec_unused", "ok");
    let oidc = app
        .get_as_admin(app.at(&format!(
            "/api/server/v1/applications/{}/inbound-protocols/oidc",
            demo.id
        )))
        .await;
    assert_eq!(
        oidc["logout"]["backChannelLogoutUrl"],
        receiver.url("/logout")
    );

    // The impersonator signs in to Demo as themselves first, then as the user.
    let browser = app.browser_for("support", "support-password-1").await;
    let own_code = app.code_for(&browser, &demo, &[]).await;
    let own = app.redeem(&demo, &own_code, None).await;
    let own_sid = claims(own["id_token"].as_str().unwrap())["sid"].clone();
    let (id_token, subject) = tokens(&s, &browser).await;
    assert_eq!(
        exchange(app, &s.shop, &subject, &id_token).await.status(),
        200
    );
    let code = app.code_for(&browser, &demo, &[]).await;
    let impersonated = app.redeem(&demo, &code, None).await;
    let id = claims(impersonated["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], s.target_id);
    let sid = id["sid"].clone();
    assert!(sid.is_string() && sid != own_sid, "{id}");

    end_session(app, &s.target_id).await;
    let logout = receiver
        .wait_for("a logout token", |r| r["channel"] == "logout")
        .await;
    assert_eq!(logout["valid"], true, "{logout}");
    let token = &logout["claims"];
    assert_eq!(token["sid"], sid);
    assert_eq!(token["sub"], s.target_id);
    assert_eq!(token["act"], json!({ "sub": s.impersonator_id }));
    assert_eq!(token["aud"], demo.client_id);
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Only that sign-in: the impersonator's own session at Demo goes on.
    assert_eq!(receiver.received().await.len(), 1);

    // The impersonator signs out: their own sign-in at Demo gets its logout token.
    let out = browser
        .post(app.at("/logout"))
        .header("Origin", &app.url)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let own_logout = receiver
        .wait_for("the ordinary sign-out's logout token", |r| {
            r["claims"]["sid"] == own_sid
        })
        .await;
    assert_eq!(own_logout["claims"]["sub"], s.impersonator_id);
    assert!(own_logout["claims"].get("act").is_none());
}

#[tokio::test]
async fn a_logout_endpoint_that_is_down_gets_its_token_when_it_is_back() {
    let app = spawn_app().await;
    let port = free_port();
    let demo = app
        .register(
            "Demo",
            json!({ "logout": { "backChannelLogoutUrl": format!("http://127.0.0.1:{port}/logout") } }),
            json!({ "advancedConfigurations": { "skipLoginConsent": true } }),
        )
        .await;
    let browser = app
        .browser_for("admin", crate::helpers::ADMIN_PASSWORD)
        .await;
    let code = app.code_for(&browser, &demo, &[]).await;
    let sid = claims(
        app.redeem(&demo, &code, None).await["id_token"]
            .as_str()
            .unwrap(),
    )["sid"]
        .clone();
    browser
        .post(app.at("/logout"))
        .header("Origin", &app.url)
        .send()
        .await
        .unwrap();
    // Nothing listens for a few seconds; then the receiver starts and the token arrives,
    // signed anew (it lives two minutes from each attempt).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let receiver = Receiver::start(&app, port, &demo.client_id, "whsec_unused", "ok");
    let logout = receiver
        .wait_for("the logout token", |r| r["channel"] == "logout")
        .await;
    assert_eq!(logout["valid"], true, "{logout}");
    assert_eq!(logout["claims"]["sid"], sid);
    let lifetime =
        logout["claims"]["exp"].as_i64().unwrap() - logout["claims"]["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 120);
}

// ---------- Together, and at scale ----------

#[tokio::test]
async fn one_impersonation_reaches_a_webhook_a_signals_receiver_and_the_application_though_all_were_down()
 {
    let s = setup().await;
    let app = &s.app;
    let (hook_port, signals_port, logout_port) = (free_port(), free_port(), free_port());
    let (_, secret) = subscribe(
        app,
        &format!("http://127.0.0.1:{hook_port}/webhook"),
        &["impersonation.started", "impersonation.ended"],
    )
    .await;
    let (risk, token) = ssf_receiver(app, "Risk engine").await;
    let (status, _) = ssf(
        app,
        &token,
        Method::POST,
        "/ssf/streams",
        Some(json!({
            "delivery": { "endpoint_url": format!("http://127.0.0.1:{signals_port}/ssf") },
            "events_requested": [SESSION_REVOKED],
        })),
    )
    .await;
    assert_eq!(status, 201);
    let demo = app
        .register(
            "Demo",
            json!({ "logout": { "backChannelLogoutUrl": format!("http://127.0.0.1:{logout_port}/logout") } }),
            json!({ "advancedConfigurations": { "skipLoginConsent": true, "enableImpersonation": true } }),
        )
        .await;

    // Start, sign in to Demo as the user, End: while every receiver is down.
    let browser = app.browser_for("support", "support-password-1").await;
    let (id_token, subject) = tokens(&s, &browser).await;
    assert_eq!(
        exchange(app, &s.shop, &subject, &id_token).await.status(),
        200
    );
    let code = app.code_for(&browser, &demo, &[]).await;
    let sid = claims(
        app.redeem(&demo, &code, None).await["id_token"]
            .as_str()
            .unwrap(),
    )["sid"]
        .clone();
    end_session(app, &s.target_id).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // They come back; each gets what it is owed, verified by its own verifier.
    let hooks = Receiver::start(app, hook_port, "", &secret, "ok");
    let signals = Receiver::start(app, signals_port, &risk.client_id, "whsec_unused", "ok");
    let logout = Receiver::start(app, logout_port, &demo.client_id, "whsec_unused", "ok");
    let started = hooks
        .wait_for("impersonation.started", |r| {
            r["type"] == "impersonation.started"
        })
        .await;
    let ended = hooks
        .wait_for("impersonation.ended", |r| {
            r["type"] == "impersonation.ended"
        })
        .await;
    assert_eq!(ended["data"]["impersonationSessionId"], sid);
    assert_eq!(started["data"]["impersonationSessionId"], sid);
    let revoked = signals
        .wait_for("session-revoked", |r| {
            r["claims"]["events"].get(SESSION_REVOKED).is_some()
        })
        .await;
    assert_eq!(revoked["claims"]["sub_id"]["session"]["id"], sid);
    assert_eq!(revoked["claims"]["sub_id"]["user"]["sub"], s.target_id);
    let signed_out = logout
        .wait_for("the logout token", |r| r["channel"] == "logout")
        .await;
    assert_eq!(signed_out["claims"]["sid"], sid);
    assert_eq!(signed_out["claims"]["act"]["sub"], s.impersonator_id);
    for receiver in [&hooks, &signals, &logout] {
        assert!(receiver.received().await.iter().all(|r| r["valid"] == true));
    }
}

#[tokio::test]
async fn two_instances_on_one_database_send_each_event_once() {
    let data = tempfile::TempDir::new().unwrap();
    let shared =
        |c: &mut server::Config| c.public_url = Some("http://idp.scale-out.test".to_owned());
    let first = crate::helpers::spawn_app_in(data.path(), shared)
        .await
        .unwrap();
    let second = crate::helpers::spawn_app_in(data.path(), shared)
        .await
        .unwrap();
    let port = free_port();
    let (_, secret) = subscribe(
        &first,
        &format!("http://127.0.0.1:{port}/webhook"),
        &["signing-key.rotated"],
    )
    .await;
    let receiver = Receiver::start(&first, port, "", &secret, "ok");
    let mut kids = std::collections::HashSet::new();
    for i in 0..10 {
        let instance = if i % 2 == 0 { &first } else { &second };
        let rotated = rotate_keys(instance).await;
        kids.insert(rotated["activeKid"].as_str().unwrap().to_owned());
    }
    for _ in 0..200 {
        if receiver.received().await.len() >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Both workers ran all along: give a duplicate time to show.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = receiver.received().await;
    assert_eq!(got.len(), 10, "each event once: {got:#?}");
    let ids: std::collections::HashSet<String> = got.iter().map(|r| r["id"].to_string()).collect();
    assert_eq!(ids.len(), 10);
    let delivered: std::collections::HashSet<String> = got
        .iter()
        .map(|r| r["data"]["kid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(delivered, kids);
}

#[tokio::test]
async fn events_and_finished_deliveries_older_than_thirty_days_are_pruned_the_rest_stay() {
    use identity::entities::{delivery, event};
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, sea_query::Expr};
    let app = spawn_app().await;
    let (port, id, secret) = rotation_hook(&app).await;
    let _receiver = Receiver::start(&app, port, "", &secret, "ok");
    rotate_keys(&app).await;
    wait_for_log(&app, &id, |d| d["status"] == "delivered").await;
    // That one is made old; a second event, not yet fanned out, stays whatever happens.
    let old = identity::clock::now() - identity::events::outbox::RETENTION_SECS - 60;
    event::Entity::update_many()
        .col_expr(event::Column::DispatchedAt, Expr::value(old))
        .exec(&app.db)
        .await
        .unwrap();
    delivery::Entity::update_many()
        .col_expr(delivery::Column::DeliveredAt, Expr::value(old))
        .exec(&app.db)
        .await
        .unwrap();
    let pruned = identity::events::outbox::prune(&app.db).await.unwrap();
    assert!(pruned >= 2, "{pruned}");
    assert_eq!(delivery::Entity::find().count(&app.db).await.unwrap(), 0);
    assert_eq!(
        event::Entity::find()
            .filter(event::Column::DispatchedAt.lt(old + 1))
            .count(&app.db)
            .await
            .unwrap(),
        0
    );
    assert!(delivery_log(&app, &id).await.is_empty());
}

#[tokio::test]
async fn requests_their_decisions_a_lock_and_a_disable_reach_a_webhook_with_who_and_why() {
    let s = setup().await;
    let app = &s.app;
    app.set_impersonation("/approval", json!("user")).await;
    let port = free_port();
    let (_, secret) = subscribe(
        app,
        &format!("http://127.0.0.1:{port}/webhook"),
        &[
            "impersonation.requested",
            "impersonation.approved",
            "impersonation.denied",
            "user.locked",
            "user.disabled",
        ],
    )
    .await;
    let receiver = Receiver::start(app, port, "", &secret, "ok");
    let other = app.create_user("client2", "client2-password-1").await;
    let call = |who: (&'static str, &'static str), path: String, body: Value| async move {
        send(
            app,
            Auth::Basic(who.0, who.1),
            Method::POST,
            &path,
            Some(body),
        )
        .await
    };
    let support = ("support", "support-password-1");
    let requests = "/api/server/v1/impersonation-requests".to_owned();
    let (status, approved) = call(
        support,
        requests.clone(),
        json!({ "target": s.target_id, "reason": "Order 4711 is stuck", "ticket": "SUP-1" }),
    )
    .await;
    assert_eq!(status, 201, "{approved}");
    let (status, _) = call(
        ("customer", "customer-password-1"),
        format!(
            "/api/users/v1/me/impersonation-requests/{}/approve",
            approved["id"].as_str().unwrap()
        ),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, denied) = call(
        support,
        requests,
        json!({ "target": other, "reason": "Invoice question", "ticket": "SUP-2" }),
    )
    .await;
    assert_eq!(status, 201, "{denied}");
    let (status, _) = call(
        ("client2", "client2-password-1"),
        format!(
            "/api/users/v1/me/impersonation-requests/{}/deny",
            denied["id"].as_str().unwrap()
        ),
        json!({ "comment": "Not now" }),
    )
    .await;
    assert_eq!(status, 200);

    let requested = receiver
        .wait_for("impersonation.requested", |r| {
            r["type"] == "impersonation.requested" && r["data"]["ticket"] == "SUP-1"
        })
        .await;
    assert_eq!(requested["data"]["impersonator"]["username"], "support");
    assert_eq!(requested["data"]["user"]["username"], "customer");
    assert_eq!(requested["data"]["reason"], "Order 4711 is stuck");
    let yes = receiver
        .wait_for("impersonation.approved", |r| {
            r["type"] == "impersonation.approved"
        })
        .await;
    assert_eq!(yes["data"]["requestId"], approved["id"]);
    assert_eq!(yes["data"]["decidedBy"]["username"], "customer");
    let no = receiver
        .wait_for("impersonation.denied", |r| {
            r["type"] == "impersonation.denied"
        })
        .await;
    assert_eq!(no["data"]["requestId"], denied["id"]);
    assert_eq!(no["data"]["comment"], "Not now");
    assert_eq!(no["data"]["user"]["username"], "client2");

    // Five wrong passwords lock; an administrator disables.
    for _ in 0..5 {
        app.sign_in("client2", "wrong-password").await;
    }
    let locked = receiver
        .wait_for("user.locked", |r| r["type"] == "user.locked")
        .await;
    assert_eq!(locked["data"]["user"]["username"], "client2");
    assert_eq!(locked["data"]["cause"], "failed-sign-ins");
    let (status, body) = scim_replace(app, &s.target_id, "active", json!(false)).await;
    assert_eq!(status, 200, "{body}");
    let off = receiver
        .wait_for("user.disabled", |r| r["type"] == "user.disabled")
        .await;
    assert_eq!(off["data"]["user"]["id"], s.target_id);
    assert!(off["data"]["by"]["id"].is_string());
    assert!(receiver.received().await.iter().all(|r| r["valid"] == true));
}

#[tokio::test]
async fn a_delivery_that_keeps_failing_for_a_day_is_marked_failed() {
    use identity::entities::delivery;
    use sea_orm::{EntityTrait, sea_query::Expr};
    let app = spawn_app().await;
    let (_, id, _) = rotation_hook(&app).await;
    rotate_keys(&app).await;
    wait_for_log(&app, &id, |d| d["attempts"].as_i64() >= Some(1)).await;
    // A day has passed since the delivery was made: the next failure is the last.
    delivery::Entity::update_many()
        .col_expr(
            delivery::Column::CreatedAt,
            Expr::value(identity::clock::now() - identity::events::outbox::GIVE_UP_AFTER_SECS - 1),
        )
        .exec(&app.db)
        .await
        .unwrap();
    let failed = wait_for_log(&app, &id, |d| d["status"] == "failed").await;
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .starts_with("could not connect"),
        "{failed}"
    );
    let attempts = failed["attempts"].as_i64().unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = delivery_log(&app, &id).await;
    assert_eq!(
        after[0]["attempts"].as_i64().unwrap(),
        attempts,
        "no attempt after giving up"
    );
}
