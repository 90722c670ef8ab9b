//! The test harness: `spawn_app()` starts the server in-process on port 0 with a fresh
//! SQLite database in a temporary data folder, and gives back a client for it.

use identity::DatabaseConnection;
use reqwest::{Client, Response, redirect::Policy};
use server::{Application, Config, config::Secret};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const ADMIN_PASSWORD: &str = "test-Admin-password-1";

pub struct TestApp {
    /// The public URL (issuer, links).
    pub url: String,
    /// Where the server really listens: `http://127.0.0.1:<port>`.
    pub local_url: String,
    pub db: DatabaseConnection,
    /// A client with a cookie store that does not follow redirects.
    pub client: Client,
    /// The data folder (mail files land in its `mail/`).
    pub data_dir: std::path::PathBuf,
    /// The PostgreSQL database's URL when the suite runs on PostgreSQL.
    pub database_url: Option<String>,
    /// Where `/metrics` answers, when the configuration asked for it.
    pub metrics_url: Option<String>,
    _data: Option<TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// A server with the default test configuration.
pub async fn spawn_app() -> TestApp {
    let data = TempDir::new().expect("temporary data folder");
    let path = data.path().to_owned();
    let mut app = spawn_app_in(&path, |_| {})
        .await
        .expect("the server starts");
    app._data = Some(data);
    app
}

/// A test configuration for `data_dir`.
pub fn test_config(data_dir: &Path) -> Config {
    Config {
        data_dir: data_dir.to_owned(),
        addr: "127.0.0.1:0".parse().unwrap(),
        admin_password: Some(Secret::new(ADMIN_PASSWORD)),
        site_dir: data_dir.join("site"),
        // Event receivers in the tests listen on http://127.0.0.1; retries come quickly.
        outbound: identity::events::webhooks::Outbound {
            allow_http_loopback: true,
            allow_private_networks: false,
        },
        delivery_retry_secs: 1,
        ..Config::default()
    }
}

/// A server on an existing data folder (kept by the caller), configured by `adjust`.
pub async fn spawn_app_in(
    data_dir: &Path,
    adjust: impl FnOnce(&mut Config),
) -> anyhow::Result<TestApp> {
    let mut config = test_config(data_dir);
    if let Some(url) = postgres_database_for(data_dir).await {
        config.database_url = Some(Secret::new(url));
    }
    adjust(&mut config);
    let database_url = config
        .database_url
        .as_ref()
        .map(|url| url.expose().to_owned());
    let application = Application::build(config).await?;
    let url = application.public_url().to_owned();
    let local_url = format!("http://{}", application.addr());
    let metrics_url = application
        .metrics_addr()
        .map(|addr| format!("http://{addr}/metrics"));
    let db = application.state().db.clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(application.run_until_stopped(async {
        let _ = stopped.await;
    }));
    Ok(TestApp {
        url,
        local_url,
        data_dir: data_dir.to_owned(),
        database_url,
        metrics_url,
        db,
        client: client(),
        _data: None,
        stop: Some(stop),
        task: Some(task),
    })
}

/// With `IDP_TEST_POSTGRES_URL` set (scripts/test sets it for a second run of this suite),
/// every data folder gets its own PostgreSQL database, created on first use, so that a
/// restart on the same folder finds the same database.
async fn postgres_database_for(data_dir: &Path) -> Option<String> {
    use sea_orm::{ConnectionTrait, Database};
    let admin_url = std::env::var("IDP_TEST_POSTGRES_URL").ok()?;
    let digest = {
        use sha2::Digest;
        sha2::Sha256::digest(data_dir.to_string_lossy().as_bytes())
    };
    let name: String = format!("t_{digest:x}").chars().take(26).collect();
    let admin = Database::connect(&admin_url)
        .await
        .expect("the test PostgreSQL server");
    let exists = admin
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT 1 AS one FROM pg_database WHERE datname = '{name}'"),
        ))
        .await
        .unwrap()
        .is_some();
    if !exists {
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
    }
    admin.close().await.unwrap();
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(&admin_url);
    Some(format!("{base}/{name}"))
}

/// A fresh browser-like client: cookie store, no automatic redirects.
pub fn client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

impl TestApp {
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.local_url)
    }

    /// Posts the login form as a browser on this origin would.
    pub async fn sign_in(&self, username: &str, password: &str) -> Response {
        self.sign_in_with(&self.client, username, password, "/console")
            .await
    }

    pub async fn sign_in_with(
        &self,
        client: &Client,
        username: &str,
        password: &str,
        return_to: &str,
    ) -> Response {
        client
            .post(self.at("/login"))
            .header("Origin", &self.url)
            .form(&[
                ("username", username),
                ("password", password),
                ("return_to", return_to),
            ])
            .send()
            .await
            .expect("request sent")
    }

    /// Stops the server and waits until it has shut down.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        self.db.clone().close().await.unwrap();
    }
}

