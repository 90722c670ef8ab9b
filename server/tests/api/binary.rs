//! The real `server` binary, as an operator runs it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SERVER: &str = env!("CARGO_BIN_EXE_server");

#[test]
fn help_documents_every_configuration_variable() {
    let output = Command::new(SERVER).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for variable in [
        "IDP_CONFIG",
        "IDP_DATA_DIR",
        "IDP_ADDR",
        "IDP_PUBLIC_URL",
        "IDP_DATABASE_URL",
        "IDP_ADMIN_PASSWORD",
        "IDP_SMTP_URL",
        "IDP_SITE_DIR",
    ] {
        assert!(help.contains(variable), "{variable} missing from --help");
    }
}

#[test]
fn a_bad_variable_stops_the_start_with_its_name() {
    let output = Command::new(SERVER)
        .env("IDP_ADDR", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("IDP_ADDR"));
}

#[test]
fn the_binary_prints_how_to_sign_in_and_stops_cleanly_on_sigterm() {
    let data = tempfile::TempDir::new().unwrap();
    let mut child = Command::new(SERVER)
        .env("IDP_DATA_DIR", data.path())
        .env("IDP_ADDR", "127.0.0.1:0")
        .env_remove("IDP_ADMIN_PASSWORD")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.trim_start().starts_with("Password:");
        banner.push(line);
        if done {
            break;
        }
    }
    let banner = banner.join("\n");
    assert!(banner.contains("Console:    http://127.0.0.1:"), "{banner}");
    assert!(banner.contains("Sign in as: admin"), "{banner}");
    let password = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("Password:"))
        .unwrap()
        .trim();
    assert_eq!(password.len(), 20, "{banner}");
    assert!(data.path().join("idp.sqlite").exists());

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status:?}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn rotate_keys_changes_the_active_key_of_a_data_folder() {
    let data = tempfile::TempDir::new().unwrap();
    let run = |args: &[&str]| {
        Command::new(SERVER)
            .args(args)
            .env("IDP_DATA_DIR", data.path())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let first = run(&["rotate-keys"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = run(&["rotate-keys"]);
    let kid = |out: &std::process::Output| {
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .rsplit(' ')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_ne!(kid(&first), kid(&second));
    assert_eq!(kid(&first).len(), 43, "a SHA-256 thumbprint");
}
