//! OpenTelemetry traces: the real binary with `OTEL_EXPORTER_OTLP_ENDPOINT` set exports
//! its spans over OTLP/HTTP to `tests/receivers/otlp.py`, which decodes them with the
//! OpenTelemetry project's own protobuf definitions (not our code).

use crate::events::free_port;
use crate::helpers::{ADMIN_PASSWORD, Served, listening};
use serde_json::Value;
use std::time::Duration;

/// The collector stand-in: a Python process on a port of its own.
struct Collector {
    child: std::process::Child,
    port: u16,
}

impl Collector {
    fn start() -> Self {
        let port = free_port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/receivers/otlp.py");
        let child = std::process::Command::new("python3")
            .arg(script)
            .arg(format!("--port={port}"))
            .spawn()
            .expect("python3 with opentelemetry-proto (scripts/setup installs it)");
        Self {
            child: listening(child, port, "collector"),
            port,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn spans(&self) -> Vec<Value> {
        reqwest::get(format!("{}/spans", self.endpoint()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn named<'a>(spans: &'a [Value], name: &str) -> Vec<&'a Value> {
    spans.iter().filter(|s| s["name"] == name).collect()
}

/// The spans below `parent`, at any depth.
fn below<'a>(spans: &'a [Value], parent: &Value) -> Vec<&'a Value> {
    let children: Vec<&Value> = spans
        .iter()
        .filter(|s| s["parent_span_id"] == parent["span_id"])
        .collect();
    let grandchildren = children.iter().flat_map(|child| below(spans, child));
    grandchildren.chain(children.iter().copied()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_and_their_transactions_are_exported_as_otlp_spans_in_the_callers_trace() {
    let collector = Collector::start();
    let data = tempfile::TempDir::new().unwrap();
    let endpoint = collector.endpoint();
    let served = Served::start_with(
        data.path(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_SERVICE_NAME", "idp-under-test"),
        ],
    );
    // A caller already in a trace signs in (a request that writes).
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = client
        .post(format!("{}/login", served.url))
        .header("Origin", &served.url)
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        // The caller's free text is not carried into our spans (a flood would fill them).
        .header("tracestate", {
            let member = |i| format!("vendor{i}={}", "x".repeat(250));
            (0..100).map(member).collect::<Vec<_>>().join(",")
        })
        .form(&[
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("return_to", "/console"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    // A rotation of the signing keys: a transaction of its own.
    let rotated = client
        .post(format!("{}/api/server/v1/keys/rotate", served.url))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert!(rotated.status().is_success(), "{}", rotated.status());
    // An attacker-sized path (60 KB; a URI is at most 64 KB): a 404, and a span of sane size.
    let huge = client
        .get(format!("{}/{}", served.url, "a".repeat(60_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 404);
    let ready = client
        .get(format!("{}/health/ready?code=a-secret-code", served.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    // A stop sends what is still buffered.
    served.stop();

    let spans = collector.spans().await;
    let sign_in = named(&spans, "POST /login");
    assert_eq!(sign_in.len(), 1, "{spans:#?}");
    let sign_in = sign_in[0];
    assert_eq!(sign_in["trace_id"], trace_id, "joins the caller's trace");
    assert_eq!(sign_in["parent_span_id"], caller_span);
    assert_eq!(sign_in["trace_state"], "");
    assert_eq!(sign_in["attributes"]["http.request.method"], "POST");
    assert_eq!(sign_in["attributes"]["url.path"], "/login");
    assert_eq!(sign_in["attributes"]["http.response.status_code"], 303);
    assert_eq!(sign_in["resource"]["service.name"], "idp-under-test");
    assert!(sign_in["end_ns"].as_u64() > sign_in["start_ns"].as_u64());
    // Its writes, below it (directly or through spans of the code between), begun within
    // its time. (Not "ended within": sqlx's SQLite worker thread drops its copy of the
    // span a moment after the caller has its answer, so a write may close just after.)
    let writes: Vec<_> = below(&spans, sign_in)
        .into_iter()
        .filter(|s| s["name"] == "db.batch" || s["name"] == "db.transaction")
        .collect();
    assert!(!writes.is_empty(), "{spans:#?}");
    for write in writes {
        assert_eq!(write["trace_id"], trace_id);
        assert!(write["start_ns"].as_u64() >= sign_in["start_ns"].as_u64());
        assert!(write["start_ns"].as_u64() <= sign_in["end_ns"].as_u64());
    }
    let rotation = named(&spans, "POST /api/server/v1/keys/rotate");
    assert_eq!(rotation.len(), 1, "{spans:#?}");
    let transaction = below(&spans, rotation[0])
        .into_iter()
        .find(|s| s["name"] == "db.transaction")
        .expect("the rotation's transaction");
    assert_eq!(transaction["attributes"]["db.system.name"], "sqlite");
    assert_eq!(transaction["trace_id"], rotation[0]["trace_id"]);
    // A request from no trace starts its own.
    let health = named(&spans, "GET /health/ready");
    assert_eq!(health.len(), 1, "{spans:#?}");
    assert_ne!(health[0]["trace_id"], trace_id);
    assert_eq!(health[0]["parent_span_id"], "");
    assert_eq!(health[0]["attributes"]["http.response.status_code"], 200);
    let huge = spans
        .iter()
        .find(|s| {
            s["attributes"]["url.path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/aaa"))
        })
        .expect("the huge path's span");
    assert_eq!(huge["attributes"]["url.path"].as_str().unwrap().len(), 256);
    assert!(huge["name"].as_str().unwrap().len() <= 260);
    assert!(serde_json::to_string(huge).unwrap().len() < 4_000);
    // Query strings (codes, tokens) are never exported.
    let text = serde_json::to_string(&spans).unwrap();
    assert!(!text.contains("a-secret-code"), "{text}");
    assert!(!text.contains(ADMIN_PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_down_costs_the_server_nothing_it_answers_and_stops() {
    let data = tempfile::TempDir::new().unwrap();
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let served = Served::start_with(data.path(), &[("OTEL_EXPORTER_OTLP_ENDPOINT", &nobody)]);
    let client = reqwest::Client::new();
    for _ in 0..20 {
        let ready = client
            .get(format!("{}/health/ready", served.url))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 200);
    }
    // Stops within Served::stop's 20 seconds, the export given up.
    served.stop();
}
