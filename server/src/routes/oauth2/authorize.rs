//! `GET|POST /oauth2/authorize` (RFC 6749 §4.1, OpenID Connect Core §3.1.2): the
//! authorization code flow with PKCE S256, exact redirect URIs, `state`, `nonce`, `prompt`,
//! `max_age`, the `query`, `fragment` and `form_post` response modes, the `iss` response
//! parameter (RFC 9207), and consent.
//!
//! Until the client and its redirect URI are known to be genuine, errors are shown on a
//! page; after that, they go back to the client in the chosen response mode.

use super::error::ErrorCode;
use super::pages;
use super::params::Params;
use crate::state::AppState;
use app::ssr::session_cookie_value;
use axum::{
    Form,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use identity::entities::application;
use identity::impersonation::session::Running;
use identity::oauth::{
    clients, codes, consent,
    grant_type::AUTHORIZATION_CODE,
    pending::{self, Pending},
    scope,
};
use identity::{clock, sessions};
use uuid::Uuid;

/// `GET /oauth2/authorize`
pub async fn authorize_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    authorize(&state, &headers, pairs).await
}

/// `POST /oauth2/authorize` (OpenID Connect Core §3.1.2.1 allows form posts).
pub async fn authorize_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    authorize(&state, &headers, pairs).await
}

/// Where and how the authorization response goes.
pub struct Responder {
    redirect_uri: String,
    mode: ResponseMode,
    state: Option<String>,
    issuer: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

impl ResponseMode {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "query" => Some(Self::Query),
            "fragment" => Some(Self::Fragment),
            "form_post" => Some(Self::FormPost),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Fragment => "fragment",
            Self::FormPost => "form_post",
        }
    }
}

impl Responder {
    /// Changes how the response travels (the subject token flow defaults to the fragment).
    pub fn set_mode(&mut self, mode: ResponseMode) {
        self.mode = mode;
    }

    /// Sends `fields` (plus `state` and `iss`) to the client.
    pub fn respond(&self, fields: Vec<(&str, String)>) -> Response {
        let mut all: Vec<(&str, String)> = fields;
        if let Some(state) = &self.state {
            all.push(("state", state.clone()));
        }
        all.push(("iss", self.issuer.clone()));
        match self.mode {
            ResponseMode::FormPost => {
                let borrowed: Vec<(&str, &str)> =
                    all.iter().map(|(k, v)| (*k, v.as_str())).collect();
                pages::form_post(&self.redirect_uri, &borrowed)
            }
            mode => {
                let mut encoded = form_urlencoded::Serializer::new(String::new());
                for (k, v) in &all {
                    encoded.append_pair(k, v);
                }
                let encoded = encoded.finish();
                let separator = match mode {
                    ResponseMode::Fragment => "#",
                    _ if self.redirect_uri.contains('?') => "&",
                    _ => "?",
                };
                Redirect::to(&format!("{}{separator}{encoded}", self.redirect_uri)).into_response()
            }
        }
    }

    /// Sends an error to the client (RFC 6749 §4.1.2.1).
    pub fn error(&self, code: ErrorCode, description: &str) -> Response {
        tracing::info!(
            error = code.as_str(),
            description,
            "authorization request refused"
        );
        let response = self.respond(vec![
            ("error", code.as_str().to_owned()),
            ("error_description", description.to_owned()),
        ]);
        crate::routes::rejections::mark(response, code.as_str(), description)
    }
}

