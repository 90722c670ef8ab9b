//! A demo business application for the identity server: a real OpenID Connect relying
//! party (confidential client, authorization code with PKCE, over HTTP). It shows who is
//! signed in and, when the access token carries `act`, who is really acting; and it can
//! change the signed-in user's profile through `/scim2/Me` with its access token (it asks
//! for the self-service scope `internal_login`). Impersonated, the server refuses that
//! change and audits it as a failed `resource-modification-via-impersonation`.
//!
//! It implements OpenID Connect Back-Channel Logout 1.0: the identity server posts a logout
//! token to `/backchannel-logout` when the session it signed in through ends (an
//! administrator ends an impersonation, the user signs out); the token is verified (its
//! signature through the published keys, issuer, audience, age, event) and every session
//! of ours with its `sid` ends, so the next request shows "signed out".
//!
//! `demo-app register` registers it with the server (discoverable, enabled for
//! impersonation) and prints the variables to start it with; `demo-app` runs it.

use anyhow::Context;
use axum::{
    Form, Router,
    extract::{Query, State},
    http::{HeaderMap, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use clap::{Parser, Subcommand};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Parser)]
#[command(about = "A demo business application for the identity server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The identity server's public URL.
    #[arg(
        long,
        env = "DEMO_IDP_URL",
        default_value = "http://127.0.0.1:3000",
        global = true
    )]
    idp_url: String,
    /// Where this application listens.
    #[arg(
        long,
        env = "DEMO_ADDR",
        default_value = "127.0.0.1:4000",
        global = true
    )]
    addr: String,
    /// This application's public URL.
    #[arg(
        long,
        env = "DEMO_URL",
        default_value = "http://127.0.0.1:4000",
        global = true
    )]
    url: String,
    #[arg(long, env = "DEMO_CLIENT_ID", default_value = "")]
    client_id: String,
    #[arg(long, env = "DEMO_CLIENT_SECRET", default_value = "")]
    client_secret: String,
}

#[derive(Subcommand)]
enum Command {
    /// Registers the application through the management API (HTTP Basic as an
    /// administrator) and prints DEMO_CLIENT_ID and DEMO_CLIENT_SECRET.
    Register {
        #[arg(long, env = "DEMO_ADMIN_USER", default_value = "admin")]
        admin_user: String,
        #[arg(long, env = "DEMO_ADMIN_PASSWORD")]
        admin_password: String,
        #[arg(long, default_value = "Demo business app")]
        name: String,
        /// Registers it not enabled for impersonation: an impersonated browser that
        /// launches it meets the identity server's refusal instead of signing in.
        #[arg(long)]
        without_impersonation: bool,
    },
}

/// A signed-in browser.
struct Signed {
    name: String,
    access_token: String,
    /// The identity server's session this sign-in came through (the ID token's `sid`).
    sid: Option<String>,
    /// Set when the identity server said the session ended (back-channel logout).
    signed_out: bool,
}

/// A sign-in under way: its PKCE verifier and nonce, by `state`.
struct Pending {
    verifier: PkceCodeVerifier,
    nonce: Nonce,
}

struct Demo {
    metadata: CoreProviderMetadata,
    idp_url: String,
    url: String,
    client_id: String,
    client_secret: String,
    http: reqwest::Client,
    pending: Mutex<HashMap<String, Pending>>,
    sessions: Mutex<HashMap<String, Signed>>,
}

type Shared = State<Arc<Demo>>;

const COOKIE: &str = "demo_session";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let cli = Cli::parse();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    if let Some(Command::Register {
        admin_user,
        admin_password,
        name,
        without_impersonation,
    }) = &cli.command
    {
        let registration = Registration {
            user: admin_user,
            password: admin_password,
            name,
            impersonation: !without_impersonation,
        };
        let (id, secret) = register(&http, &cli, &registration).await?;
        println!("DEMO_CLIENT_ID={id}\nDEMO_CLIENT_SECRET={secret}");
        return Ok(());
    }
    anyhow::ensure!(
        !cli.client_id.is_empty() && !cli.client_secret.is_empty(),
        "set DEMO_CLIENT_ID and DEMO_CLIENT_SECRET (see `demo-app register`)"
    );
    let issuer = IssuerUrl::new(format!("{}/oauth2/token", cli.idp_url))?;
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .context("discovering the identity server")?;
    let demo = Arc::new(Demo {
        metadata,
        idp_url: cli.idp_url.clone(),
        url: cli.url.clone(),
        client_id: cli.client_id.clone(),
        client_secret: cli.client_secret.clone(),
        http,
        pending: Mutex::default(),
        sessions: Mutex::default(),
    });
    let app = Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/profile", post(change_profile))
        .route("/backchannel-logout", post(backchannel_logout))
        .with_state(demo);
    let listener = tokio::net::TcpListener::bind(&cli.addr).await?;
    tracing::info!("demo app at {}", cli.url);
    axum::serve(listener, app).await?;
    Ok(())
}

