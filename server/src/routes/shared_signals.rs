//! The Shared Signals transmitter's HTTP surface (OpenID SSF 1.0):
//! `GET /.well-known/ssf-configuration` (the transmitter's metadata), and for a receiver
//! holding its own application token with `internal_ssf_stream_manage` (client
//! credentials): its stream at `/ssf/streams` (`POST` create, `GET` read or list,
//! `PATCH` update, `PUT` replace, `DELETE`), `GET|POST /ssf/status`, and
//! `POST /ssf/verify` (a verification event is pushed). A receiver sees and changes only
//! its own stream; another's reads as not found.

use crate::routes::api_auth::authorize;
use crate::routes::impersonation_audit::begin;
use crate::routes::management::error::ApiError;
use crate::state::AppState;
use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use identity::audit::{self, action};
use identity::entities::{application, ssf_stream};
use identity::events::shared_signals::{self, StreamError, StreamSettings, status};
use identity::scopes::SSF_STREAM_MANAGE;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/ssf-configuration", get(configuration))
        // SSF §7.2: an issuer with a path (ours is WSO2's `/oauth2/token`) has its
        // metadata under the well-known path followed by that path.
        .route(
            "/.well-known/ssf-configuration/oauth2/token",
            get(configuration),
        )
        .route(
            "/ssf/streams",
            get(read)
                .post(create)
                .patch(update)
                .put(replace)
                .delete(remove),
        )
        .route("/ssf/status", get(read_status).post(write_status))
        .route("/ssf/verify", post(verify))
}

/// `GET /.well-known/ssf-configuration`.
async fn configuration(State(state): State<AppState>) -> Json<Value> {
    let base = &state.public_url;
    Json(json!({
        "spec_version": "1_0",
        "issuer": state.provider.issuer,
        "jwks_uri": format!("{base}/oauth2/jwks"),
        "delivery_methods_supported": [shared_signals::PUSH],
        "configuration_endpoint": format!("{base}/ssf/streams"),
        "status_endpoint": format!("{base}/ssf/status"),
        "verification_endpoint": format!("{base}/ssf/verify"),
        "authorization_schemes": [{ "spec_urn": "urn:ietf:rfc:6749" }],
        "default_subjects": "ALL",
    }))
}

/// The receiver calling: the application whose own token (not a user's) was presented.
async fn receiver(state: &AppState, headers: &HeaderMap) -> Result<application::Model, ApiError> {
    let caller = authorize(state, headers, Some(SSF_STREAM_MANAGE)).await?;
    let client_id = match (&caller.user, &caller.token) {
        (None, Some(token)) => token.client_id.clone(),
        _ => {
            return Err(ApiError::Forbidden(
                "A stream is managed with the receiver application's own token \
                 (client credentials)."
                    .into(),
            ));
        }
    };
    identity::oauth::clients::find(&state.db, &client_id)
        .await?
        .ok_or(ApiError::Unauthenticated)
}

#[derive(Deserialize)]
struct StreamId {
    stream_id: Option<String>,
}

async fn own_stream(
    state: &AppState,
    app: &application::Model,
    stream_id: Option<&str>,
) -> Result<ssf_stream::Model, ApiError> {
    let Some(stream_id) = stream_id else {
        return Err(ApiError::BadRequest("stream_id is required.".into()));
    };
    shared_signals::find(&state.db, app.id, stream_id)
        .await?
        .ok_or(ApiError::NotFound("stream"))
}

/// What a receiver sends for its stream (SSF's receiver-supplied members; the
/// transmitter-supplied ones are accepted and ignored, as the specification asks).
#[derive(Deserialize, Default)]
struct StreamInput {
    stream_id: Option<String>,
    delivery: Option<DeliveryInput>,
    events_requested: Option<Vec<String>>,
    description: Option<String>,
}

#[derive(Deserialize, Default)]
struct DeliveryInput {
    method: Option<String>,
    endpoint_url: Option<String>,
    authorization_header: Option<String>,
}

