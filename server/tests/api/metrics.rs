//! `/metrics` on its own address, scraped and parsed by Prometheus's own Python parser
//! (`prometheus_client`), not ours.

use crate::helpers::spawn_app_in;
use crate::impersonation::{impersonate, setup_in};
use serde_json::Value;

/// The samples of a scrape, parsed by `prometheus_client.parser`: (name, labels, value).
async fn scrape(url: &str) -> Vec<(String, Value, f64)> {
    let text = reqwest::get(url).await.unwrap().text().await.unwrap();
    let parser = "import sys, json\n\
        from prometheus_client.parser import text_string_to_metric_families\n\
        print(json.dumps([[s.name, s.labels, s.value] \
            for f in text_string_to_metric_families(sys.stdin.read()) for s in f.samples]))";
    let mut child = std::process::Command::new("python3")
        .args(["-c", parser])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with prometheus_client (scripts/setup installs it)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the parser refused the text: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    let samples: Vec<(String, Value, f64)> = serde_json::from_slice(&output.stdout).unwrap();
    samples
}

/// The sum of the samples named `name` whose labels include `labels`.
fn sum(samples: &[(String, Value, f64)], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l[*k] == *v))
        .map(|(_, _, v)| v)
        .sum()
}

#[tokio::test]
async fn metrics_answer_on_their_own_address_and_the_impersonation_counters_move() {
    let data = tempfile::TempDir::new().unwrap();
    let app = spawn_app_in(data.path(), |c| {
        c.metrics_addr = Some("127.0.0.1:0".parse().unwrap())
    })
    .await
    .unwrap();
    let url = app.metrics_url.clone().expect("a metrics address");
    let s = setup_in(app).await;
    // Never on the public port.
    let public = s.app.client.get(s.app.at("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);

    let before = scrape(&url).await;
    impersonate(&s).await;
    let during = scrape(&url).await;
    assert_eq!(sum(&during, "impersonation_sessions_active", &[]), 1.0);
    assert!(
        sum(&during, "impersonation_sessions_started_total", &[])
            >= sum(&before, "impersonation_sessions_started_total", &[]) + 1.0
    );
    let exchange = [(
        "grant_type",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    )];
    assert!(
        sum(&during, "tokens_issued_total", &exchange)
            >= sum(&before, "tokens_issued_total", &exchange) + 1.0
    );
    let token_ok = [
        ("route", "/oauth2/token"),
        ("status", "200"),
        ("method", "POST"),
    ];
    assert!(sum(&during, "http_requests_total", &token_ok) >= 1.0);
    assert!(
        sum(
            &during,
            "http_request_duration_seconds_count",
            &[("route", "/oauth2/token")]
        ) >= 1.0
    );

    // Ended by an administrator: the end is counted by its kind, nothing is active.
    let listed = s
        .app
        .get_as_admin(
            s.app
                .at("/api/server/v1/impersonation-sessions?active=true"),
        )
        .await;
    let path = listed["sessions"][0]["self"].as_str().unwrap().to_owned();
    let (user, pass) = crate::helpers::admin();
    let ended = s
        .app
        .client
        .delete(s.app.at(&path))
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 204);
    let after = scrape(&url).await;
    assert_eq!(sum(&after, "impersonation_sessions_active", &[]), 0.0);
    let by_admin = [("reason", "ended by an administrator")];
    assert!(
        sum(&after, "impersonation_sessions_ended_total", &by_admin)
            >= sum(&during, "impersonation_sessions_ended_total", &by_admin) + 1.0
    );
    // A refusal is counted by its kind.
    let browser = s.app.browser_for("support", "support-password-1").await;
    crate::impersonation::subject_request(&s.app, &browser, &s.shop, &s.impersonator_id, &[]).await;
    let refused = scrape(&url).await;
    let own = [("reason", "SelfImpersonation")];
    assert!(
        sum(&refused, "impersonation_refusals_total", &own)
            >= sum(&after, "impersonation_refusals_total", &own) + 1.0
    );
    // The states read at each scrape are there.
    for name in [
        "outbox_depth",
        "outbox_oldest_age_seconds",
        "db_pool_connections",
        "password_checks_in_flight",
        "group_commit_size_count",
    ] {
        assert!(after.iter().any(|(n, ..)| n == name), "{name} missing");
    }
}