async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    pairs: Vec<(String, String)>,
) -> Response {
    let params = match Params::from_pairs(pairs) {
        Ok(params) => params,
        Err(error) => {
            return pages::error_page(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                &error.description,
            );
        }
    };
    // 1. The client and its redirect URI: errors here are shown, never redirected.
    let Some(client_id) = params.get("client_id") else {
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "The request does not say which application it comes from (client_id).",
        );
    };
    let app = match clients::find(&state.db, client_id).await {
        Ok(Some(app)) => app,
        Ok(None) => {
            return pages::error_page(
                StatusCode::BAD_REQUEST,
                "Unknown application",
                "No application with this client_id is registered here.",
            );
        }
        Err(error) => return server_error_page(error),
    };
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "The request has no redirect_uri.",
        );
    };
    if !clients::redirect_registered(&app, redirect_uri) {
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "Unregistered redirect URI",
            "This redirect_uri is not registered for the application, so the answer cannot be sent there.",
        );
    }
    let requested_mode = params.get("response_mode");
    let mode = requested_mode
        .and_then(ResponseMode::parse)
        .unwrap_or(ResponseMode::Query);
    let responder = Responder {
        redirect_uri: redirect_uri.to_owned(),
        mode,
        state: params.get("state").map(str::to_owned),
        issuer: state.provider.issuer.clone(),
    };
    if requested_mode.is_some_and(|m| ResponseMode::parse(m).is_none()) {
        return responder.error(ErrorCode::InvalidRequest, "Unsupported response_mode.");
    }

    // 2. The request itself: errors go back to the client.
    if params.get("request").is_some() {
        return responder.error(
            ErrorCode::RequestNotSupported,
            "Request objects are not supported.",
        );
    }
    if params.get("request_uri").is_some() {
        return responder.error(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported.",
        );
    }
    if let Some(types) = params.get("response_type")
        && types.split(' ').any(|t| t == "subject_token")
    {
        let only_known = types
            .split(' ')
            .all(|t| t == "subject_token" || t == "id_token");
        if !only_known {
            return responder.error(
                ErrorCode::UnsupportedResponseType,
                "Use subject_token or id_token subject_token.",
            );
        }
        let current = match session_cookie_value(headers, state.session_cookie()) {
            Some(cookie) => match sessions::resolve(&state.db, &cookie).await {
                Ok(found) => found,
                Err(error) => return server_error_page(error),
            },
            None => None,
        };
        let request = super::subject_token::Request {
            app: &app,
            params: &params,
            with_id_token: types.split(' ').any(|t| t == "id_token"),
            explicit_mode: requested_mode.and_then(ResponseMode::parse),
            current,
        };
        return super::subject_token::authorize(state, request, responder).await;
    }
    match params.get("response_type") {
        Some("code") => {}
        Some(_) => {
            return responder.error(
                ErrorCode::UnsupportedResponseType,
                "Only the response_type code is supported for this application.",
            );
        }
        None => return responder.error(ErrorCode::InvalidRequest, "response_type is missing."),
    }
    if !clients::allows_grant(&app, AUTHORIZATION_CODE) {
        return responder.error(
            ErrorCode::UnauthorizedClient,
            "This application may not use the authorization code grant.",
        );
    }
    let code_challenge = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (Some(challenge), Some("S256")) if is_challenge(challenge) => Some(challenge.to_owned()),
        (Some(_), Some("S256")) => {
            return responder.error(
                ErrorCode::InvalidRequest,
                "The code_challenge is malformed.",
            );
        }
        (Some(_), _) => {
            return responder.error(
                ErrorCode::InvalidRequest,
                "Only the S256 code_challenge_method is supported.",
            );
        }
        (None, Some(_)) => {
            return responder.error(ErrorCode::InvalidRequest, "code_challenge is missing.");
        }
        (None, None) if app.public_client => {
            return responder.error(
                ErrorCode::InvalidRequest,
                "PKCE (code_challenge with S256) is required for this application.",
            );
        }
        (None, None) => None,
    };
    let prompts: Vec<&str> = params
        .get("prompt")
        .map(|p| p.split(' ').collect())
        .unwrap_or_default();
    if prompts.contains(&"none") && prompts.len() > 1 {
        return responder.error(ErrorCode::InvalidRequest, "prompt=none cannot be combined.");
    }
    let max_age = match params.get("max_age").map(str::parse::<i64>) {
        Some(Ok(age)) if age >= 0 => Some(age),
        Some(_) => {
            return responder.error(
                ErrorCode::InvalidRequest,
                "max_age must be a number of seconds.",
            );
        }
        None => None,
    };
    let requested = params.get("scope").map(scope::parse).unwrap_or_default();

    // 3. Who is asking: sign in first when needed.
    let session = match session_cookie_value(headers, state.session_cookie()) {
        Some(cookie) => match sessions::resolve(&state.db, &cookie).await {
            Ok(found) => found,
            Err(error) => return server_error_page(error),
        },
        None => None,
    };
    let too_old = |auth_time: i64| max_age.is_some_and(|age| clock::now() - auth_time > age);
    let Some(current) =
        session.filter(|s| !prompts.contains(&"login") && !too_old(s.session.auth_time))
    else {
        if prompts.contains(&"none") {
            return responder.error(ErrorCode::LoginRequired, "The user is not signed in.");
        }
        return to_login(&params.without("prompt"));
    };

    // Impersonated single sign-on (SPEC §2.3): a browser that impersonates signs in as the
    // target where the application allows it, gets a clear refusal where it does not, and
    // is always its real user in the Console.
    let (current, impersonation) = match impersonated(state, &app, current).await {
        Ok(found) => found,
        Err(response) => return response,
    };

    // 4. What may be granted, and consent.
    let granted = match scope::grantable(&state.db, current.user.id, &app, &requested).await {
        // A read-only impersonation gets only what the application declares read-only.
        Ok(granted) => identity::impersonation::session::narrow(
            granted,
            &app,
            impersonation.is_some_and(|s| s.read_only),
        ),
        Err(error) => return server_error_page(error),
    };
    let request = Pending {
        client_id: app.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        response_mode: mode.as_str().to_owned(),
        state: responder.state.clone(),
        nonce: params.get("nonce").map(str::to_owned),
        code_challenge,
        scopes: granted,
        auth_time: current.session.auth_time,
    };
    // The impersonated user is not there to consent; the impersonation was authorized.
    let consented = app.skip_login_consent
        || impersonation.is_some()
        || match consent::covers(&state.db, current.user.id, app.id, &request.scopes).await {
            Ok(covered) => covered && !prompts.contains(&"consent"),
            Err(error) => return server_error_page(error),
        };
    if consented {
        let session = impersonation.map(|s| s.id);
        return issue_code(state, &app, &current, &request, &responder, session).await;
    }
    if prompts.contains(&"none") {
        return responder.error(ErrorCode::ConsentRequired, "The user has not consented.");
    }
    match pending::create(
        &state.db,
        current.user.id,
        current.session.id,
        app.id,
        &request,
    )
    .await
    {
        Ok(handle) => {
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("request", &handle)
                .finish();
            Redirect::to(&format!("/consent?{query}")).into_response()
        }
        Err(error) => server_error_page(error),
    }
}