/// The `Location` header of a response.
pub fn location(response: &Response) -> &str {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// HTTP Basic credentials of the bootstrap administrator.
pub fn admin() -> (&'static str, &'static str) {
    ("admin", ADMIN_PASSWORD)
}

/// A registered application, as its developer knows it.
#[derive(Clone, Debug)]
pub struct Registered {
    /// The application's id in the management API.
    pub id: String,
    pub client_id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
}

pub const CALLBACK: &str = "https://app.example/callback";

impl TestApp {
    /// Registers an application through the management API, WSO2 style, and reads its
    /// client id and secret. `oidc` is merged into a default confidential OIDC config.
    pub async fn register(
        &self,
        name: &str,
        oidc: serde_json::Value,
        top: serde_json::Value,
    ) -> Registered {
        let mut config = serde_json::json!({
            "grantTypes": ["authorization_code", "refresh_token"],
            "callbackURLs": [CALLBACK],
            "publicClient": false,
        });
        merge(&mut config, oidc);
        let mut body = serde_json::json!({
            "name": name,
            "inboundProtocolConfiguration": { "oidc": config },
        });
        merge(&mut body, top);
        let (user, pass) = admin();
        let response = self
            .client
            .post(self.at("/api/server/v1/applications"))
            .basic_auth(user, Some(pass))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        let location = location(&response).to_owned();
        let id = location.rsplit('/').next().unwrap().to_owned();
        let oidc = self
            .get_as_admin(self.at(&format!("{location}/inbound-protocols/oidc")))
            .await;
        Registered {
            id,
            client_id: oidc["clientId"].as_str().unwrap().to_owned(),
            secret: oidc["clientSecret"].as_str().map(str::to_owned),
            redirect_uri: CALLBACK.to_owned(),
        }
    }

    /// Creates a user through SCIM and returns its id.
    pub async fn create_user(&self, username: &str, password: &str) -> String {
        let (user, pass) = admin();
        let response = self
            .client
            .post(self.at("/scim2/Users"))
            .basic_auth(user, Some(pass))
            .json(&serde_json::json!({
                "userName": username,
                "password": password,
                "name": { "givenName": "Given", "familyName": username },
                "emails": [{ "value": format!("{username}@example.org"), "primary": true }],
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        let body: serde_json::Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().to_owned()
    }

    /// The audit trail's events of `action` (up to 500), newest first.
    pub async fn audit_events(&self, action: &str) -> Vec<serde_json::Value> {
        let page = self
            .get_as_admin(self.at(&format!(
                "/api/server/v1/audit-events?action={action}&limit=500"
            )))
            .await;
        page["events"].as_array().unwrap().clone()
    }

    /// The id of the built-in management API resource (`system:management`).
    pub async fn management_api_id(&self) -> String {
        let listed = self
            .get_as_admin(
                self.at("/api/server/v1/api-resources?filter=identifier%20eq%20system:management"),
            )
            .await;
        listed["apiResources"][0]["id"].as_str().unwrap().to_owned()
    }

    /// How many refusals went unrecorded (`/health/ready`'s `rejections_not_recorded`).
    pub async fn rejections_not_recorded(&self) -> u64 {
        let ready = self.get_json("/health/ready").await;
        ready["rejections_not_recorded"].as_u64().unwrap()
    }

    /// Revokes an access token (RFC 7009, with its type hint) as the client `by`; the
    /// status.
    pub async fn revoke_access_token(&self, by: &Registered, token: &str) -> u16 {
        self.client
            .post(self.at("/oauth2/revoke"))
            .basic_auth(&by.client_id, by.secret.as_deref())
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Rotates the signing keys as the bootstrap administrator; the answer (asserting 200).
    pub async fn rotate_keys(&self) -> serde_json::Value {
        let (user, pass) = admin();
        let response = self
            .client
            .post(self.at("/api/server/v1/keys/rotate"))
            .basic_auth(user, Some(pass))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// `GET path` without credentials, as JSON (discovery, the JWKS, health).
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.client
            .get(self.at(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `GET url` as the bootstrap administrator (HTTP Basic), as JSON.
    pub async fn get_as_admin(&self, url: impl reqwest::IntoUrl) -> serde_json::Value {
        let (user, pass) = admin();
        self.client
            .get(url)
            .basic_auth(user, Some(pass))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Sets one impersonation setting (`PATCH /api/server/v1/configs/impersonation` with
    /// one REPLACE of `path`) as the bootstrap administrator; the answer.
    pub async fn set_impersonation(&self, path: &str, value: serde_json::Value) -> Response {
        let (user, pass) = admin();
        self.client
            .patch(self.at("/api/server/v1/configs/impersonation"))
            .basic_auth(user, Some(pass))
            .json(&serde_json::json!([{ "operation": "REPLACE", "path": path, "value": value }]))
            .send()
            .await
            .unwrap()
    }

    /// The status of `method path` called with the Bearer `token`.
    pub async fn bearer_status(&self, method: reqwest::Method, path: &str, token: &str) -> u16 {
        self.client
            .request(method, self.at(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// A browser signed in as `username`.
    pub async fn browser_for(&self, username: &str, password: &str) -> Client {
        let browser = client();
        let response = self
            .sign_in_with(&browser, username, password, "/console")
            .await;
        assert_eq!(location(&response), "/console", "sign-in of {username}");
        browser
    }

    /// Runs `/oauth2/authorize` in `browser` (already signed in) with `params`, approving
    /// consent if asked, and returns the final redirect to the client.
    pub async fn authorize(&self, browser: &Client, params: &[(&str, &str)]) -> Response {
        let response = browser
            .get(self.at("/oauth2/authorize"))
            .query(params)
            .send()
            .await
            .unwrap();
        let target = location(&response).to_owned();
        if let Some(query) = target.strip_prefix("/consent?request=") {
            let handle = form_urlencoded::parse(format!("request={query}").as_bytes())
                .next()
                .unwrap()
                .1
                .into_owned();
            return browser
                .post(self.at("/consent"))
                .header("Origin", &self.url)
                .form(&[("request", handle.as_str()), ("decision", "approve")])
                .send()
                .await
                .unwrap();
        }
        response
    }

    /// The code of a successful authorization (query response mode).
    pub async fn code_for(
        &self,
        browser: &Client,
        app: &Registered,
        extra: &[(&str, &str)],
    ) -> String {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", app.redirect_uri.as_str()),
            ("scope", "openid profile email"),
            ("state", "st-1"),
            ("nonce", "n-1"),
        ];
        // A parameter in `extra` replaces the default of the same name.
        params.retain(|(name, _)| !extra.iter().any(|(n, _)| n == name));
        params.extend_from_slice(extra);
        let response = self.authorize(browser, &params).await;
        let target = location(&response).to_owned();
        query_param(&target, "code").unwrap_or_else(|| panic!("no code in {target}"))
    }

    /// Posts to the token endpoint with the application's secret (Basic).
    pub async fn token(&self, app: &Registered, form: &[(&str, &str)]) -> Response {
        let mut request = self.client.post(self.at("/oauth2/token")).form(form);
        if let Some(secret) = &app.secret {
            request = request.basic_auth(&app.client_id, Some(secret));
        }
        request.send().await.unwrap()
    }

    /// Redeems a code for tokens and returns the JSON body (asserting 200).
    pub async fn redeem(
        &self,
        app: &Registered,
        code: &str,
        verifier: Option<&str>,
    ) -> serde_json::Value {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", app.redirect_uri.as_str()),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        let response = self.token(app, &form).await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        response.json().await.unwrap()
    }

    /// Redeems a public client's code with its PKCE verifier (no secret) and returns the
    /// JSON body (asserting 200).
    pub async fn redeem_public(
        &self,
        app: &Registered,
        code: &str,
        verifier: &str,
    ) -> serde_json::Value {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", app.redirect_uri.as_str()),
            ("client_id", app.client_id.as_str()),
            ("code_verifier", verifier),
        ];
        let response = self
            .client
            .post(self.at("/oauth2/token"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        response.json().await.unwrap()
    }

    /// Introspects a token as `app` and returns the JSON body.
    pub async fn introspect(&self, app: &Registered, token: &str) -> serde_json::Value {
        self.client
            .post(self.at("/oauth2/introspect"))
            .basic_auth(&app.client_id, app.secret.as_deref())
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// A parameter of a URL's query or fragment.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once(['?', '#']).map(|(_, q)| q)?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The claims of a JWT, unverified (tests verify signatures separately).
pub fn claims(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The header of a JWT.
pub fn header(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let part = jwt.split('.').next().expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    use base64::Engine;
    use sha2::Digest;
    let verifier = format!("v{}", uuid::Uuid::new_v4().simple()) + "0123456789abcdef";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn merge(base: &mut serde_json::Value, extra: serde_json::Value) {
    if let (Some(base), serde_json::Value::Object(extra)) = (base.as_object_mut(), extra) {
        for (k, v) in extra {
            base.insert(k, v);
        }
    }
}

/// The real binary serving `data`; stopped (SIGTERM) when dropped.
pub struct Served {
    child: std::process::Child,
    pub url: String,
}

impl Served {
    pub fn start(data: &Path) -> Self {
        Self::start_with(data, &[])
    }

    /// [`Served::start`] with extra variables.
    pub fn start_with(data: &Path, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .env("IDP_DATA_DIR", data)
            .env("IDP_ADDR", "127.0.0.1:0")
            .env("IDP_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "warn")
            .env_remove("IDP_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .envs(env.iter().copied())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines {
            let line = line.unwrap();
            if let Some(url) = line.trim().strip_prefix("Identity Server is running at ") {
                return Self {
                    child,
                    url: url.to_owned(),
                };
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the server did not start");
    }

    /// Stops it with SIGTERM and waits (at most 20 s) until it has exited.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let started = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the server did not stop"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (at most 5 s) until `child`, a helper process of a test (a receiver, a collector),
/// accepts connections on `port`; panics, naming `what`, when it exits or never does.
pub fn listening(mut child: std::process::Child, port: u16, what: &str) -> std::process::Child {
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the {what} exited: {status} (scripts/setup installs its packages)");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("the {what} did not start");
}
