//! The test harness: `spawn_app()` starts the server in-process on port 0 with a fresh
//! SQLite database in a temporary data folder, and gives back a client for it.

use identity::DatabaseConnection;
use reqwest::{Client, Response, redirect::Policy};
use server::{Application, Config, config::Secret};
use std::path::Path;
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
        ..Config::default()
    }
}

/// A server on an existing data folder (kept by the caller), configured by `adjust`.
pub async fn spawn_app_in(
    data_dir: &Path,
    adjust: impl FnOnce(&mut Config),
) -> anyhow::Result<TestApp> {
    let mut config = test_config(data_dir);
    adjust(&mut config);
    let application = Application::build(config).await?;
    let url = application.public_url().to_owned();
    let local_url = format!("http://{}", application.addr());
    let db = application.state().db.clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(application.run_until_stopped(async {
        let _ = stopped.await;
    }));
    Ok(TestApp {
        url,
        local_url,
        db,
        client: client(),
        _data: None,
        stop: Some(stop),
        task: Some(task),
    })
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