/// Issues the code for a request the user may be granted and responds to the client.
pub async fn issue_code(
    state: &AppState,
    app: &application::Model,
    current: &sessions::Current,
    request: &Pending,
    responder: &Responder,
    impersonation: Option<Uuid>,
) -> Response {
    let issued = codes::issue(
        &state.db,
        codes::NewCode {
            application_id: app.id,
            user_id: current.user.id,
            idp_session_id: Some(current.session.id),
            redirect_uri: request.redirect_uri.clone(),
            scope: scope::join(&request.scopes),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            auth_time: request.auth_time,
            impersonation_session_id: impersonation,
        },
    )
    .await;
    match issued {
        Ok(code) => responder.respond(vec![("code", code)]),
        Err(error) => responder.error(ErrorCode::ServerError, &server_fault(error)),
    }
}

/// Impersonated single sign-on (`identity::impersonation::single_sign_on`): the user the
/// request is for, and the impersonation session when it is the target; the error page
/// for an application that does not allow impersonation.
async fn impersonated(
    state: &AppState,
    app: &application::Model,
    current: sessions::Current,
) -> Result<(sessions::Current, Option<Running>), Response> {
    use identity::impersonation::single_sign_on::{self, Refused, SignIn};
    match single_sign_on::sign_in(&state.db, app, current).await {
        Ok(Ok(SignIn::Own(current))) => Ok((current, None)),
        Ok(Ok(SignIn::AsTarget(current, running))) => Ok((current, Some(running))),
        Ok(Err(refused)) => Err(pages::error_page(
            StatusCode::FORBIDDEN,
            match refused {
                Refused::NotEnabled => "Impersonation not allowed",
                Refused::TargetInactive => "Impersonation not possible",
            },
            &refused.to_string(),
        )),
        Err(error) => Err(server_error_page(error)),
    }
}

/// The responder for a pending request that was validated earlier.
pub fn responder_for(state: &AppState, request: &Pending) -> Responder {
    Responder {
        redirect_uri: request.redirect_uri.clone(),
        mode: ResponseMode::parse(&request.response_mode).unwrap_or(ResponseMode::Query),
        state: request.state.clone(),
        issuer: state.provider.issuer.clone(),
    }
}

/// Sends the browser to sign in, and back to this same request afterwards.
pub fn to_login(params: &Params) -> Response {
    let mut again = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params.pairs() {
        again.append_pair(k, v);
    }
    let return_to = format!("/oauth2/authorize?{}", again.finish());
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", &return_to)
        .finish();
    Redirect::to(&format!("/login?{query}")).into_response()
}

/// RFC 7636 §4.2: 43 to 128 characters of the unreserved set (S256 gives exactly 43).
fn is_challenge(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

fn server_fault(error: impl std::fmt::Display) -> String {
    tracing::error!("authorization endpoint failure: {error}");
    "The server could not complete the request.".to_owned()
}

fn server_error_page(error: impl std::fmt::Display) -> Response {
    pages::error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        &server_fault(error),
    )
}