/// What `register` asks the identity server for.
struct Registration<'a> {
    user: &'a str,
    password: &'a str,
    name: &'a str,
    impersonation: bool,
}

/// Registers the application and returns its client id and secret.
async fn register(
    http: &reqwest::Client,
    cli: &Cli,
    registration: &Registration<'_>,
) -> anyhow::Result<(String, String)> {
    let (user, password) = (registration.user, Some(registration.password));
    let created = http
        .post(format!("{}/api/server/v1/applications", cli.idp_url))
        .basic_auth(user, password)
        .json(&json!({
            "name": registration.name,
            "description": "Shows who is signed in, and who is really acting.",
            "accessUrl": format!("{}/", cli.url),
            "isDiscoverable": true,
            "advancedConfigurations": {
                "enableImpersonation": registration.impersonation,
                "skipLoginConsent": true,
            },
            "inboundProtocolConfiguration": { "oidc": {
                "grantTypes": ["authorization_code"],
                "callbackURLs": [format!("{}/callback", cli.url)],
                "logout": { "backChannelLogoutUrl": format!("{}/backchannel-logout", cli.url) },
            }},
        }))
        .send()
        .await?;
    anyhow::ensure!(
        created.status() == 201,
        "registering failed: {}",
        created.text().await?
    );
    let location = created
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .context("no Location")?
        .to_owned();
    let oidc: Value = http
        .get(format!("{}{location}/inbound-protocols/oidc", cli.idp_url))
        .basic_auth(user, password)
        .send()
        .await?
        .json()
        .await?;
    Ok((
        oidc["clientId"].as_str().unwrap_or_default().to_owned(),
        oidc["clientSecret"].as_str().unwrap_or_default().to_owned(),
    ))
}

