//! Metrics in the Prometheus text format, on their own listen address
//! (`IDP_METRICS_ADDR`; off when unset, never on the public port). The `metrics` crate's
//! macros record (requests by route and status with latencies, tokens by grant type,
//! impersonation starts, ends and refusals, group-commit sizes); what is a state rather
//! than a count (active impersonations, outbox depths and ages, the database pool, the
//! password-hash queue) is read at each scrape.

use crate::state::AppState;
use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use identity::entities::{delivery, event, impersonation_session, outbox_mail};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use std::sync::OnceLock;
use std::time::Instant;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder (installed once: the server, or the first of a test's servers).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let seconds = [
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
        ];
        let sizes = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".to_owned()),
                &seconds,
            )
            .expect("valid buckets")
            .set_buckets_for_metric(Matcher::Full("group_commit_size".to_owned()), &sizes)
            .expect("valid buckets")
            .build_recorder();
        let handle = recorder.handle();
        // A second recorder in one process (never in the binary) leaves the first.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Counts every request by route (the matched pattern, never the raw path) and status,
/// with its latency.
pub async fn count_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Counts a token response by its grant type.
pub fn token_issued(grant_type: &str) {
    metrics::counter!("tokens_issued_total", "grant_type" => grant_type.to_owned()).increment(1);
}

/// The metrics listener's routes: `GET /metrics`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(state)
}

async fn scrape(State(state): State<AppState>) -> Response {
    if let Err(error) = read_states(&state).await {
        tracing::warn!("metrics: reading the database's states failed: {error}");
    }
    (
        [("content-type", "text/plain; version=0.0.4")],
        handle().render(),
    )
        .into_response()
}

/// The gauges read at each scrape.
async fn read_states(state: &AppState) -> identity::Result<()> {
    let db = &state.db;
    let now = identity::clock::now();
    let active = impersonation_session::Entity::find()
        .filter(impersonation_session::Column::EndedAt.is_null())
        .filter(impersonation_session::Column::ExpiresAt.gt(now))
        .count(db)
        .await?;
    metrics::gauge!("impersonation_sessions_active").set(active as f64);

    let unsent = outbox_mail::Entity::find().filter(outbox_mail::Column::SentAt.is_null());
    let oldest_mail = unsent
        .clone()
        .order_by_asc(outbox_mail::Column::CreatedAt)
        .one(db)
        .await?
        .map(|m| now - m.created_at);
    metrics::gauge!("outbox_depth", "outbox" => "mail").set(unsent.count(db).await? as f64);
    metrics::gauge!("outbox_oldest_age_seconds", "outbox" => "mail")
        .set(oldest_mail.unwrap_or(0) as f64);

    let pending = delivery::Entity::find()
        .filter(delivery::Column::DeliveredAt.is_null())
        .filter(delivery::Column::FailedAt.is_null());
    let oldest_delivery = pending
        .clone()
        .order_by_asc(delivery::Column::CreatedAt)
        .one(db)
        .await?
        .map(|d| now - d.created_at);
    metrics::gauge!("outbox_depth", "outbox" => "events").set(pending.count(db).await? as f64);
    metrics::gauge!("outbox_oldest_age_seconds", "outbox" => "events")
        .set(oldest_delivery.unwrap_or(0) as f64);
    let undispatched = event::Entity::find()
        .filter(event::Column::DispatchedAt.is_null())
        .count(db)
        .await?;
    metrics::gauge!("events_not_fanned_out").set(undispatched as f64);

    let (size, idle) = match db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle() as u32)
        }
        _ => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle() as u32)
        }
    };
    metrics::gauge!("db_pool_connections", "state" => "idle").set(f64::from(idle));
    metrics::gauge!("db_pool_connections", "state" => "in_use")
        .set(f64::from(size - idle.min(size)));

    let gate = identity::password::gate();
    metrics::gauge!("password_checks_in_flight").set(gate.admitted() as f64);
    metrics::gauge!("password_checks_refused").set(gate.refused() as f64);
    Ok(())
}