fn parse(body: &str) -> Result<StreamInput, ApiError> {
    serde_json::from_str(body).map_err(ApiError::bad_body)
}

/// Applies `input` to `settings`; `replace` clears what it leaves out (PUT).
fn apply(settings: &mut StreamSettings, input: StreamInput, replace: bool) -> Result<(), ApiError> {
    if replace {
        settings.authorization_header = None;
        settings.events_requested = Vec::new();
        settings.description = String::new();
    }
    if let Some(delivery) = input.delivery {
        if delivery
            .method
            .as_deref()
            .is_some_and(|m| m != shared_signals::PUSH)
        {
            return Err(ApiError::BadRequest(format!(
                "Only push delivery ({}) is offered.",
                shared_signals::PUSH
            )));
        }
        if let Some(url) = delivery.endpoint_url {
            settings.endpoint_url = url;
        }
        if delivery.authorization_header.is_some() {
            settings.authorization_header = delivery.authorization_header;
        }
    }
    if let Some(events) = input.events_requested {
        settings.events_requested = events;
    }
    if let Some(description) = input.description {
        settings.description = description;
    }
    Ok(())
}

fn stream_error(error: StreamError) -> ApiError {
    match error {
        StreamError::Invalid(problems) => ApiError::Invalid(problems),
        StreamError::Exists => ApiError::Conflict("This receiver has a stream already.".into()),
    }
}

fn audited(
    app: &application::Model,
    what: &'static str,
    stream: &ssf_stream::Model,
) -> audit::Event {
    audit::Event {
        action: what,
        success: true,
        actor_id: Some(app.client_id.clone()),
        client_id: Some(app.client_id.clone()),
        reason: format!("stream {} to {}", stream.id, stream.endpoint_url),
        ..audit::Event::default()
    }
}

fn no_store(status: StatusCode, body: Value) -> Response {
    (status, [("cache-control", "no-store")], Json(body)).into_response()
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, ApiError> {
    let app = receiver(&state, &headers).await?;
    let input = parse(&body)?;
    if input
        .delivery
        .as_ref()
        .and_then(|d| d.endpoint_url.as_ref())
        .is_none()
    {
        return Err(ApiError::BadRequest(
            "Push delivery needs delivery.endpoint_url (poll delivery is not offered).".into(),
        ));
    }
    let mut settings = StreamSettings::default();
    apply(&mut settings, input, false)?;
    let txn = begin(&state.db).await?;
    let stream = shared_signals::create(
        &*txn,
        app.organization_id,
        app.id,
        &app.client_id,
        settings,
        &state.config.outbound,
    )
    .await?
    .map_err(stream_error)?;
    audit::record(&*txn, audited(&app, action::SSF_STREAM_CREATED, &stream)).await?;
    txn.commit().await?;
    Ok(no_store(
        StatusCode::CREATED,
        shared_signals::configuration(&stream, &state.provider.issuer),
    ))
}

async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<StreamId>,
) -> Result<Response, ApiError> {
    let app = receiver(&state, &headers).await?;
    let issuer = &state.provider.issuer;
    Ok(match query.stream_id {
        Some(id) => {
            let stream = own_stream(&state, &app, Some(&id)).await?;
            no_store(
                StatusCode::OK,
                shared_signals::configuration(&stream, issuer),
            )
        }
        None => {
            let streams = shared_signals::list(&state.db, app.id).await?;
            let all: Vec<Value> = streams
                .iter()
                .map(|s| shared_signals::configuration(s, issuer))
                .collect();
            no_store(StatusCode::OK, Value::Array(all))
        }
    })
}

