//! An anonymous flood of bad passwords against the real server process (issue 18): every
//! request is answered (401, or 503 with `Retry-After` once the password gate is full),
//! the process's peak resident memory stays under 300 MB, and `/health/live` answers
//! throughout. Without the gate, each of the requests would hold a 19 MiB argon2 hash at
//! once (about 8 GB for this flood).

use futures::future::join_all;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const FLOOD: usize = 400;
const MEMORY_LIMIT_KB: u64 = 300 * 1024;

/// A line `name: <n> kB` of `/proc/<pid>/status`.
fn status_kb(pid: u32, name: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_bad_basic_logins_is_answered_in_bounded_memory_while_health_answers() {
    let data = tempfile::TempDir::new().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .env("IDP_DATA_DIR", data.path())
        .env("IDP_ADDR", "127.0.0.1:0")
        .env("IDP_ADMIN_PASSWORD", "flood-Admin-password-1")
        .env_remove("IDP_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // The reader is dropped after the address line, closing the pipe while the server may
    // still be printing its welcome: it must carry on regardless (it once panicked there).
    let url = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .find_map(|line| {
            line.trim()
                .strip_prefix("Identity Server is running at ")
                .map(str::to_owned)
        })
        .expect("the server prints its address");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(FLOOD)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let before_kb = status_kb(pid, "VmRSS:");

    let flooding = AtomicBool::new(true);
    let health = async {
        let mut answers = Vec::new();
        while flooding.load(Ordering::Acquire) {
            let started = Instant::now();
            let status = client
                .get(format!("{url}/health/live"))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            answers.push((status, started.elapsed()));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        answers
    };
    let flood = async {
        let started = Instant::now();
        let requests = (0..FLOOD).map(|n| {
            let client = &client;
            let url = &url;
            async move {
                let response = client
                    .get(format!("{url}/scim2/Users"))
                    .basic_auth(format!("ghost-{n}"), Some(format!("guess-{n}")))
                    .send()
                    .await
                    .unwrap();
                let retry = response.headers().contains_key("retry-after");
                (response.status().as_u16(), retry)
            }
        });
        let answers = join_all(requests).await;
        let took = started.elapsed();
        flooding.store(false, Ordering::Release);
        (answers, took)
    };
    let (health, (answers, took)) = tokio::join!(health, flood);

    let peak_kb = status_kb(pid, "VmHWM:");
    let unauthorized = answers.iter().filter(|(s, _)| *s == 401).count();
    let busy = answers
        .iter()
        .filter(|(s, retry)| *s == 503 && *retry)
        .count();
    eprintln!(
        "flood of {FLOOD}: {unauthorized} × 401, {busy} × 503 in {took:?}; resident memory \
         {before_kb} kB before, peak {peak_kb} kB; /health/live answered {} times, slowest {:?}",
        health.len(),
        health.iter().map(|(_, t)| *t).max().unwrap_or_default()
    );
    assert_eq!(
        unauthorized + busy,
        FLOOD,
        "every request answered: {answers:?}"
    );
    assert!(unauthorized > 0, "the gate let some through");
    assert!(busy > 0, "the gate was full at some point");
    assert!(
        peak_kb < MEMORY_LIMIT_KB,
        "peak resident memory {peak_kb} kB"
    );
    assert!(!health.is_empty());
    assert!(
        health.iter().all(|(status, _)| *status == 200),
        "/health/live: {health:?}"
    );
    // The server is still there and administrable.
    let me = client
        .get(format!("{url}/scim2/Me"))
        .basic_auth("admin", Some("flood-Admin-password-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    child.kill().unwrap();
    child.wait().unwrap();
}
