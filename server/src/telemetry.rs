//! Structured logs with `tracing`, and traces over OTLP when the operator asks for them.
//!
//! Every request runs in a span carrying its request id (`x-request-id`, set when the
//! client sent none), method and path; query strings are never logged (they may carry
//! codes and tokens). With `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, the same spans, and those of the database's
//! transactions, batches and group commits below them, are exported as OpenTelemetry traces over OTLP/HTTP (protobuf);
//! the other standard `OTEL_*` variables (headers, timeout, service name, resource
//! attributes) apply. A request with a W3C `traceparent` joins its caller's trace.

use crate::config::LogFormat;
use axum::http::{HeaderMap, Request, Response};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::time::Duration;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

/// What [`init`] started: the trace exporter, when there is one. Call [`Telemetry::shutdown`]
/// before the process ends, so that the last spans are sent.
#[derive(Debug)]
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends what is still buffered and stops the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.traces
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(%error, "the last traces could not be sent");
        }
    }
}

/// Installs the global subscriber: logs (`RUST_LOG` filters; the default is `info`), and
/// traces when an OTLP endpoint is configured (always at `info`, whatever quiets the logs).
/// Must run inside the Tokio runtime.
pub fn init(format: LogFormat) -> Telemetry {
    const DEFAULT: &str = "info,sqlx=warn,sea_orm=warn";
    let log_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT));
    let logs = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer().boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .boxed(),
    };
    let (traces, provider) = match otlp_tracer_provider() {
        Ok(Some(provider)) => {
            let layer = tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("identity-server"))
                .with_filter(EnvFilter::new(DEFAULT));
            (Some(layer), Some(provider))
        }
        Ok(None) => (None, None),
        Err(error) => {
            eprintln!("server: traces are off: {error}");
            (None, None)
        }
    };
    // A second init (tests) keeps the first subscriber.
    let installed = tracing_subscriber::registry()
        .with(logs.with_filter(log_filter))
        .with(traces)
        .try_init()
        .is_ok();
    if installed && provider.is_some() {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
    }
    Telemetry {
        traces: provider.filter(|_| installed),
    }
}

/// The OTLP trace exporter the standard variables ask for, if any.
fn otlp_tracer_provider() -> anyhow::Result<Option<SdkTracerProvider>> {
    let set = |name: &str| std::env::var(name).is_ok_and(|value| !value.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    if disabled
        || !(set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
    {
        return Ok(None);
    }
    use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_http_client(ExportClient::new()?)
        .build()?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(
            std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "identity-server".to_owned()),
        )
        .build();
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build(),
    ))
}

/// The exporter's HTTP client: the server's reqwest, run on the server's runtime (the
/// exporter's batch thread has none of its own).
#[derive(Debug)]
struct ExportClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl ExportClient {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            runtime: tokio::runtime::Handle::try_current()?,
        })
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for ExportClient {
    async fn send_bytes(
        &self,
        request: http::Request<opentelemetry_http::Bytes>,
    ) -> Result<http::Response<opentelemetry_http::Bytes>, opentelemetry_http::HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let client = self.client.clone();
        let sent = self.runtime.spawn(async move {
            let response = client.execute(request).await?;
            let mut answer = http::Response::builder().status(response.status());
            if let Some(headers) = answer.headers_mut() {
                *headers = response.headers().clone();
            }
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>(answer.body(body))
        });
        Ok(sent.await???)
    }
}

/// A path as logs and spans show it: its first 256 bytes. A URI may be 64 KB, and spans
/// wait in the exporter's queue.
fn shown(path: &str) -> &str {
    const MAX: usize = 256;
    let mut end = path.len().min(MAX);
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    &path[..end]
}

/// The caller's trace context, from a W3C `traceparent` header (fixed size). `tracestate`
/// is not taken: it is the caller's free text, and every span below would carry it.
fn caller_context(headers: &HeaderMap) -> opentelemetry::Context {
    let mut parent = HeaderMap::new();
    if let Some(value) = headers.get("traceparent") {
        parent.insert("traceparent", value.clone());
    }
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&opentelemetry_http::HeaderExtractor(&parent))
    })
}

/// The request-id and tracing layers, outermost first.
pub fn layers<S>(router: axum::Router<S>) -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request<_>| {
            let request_id = request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            let span = tracing::info_span!(
                "request",
                request_id = %request_id,
                otel.name = %format_args!("{} {}", request.method(), shown(request.uri().path())),
                otel.kind = "server",
                http.request.method = %request.method(),
                url.path = %shown(request.uri().path()),
                http.response.status_code = tracing::field::Empty,
            );
            let _ = span.set_parent(caller_context(request.headers()));
            span
        })
        .on_response(
            |response: &Response<_>, _latency: Duration, span: &tracing::Span| {
                // As i64: the OpenTelemetry layer would turn a u64 into text.
                span.record(
                    "http.response.status_code",
                    i64::from(response.status().as_u16()),
                );
            },
        );
    router
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(trace)
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}