async fn change(
    state: AppState,
    headers: HeaderMap,
    body: String,
    replace: bool,
) -> Result<Response, ApiError> {
    let app = receiver(&state, &headers).await?;
    let input = parse(&body)?;
    let stream = own_stream(&state, &app, input.stream_id.as_deref()).await?;
    let mut settings = shared_signals::settings_of(&stream);
    apply(&mut settings, input, replace)?;
    let txn = begin(&state.db).await?;
    let stream = shared_signals::update(&*txn, stream, settings, &state.config.outbound)
        .await?
        .map_err(ApiError::Invalid)?;
    audit::record(&*txn, audited(&app, action::SSF_STREAM_UPDATED, &stream)).await?;
    txn.commit().await?;
    Ok(no_store(
        StatusCode::OK,
        shared_signals::configuration(&stream, &state.provider.issuer),
    ))
}

async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, ApiError> {
    change(state, headers, body, false).await
}

async fn replace(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, ApiError> {
    change(state, headers, body, true).await
}

async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<StreamId>,
) -> Result<StatusCode, ApiError> {
    let app = receiver(&state, &headers).await?;
    let stream = own_stream(&state, &app, query.stream_id.as_deref()).await?;
    let txn = begin(&state.db).await?;
    shared_signals::delete(&*txn, &stream).await?;
    audit::record(&*txn, audited(&app, action::SSF_STREAM_DELETED, &stream)).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

fn status_view(stream: &ssf_stream::Model) -> Value {
    let mut body = json!({ "stream_id": stream.id.to_string(), "status": stream.status });
    if !stream.status_reason.is_empty() {
        body["reason"] = json!(stream.status_reason);
    }
    body
}

async fn read_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<StreamId>,
) -> Result<Response, ApiError> {
    let app = receiver(&state, &headers).await?;
    let stream = own_stream(&state, &app, query.stream_id.as_deref()).await?;
    Ok(no_store(StatusCode::OK, status_view(&stream)))
}

#[derive(Deserialize)]
struct StatusInput {
    stream_id: Option<String>,
    status: String,
    reason: Option<String>,
}

async fn write_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, ApiError> {
    let app = receiver(&state, &headers).await?;
    let input: StatusInput = serde_json::from_str(&body).map_err(ApiError::bad_body)?;
    let Some(new_status) = status::ALL.iter().copied().find(|s| *s == input.status) else {
        return Err(ApiError::BadRequest(
            "status is one of enabled, paused, disabled.".into(),
        ));
    };
    let stream = own_stream(&state, &app, input.stream_id.as_deref()).await?;
    let mut reason = input.reason.unwrap_or_default();
    identity::text::bound(&mut reason, 200);
    let txn = begin(&state.db).await?;
    let stream = shared_signals::set_status(&*txn, stream, new_status, reason).await?;
    audit::record(&*txn, audited(&app, action::SSF_STREAM_UPDATED, &stream)).await?;
    txn.commit().await?;
    Ok(no_store(StatusCode::OK, status_view(&stream)))
}

#[derive(Deserialize)]
struct VerifyInput {
    stream_id: Option<String>,
    state: Option<String>,
}

async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, ApiError> {
    let app = receiver(&state, &headers).await?;
    let input: VerifyInput = serde_json::from_str(&body).map_err(ApiError::bad_body)?;
    let stream = own_stream(&state, &app, input.stream_id.as_deref()).await?;
    if !shared_signals::take_verification_turn(&state.db, &stream).await? {
        let wait = shared_signals::MIN_VERIFICATION_INTERVAL_SECS.to_string();
        let body = json!({ "error": "too_many_requests",
            "description": format!("At most one verification each {wait} seconds.") });
        return Ok((
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", wait)],
            Json(body),
        )
            .into_response());
    }
    let mut data = json!({ "streamId": stream.id.to_string() });
    if let Some(mut text) = input.state {
        identity::text::bound(&mut text, 256);
        data["state"] = json!(text);
    }
    identity::events::publish(
        &state.db,
        identity::events::Event {
            kind: identity::events::kind::STREAM_VERIFICATION,
            organization_id: Some(stream.organization_id),
            subject: None,
            data,
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
