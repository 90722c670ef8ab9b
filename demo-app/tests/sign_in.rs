//! The demo application as an operator runs it: registered through the management API
//! with its own `register` command, started as a process, signing a browser in through
//! the identity server over HTTP (code + PKCE, ID token validated), and changing the
//! user's profile through `/scim2/Me` with its access token; signed out by the identity
//! server's back-channel logout when the user signs out there.

use reqwest::{Client, redirect::Policy};
use server::{Application, Config, config::Secret};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DEMO: &str = env!("CARGO_BIN_EXE_demo-app");
const ADMIN_PASSWORD: &str = "demo-Admin-password-1";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_registers_and_starts_the_demo_app_and_a_user_signs_in_and_changes_the_profile()
{
    let data = tempfile::TempDir::new().unwrap();
    let application = Application::build(Config {
        data_dir: data.path().to_owned(),
        addr: "127.0.0.1:0".parse().unwrap(),
        admin_password: Some(Secret::new(ADMIN_PASSWORD)),
        site_dir: data.path().join("site"),
        // The demo app's back-channel logout endpoint is on http://127.0.0.1.
        outbound: identity::events::webhooks::Outbound {
            allow_http_loopback: true,
            allow_private_networks: false,
        },
        ..Config::default()
    })
    .await
    .unwrap();
    let idp = application.public_url().to_owned();
    tokio::spawn(application.run_until_stopped(std::future::pending()));

    let port = free_port();
    let demo_url = format!("http://127.0.0.1:{port}");
    let registered = Command::new(DEMO)
        .args(["register", "--admin-password", ADMIN_PASSWORD])
        .env("DEMO_IDP_URL", &idp)
        .env("DEMO_URL", &demo_url)
        .output()
        .unwrap();
    assert!(
        registered.status.success(),
        "{}",
        String::from_utf8_lossy(&registered.stderr)
    );
    let printed = String::from_utf8(registered.stdout).unwrap();
    let value = |name: &str| {
        printed
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} not printed: {printed}"))
            .to_owned()
    };
    let (client_id, secret) = (value("DEMO_CLIENT_ID"), value("DEMO_CLIENT_SECRET"));
    assert!(!secret.is_empty());

    let _demo = Killed(
        Command::new(DEMO)
            .env("DEMO_IDP_URL", &idp)
            .env("DEMO_URL", &demo_url)
            .env("DEMO_ADDR", format!("127.0.0.1:{port}"))
            .env("DEMO_CLIENT_ID", &client_id)
            .env("DEMO_CLIENT_SECRET", &secret)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let browser = Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    while browser.get(&demo_url).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the demo app did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The browser signs in at the identity server, then follows the demo app's sign-in.
    let signed_in = browser
        .post(format!("{idp}/login"))
        .header("Origin", &idp)
        .form(&[
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("return_to", "/console"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let to_idp = browser
        .get(format!("{demo_url}/login"))
        .send()
        .await
        .unwrap();
    let authorize = location(&to_idp);
    assert!(
        authorize.contains("code_challenge_method=S256"),
        "{authorize}"
    );
    let back = browser.get(&authorize).send().await.unwrap();
    let callback = location(&back);
    assert!(
        callback.starts_with(&format!("{demo_url}/callback?code=")),
        "{callback}"
    );
    let home = browser.get(&callback).send().await.unwrap();
    assert_eq!(location(&home), "/");
    let page = browser
        .get(&demo_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Signed in as <strong id=\"user\">admin</strong>"),
        "{page}"
    );
    assert!(page.contains("active"), "{page}");
    assert!(
        !page.contains("Impersonated by"),
        "nobody is impersonating: {page}"
    );

    let changed = browser
        .post(format!("{demo_url}/profile"))
        .form(&[("given_name", "Adaline")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(changed.contains("Your profile was changed."), "{changed}");
    let me: serde_json::Value = browser
        .get(format!(
            "{idp}/scim2/Users?filter=userName%20eq%20%22admin%22"
        ))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["Resources"][0]["name"]["givenName"], "Adaline");

    // Signing out at the identity server signs the demo app out too (back-channel
    // logout): its next page says so, with nothing done in its tab.
    let out = browser
        .post(format!("{idp}/logout"))
        .header("Origin", &idp)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let started = Instant::now();
    loop {
        let page = browser
            .get(&demo_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if page.contains("id=\"signed-out\"") {
            assert!(page.contains("admin was signed out"), "{page}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the demo app was not signed out: {page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