fn page(body: &str) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Demo business app</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}}\
         .act{{background:#fff8e6;border:1px solid #f0c36d;padding:.5rem .8rem;border-radius:6px}}</style>\
         </head><body><h1>Demo business app</h1>{body}</body></html>"
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn session_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The access token's introspection (confidential client): `active`, `act`,
/// `impersonation_mode`.
async fn introspect(demo: &Demo, token: &str) -> anyhow::Result<Value> {
    Ok(demo
        .http
        .post(format!("{}/oauth2/introspect", demo.idp_url))
        .basic_auth(&demo.client_id, Some(&demo.client_secret))
        .form(&[("token", token)])
        .send()
        .await?
        .json()
        .await?)
}

async fn home(State(demo): Shared, headers: HeaderMap) -> Response {
    let signed = session_of(&headers).and_then(|id| {
        demo.sessions
            .lock()
            .unwrap()
            .get(&id)
            .map(|s| (s.name.clone(), s.access_token.clone(), s.signed_out))
    });
    // Launched from My Account (or opened) without a session: single sign-on right away.
    let Some((name, token, signed_out)) = signed else {
        return Redirect::to("/login").into_response();
    };
    if signed_out {
        return page(&format!(
            "<p role=\"status\" id=\"signed-out\">{} was signed out: the identity server \
             ended the session.</p><p><a href=\"/login\">Sign in again</a></p>",
            escape(&name)
        ))
        .into_response();
    }
    let info = introspect(&demo, &token).await.unwrap_or_default();
    let active = info["active"].as_bool().unwrap_or(false);
    // A read-only impersonation (`impersonation_mode`) may look but not change.
    let read_only = info["impersonation_mode"] == "read-only";
    let acting = info["act"]["sub"].as_str().map(|sub| {
        format!(
            "<p class=\"act\" role=\"status\">Impersonated by <strong>{}</strong>{}</p>",
            escape(sub),
            if read_only { ", read-only" } else { "" }
        )
    });
    page(&format!(
        "<p>Signed in as <strong id=\"user\">{}</strong>.</p>{}<p>Access token: <span id=\"token-state\">{}</span></p>\
         <form method=\"post\" action=\"/profile\"><label for=\"given\">Given name</label> \
         <input id=\"given\" name=\"given_name\" required{disabled}> <button type=\"submit\"{disabled}>Change my name</button></form>",
        escape(&name),
        acting.unwrap_or_default(),
        if active { "active" } else { "no longer active" },
        disabled = if read_only { " disabled" } else { "" },
    ))
    .into_response()
}

async fn login(State(demo): Shared) -> Response {
    let client = CoreClient::from_provider_metadata(
        demo.metadata.clone(),
        ClientId::new(demo.client_id.clone()),
        Some(ClientSecret::new(demo.client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(format!("{}/callback", demo.url)).expect("a URL"));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("internal_login".into()))
        .set_pkce_challenge(challenge)
        .url();
    demo.pending
        .lock()
        .unwrap()
        .insert(state.secret().clone(), Pending { verifier, nonce });
    Redirect::to(url.as_str()).into_response()
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error_description: Option<String>,
}

async fn callback(State(demo): Shared, Query(answer): Query<Callback>) -> Response {
    if let Some(error) = answer.error_description {
        return page(&format!("<p role=\"alert\">{}</p>", escape(&error))).into_response();
    }
    let pending = answer
        .state
        .and_then(|s| demo.pending.lock().unwrap().remove(&s));
    let (Some(code), Some(pending)) = (answer.code, pending) else {
        return page("<p role=\"alert\">This sign-in was not started here.</p>").into_response();
    };
    match finish_sign_in(&demo, code, pending).await {
        Ok(signed) => {
            let id = format!("{:032x}", rand::random::<u128>());
            demo.sessions.lock().unwrap().insert(id.clone(), signed);
            (
                [(
                    header::SET_COOKIE,
                    format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax"),
                )],
                Redirect::to("/"),
            )
                .into_response()
        }
        Err(error) => page(&format!(
            "<p role=\"alert\">{}</p>",
            escape(&error.to_string())
        ))
        .into_response(),
    }
}

/// Redeems the code (with the PKCE verifier) and validates the ID token (signature through
/// the published keys, issuer, audience, expiry, nonce).
async fn finish_sign_in(demo: &Demo, code: String, pending: Pending) -> anyhow::Result<Signed> {
    let client = CoreClient::from_provider_metadata(
        demo.metadata.clone(),
        ClientId::new(demo.client_id.clone()),
        Some(ClientSecret::new(demo.client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(format!("{}/callback", demo.url))?);
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))?
        .set_pkce_verifier(pending.verifier)
        .request_async(&demo.http)
        .await
        .context("redeeming the code")?;
    let id_token = tokens.id_token().context("no ID token")?;
    let claims = id_token.claims(&client.id_token_verifier(), &pending.nonce)?;
    let name = claims
        .preferred_username()
        .map(|n| n.as_str().to_owned())
        .unwrap_or_else(|| claims.subject().as_str().to_owned());
    // `sid` is beyond the standard claims the library reads: taken from the payload of
    // the ID token verified just above.
    let sid = {
        use base64::Engine;
        let payload = id_token.to_string();
        payload
            .split('.')
            .nth(1)
            .and_then(|p| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(p)
                    .ok()
            })
            .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
            .and_then(|c| c["sid"].as_str().map(str::to_owned))
    };
    Ok(Signed {
        name,
        access_token: tokens.access_token().secret().clone(),
        sid,
        signed_out: false,
    })
}

/// The logout token's event (OpenID Connect Back-Channel Logout 1.0 §2.4).
const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

#[derive(Deserialize)]
struct LogoutForm {
    logout_token: String,
}

/// `POST /backchannel-logout`: the identity server says a session ended. The token is
/// verified; the sessions with its `sid` are signed out. 200 when done, 400 otherwise.
async fn backchannel_logout(State(demo): Shared, Form(form): Form<LogoutForm>) -> Response {
    let answer = match verify_logout_token(&demo, &form.logout_token).await {
        Ok(sid) => {
            let mut sessions = demo.sessions.lock().unwrap();
            let mut ended = 0;
            for signed in sessions.values_mut() {
                if signed.sid.as_deref() == Some(sid.as_str()) {
                    signed.signed_out = true;
                    ended += 1;
                }
            }
            tracing::info!(%sid, ended, "signed out by the identity server");
            axum::http::StatusCode::OK
        }
        Err(error) => {
            tracing::warn!("refused a logout token: {error:#}");
            axum::http::StatusCode::BAD_REQUEST
        }
    };
    (answer, [(header::CACHE_CONTROL, "no-store")]).into_response()
}

/// Checks a logout token as §2.6 asks (signature by a published key, `typ`, `iss`, `aud`,
/// `iat`/`exp`, the event, no `nonce`) and returns its `sid`.
async fn verify_logout_token(demo: &Demo, token: &str) -> anyhow::Result<String> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use openidconnect::JsonWebKey;
    let mut parts = token.split('.');
    let (Some(head), Some(body), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        anyhow::bail!("not a signed JWT");
    };
    let header: Value = serde_json::from_slice(&B64.decode(head)?)?;
    // Signed like our ID tokens, with what the application chose (Back-Channel Logout §2.4).
    let algorithm = match header["alg"].as_str() {
        Some("RS256") => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Some("ES256") => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        Some("EdDSA") => CoreJwsSigningAlgorithm::EdDsa,
        _ => anyhow::bail!("unexpected algorithm"),
    };
    anyhow::ensure!(header["typ"] == "logout+jwt", "not a logout token");
    let keys = CoreJsonWebKeySet::fetch_async(demo.metadata.jwks_uri(), &demo.http).await?;
    let kid = header["kid"].as_str().unwrap_or_default();
    let key = keys
        .keys()
        .iter()
        .find(|k| k.key_id().map(|id| id.as_str()) == Some(kid))
        .context("signed by no published key")?;
    key.verify_signature(
        &algorithm,
        format!("{head}.{body}").as_bytes(),
        &B64.decode(signature)?,
    )
    .map_err(|e| anyhow::anyhow!("bad signature: {e}"))?;
    let claims: Value = serde_json::from_slice(&B64.decode(body)?)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    anyhow::ensure!(
        claims["iss"] == demo.metadata.issuer().as_str(),
        "another issuer"
    );
    let audience_ok = match &claims["aud"] {
        Value::String(aud) => aud == &demo.client_id,
        Value::Array(auds) => auds.iter().any(|a| a == demo.client_id.as_str()),
        _ => false,
    };
    anyhow::ensure!(audience_ok, "not for this application");
    anyhow::ensure!(
        claims["exp"].as_i64().is_some_and(|exp| exp > now - 30)
            && claims["iat"].as_i64().is_some_and(|iat| iat < now + 30),
        "expired"
    );
    anyhow::ensure!(
        claims["events"][LOGOUT_EVENT].is_object(),
        "no back-channel logout event"
    );
    anyhow::ensure!(claims.get("nonce").is_none(), "a nonce is forbidden");
    claims["sid"].as_str().map(str::to_owned).context("no sid")
}

#[derive(Deserialize)]
struct ProfileForm {
    given_name: String,
}

async fn change_profile(
    State(demo): Shared,
    headers: HeaderMap,
    Form(form): Form<ProfileForm>,
) -> Response {
    let token = session_of(&headers).and_then(|id| {
        demo.sessions
            .lock()
            .unwrap()
            .get(&id)
            .map(|s| s.access_token.clone())
    });
    let Some(token) = token else {
        return Redirect::to("/").into_response();
    };
    let patched = demo
        .http
        .patch(format!("{}/scim2/Me", demo.idp_url))
        .bearer_auth(token)
        .json(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{ "op": "replace", "path": "name.givenName", "value": form.given_name }],
        }))
        .send()
        .await;
    let message = match patched {
        Ok(r) if r.status().is_success() => "Your profile was changed.".to_owned(),
        Ok(r) => format!("The identity server refused the change ({}).", r.status()),
        Err(e) => format!("The identity server could not be reached: {e}"),
    };
    page(&format!(
        "<p role=\"status\">{}</p><p><a href=\"/\">Back</a></p>",
        escape(&message)
    ))
    .into_response()
}
