//! Server-side helpers for server functions: the request's signed-in user and the checks
//! every server function starts with.

use identity::delegation::{Authority, Refusal};
use identity::{DatabaseConnection, sessions};
use leptos::prelude::*;

/// Name of the IdP session cookie over plain http.
pub const SESSION_COOKIE: &str = "idp_session";
/// Name of the IdP session cookie when the public URL is https: the `__Host-` prefix makes
/// browsers refuse it unless it is `Secure`, for this host only (no `Domain`), on path `/`,
/// so that no sibling subdomain can plant or overwrite it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-idp_session";

/// The session cookie's name: [`SECURE_SESSION_COOKIE`] over https.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The `Set-Cookie` value of the session cookie `name` ([`session_cookie_name`]);
/// `max_age` 0 clears it. Over https it is `Secure` (and `__Host-` prefixed by its name).
pub fn session_set_cookie(name: &str, value: &str, max_age: i64) -> String {
    let secure = if name == SECURE_SESSION_COOKIE {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

/// Gives the sign-in `session` a new cookie value (when it starts or stops impersonating:
/// a value copied before is worthless after) and returns the `Set-Cookie` value for the
/// cookie `name`, if the sign-in is still live.
pub async fn rotated_session_cookie(
    db: &DatabaseConnection,
    name: &str,
    session: &identity::entities::idp_session::Model,
) -> identity::Result<Option<http::HeaderValue>> {
    let Some(value) = identity::sessions::rotate(db, session.id).await? else {
        return Ok(None);
    };
    let max_age = (session.expires_at - identity::clock::now()).max(0);
    let cookie = session_set_cookie(name, &value, max_age);
    Ok(http::HeaderValue::from_str(&cookie).ok())
}

/// [`rotated_session_cookie`] for this browser's sign-in, set on the server function's
/// response.
pub async fn rotate_session_cookie(
    session: &identity::entities::idp_session::Model,
) -> Result<(), ServerFnError> {
    let ctx = context()?;
    let cookie = rotated_session_cookie(&ctx.db, ctx.session_cookie, session)
        .await
        .map_err(internal)?;
    if let Some(cookie) = cookie
        && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
    {
        response.append_header(http::header::SET_COOKIE, cookie);
    }
    Ok(())
}

/// What the server provides to every page render and server function.
#[derive(Clone)]
pub struct AppContext {
    pub db: DatabaseConnection,
    /// The session cookie's name ([`session_cookie_name`]).
    pub session_cookie: &'static str,
    /// Where this server is reached (`IDP_PUBLIC_URL`), for links in mails.
    pub public_url: std::sync::Arc<str>,
    /// Where events may be sent (webhook URLs are checked against it).
    pub outbound: identity::events::webhooks::Outbound,
}

/// The server context, or an error when a server function runs outside the server.
pub fn context() -> Result<AppContext, ServerFnError> {
    use_context::<AppContext>().ok_or_else(|| failure("server context missing"))
}

/// The value of the session cookie `name` in a request's headers, if present.
pub fn session_cookie_value(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, value)| *found == name && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

/// The value of the session cookie of the current request, if any.
fn session_cookie() -> Option<String> {
    let name = use_context::<AppContext>()?.session_cookie;
    session_cookie_value(&use_context::<http::request::Parts>()?.headers, name)
}

/// The signed-in user of this request, or `None`.
pub async fn current_session() -> Result<Option<sessions::Current>, ServerFnError> {
    let Some(cookie) = session_cookie() else {
        return Ok(None);
    };
    let ctx = context()?;
    sessions::resolve(&ctx.db, &cookie).await.map_err(|e| {
        tracing::error!(error = ?e, "resolving the session failed");
        failure("The server could not check your session.")
    })
}

/// The signed-in user, who must be allowed into the Console (hold the Administrator
/// role's `internal_user_mgt_view`). Answers 401 or 403 otherwise.
pub async fn require_console_user() -> Result<sessions::Current, ServerFnError> {
    let Some(current) = current_session().await? else {
        set_status(http::StatusCode::UNAUTHORIZED);
        return Err(failure("Your session has ended. Sign in again."));
    };
    let ctx = context()?;
    let allowed = identity::roles::holds_organization_scope(
        &ctx.db,
        current.user.id,
        "internal_user_mgt_view",
    )
    .await
    .map_err(|e| {
        tracing::error!(error = ?e, "checking Console access failed");
        failure("The server could not check your access.")
    })?;
    if !allowed {
        refused(&current, "internal_user_mgt_view").await;
        return Err(failure(
            "Your account has no access to the Console. Ask an administrator for the \
             Administrator role.",
        ));
    }
    Ok(current)
}

/// A Console user who also holds `scope` (through an organization role); 403 otherwise.
pub async fn require_console_scope(scope: &str) -> Result<sessions::Current, ServerFnError> {
    let current = require_console_user().await?;
    let ctx = context()?;
    let holds = identity::roles::holds_organization_scope(&ctx.db, current.user.id, scope)
        .await
        .map_err(internal)?;
    if !holds {
        refused(&current, scope).await;
        return Err(failure(&format!(
            "Your roles do not allow this (it needs {scope})."
        )));
    }
    Ok(current)
}

/// What the signed-in Console user holds now, for the delegation rule: every change that
/// hands out power or acts on another user takes it.
pub async fn authority(current: &sessions::Current) -> Result<Authority, ServerFnError> {
    Authority::of_user(&context()?.db, current.user.id)
        .await
        .map_err(internal)
}

/// Where the signed-in Console user's `scope` reaches: organizations, and users, outside it
/// are as unknown to them as ones that do not exist.
pub async fn reach(
    current: &sessions::Current,
    scope: &str,
) -> Result<identity::organizations::Reach, ServerFnError> {
    identity::organizations::Reach::of_user(&context()?.db, current.user.id, scope)
        .await
        .map_err(internal)
}

/// A decision of an impersonation request posted by a page's form (`decision` is
/// `approve` or `deny`), made by `decider` in a transaction of its own; `within`, when
/// given, is where the decider's rights reach (a request beyond is as unknown as none).
pub async fn decide_request(
    id: &str,
    decider: identity::impersonation::approval::Decider<'_>,
    within: Option<&identity::organizations::Reach>,
    decision: &str,
    comment: String,
) -> Result<(), ServerFnError> {
    use identity::impersonation::approval::{self, DecideError, Decision};
    let not_found = || invalid("There is no such request.");
    let id = uuid::Uuid::parse_str(id).map_err(|_| not_found())?;
    let decision = match decision {
        "approve" => Decision::Approve,
        "deny" => Decision::Deny { comment },
        _ => return Err(invalid("Approve or deny.")),
    };
    let db = context()?.db;
    if let Some(reach) = within {
        approval::find(&db, id)
            .await
            .map_err(internal)?
            .filter(|r| reach.contains(r.organization_id))
            .ok_or_else(not_found)?;
    }
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    match approval::decide(&txn, id, decider, decision).await {
        Ok(_) => {}
        Err(DecideError::Internal(error)) => return Err(internal(error)),
        Err(refused) => return Err(invalid(&refused.to_string())),
    }
    txn.commit().await.map_err(internal)
}

/// [`reach`], or `None` when the user holds `scope` nowhere (a section of a page they may
/// not see).
pub async fn reach_if_held(
    current: &sessions::Current,
    scope: &str,
) -> Result<Option<identity::organizations::Reach>, ServerFnError> {
    let reach = reach(current, scope).await?;
    Ok((!reach.is_nowhere()).then_some(reach))
}

/// The organization whose settings the Console user edits: their own, when their `scope`
/// reaches it; 403 (audited) for someone who holds `scope` only for a sub-organization.
pub async fn own_organization(
    user: &identity::entities::user::Model,
    scope: &str,
) -> Result<uuid::Uuid, ServerFnError> {
    let reach = identity::organizations::Reach::of_user(&context()?.db, user.id, scope)
        .await
        .map_err(internal)?;
    if reach.contains(user.organization_id) {
        return Ok(user.organization_id);
    }
    record_refusal(
        Some(user.id),
        format!("403 forbidden: {scope} does not reach the user's own organization"),
    )
    .await;
    Err(failure(&format!(
        "Your roles do not allow this here (it needs {scope} for your organization)."
    )))
}

/// A change the delegation rule refused: 403, an audit record naming the caller and what
/// was refused, and the reason for the person. `txn` (the change's transaction) is
/// rolled back first, so that the record does not wait for its write lock.
pub async fn refused_change(txn: identity::store::db::WriteTxn, refusal: Refusal) -> ServerFnError {
    drop(txn);
    let reason = format!("403 forbidden: {refusal}");
    record_refusal(refusal.actor, reason).await;
    failure(&format!("Not allowed: {refusal}."))
}

/// Answers 403 and records the refusal (SPEC §7).
async fn refused(current: &sessions::Current, scope: &str) {
    record_refusal(
        Some(current.user.id),
        format!("403 forbidden: lacks {scope}"),
    )
    .await;
}

async fn record_refusal(actor: Option<uuid::Uuid>, reason: String) {
    set_status(http::StatusCode::FORBIDDEN);
    let path = use_context::<http::request::Parts>().map(|p| p.uri.path().to_owned());
    let Ok(ctx) = context() else { return };
    let event = identity::audit::Event {
        action: identity::audit::action::REQUEST_REJECTED,
        success: false,
        actor_id: actor.map(|id| id.to_string()),
        method: Some("POST".into()),
        path,
        reason,
        ..identity::audit::Event::default()
    };
    if let Err(error) = identity::audit::record(&ctx.db, event).await {
        tracing::error!(error = ?error, "recording a refused Console request failed");
    }
}

/// Logs an unexpected server-side error and gives the person a message without details.
pub fn internal(error: impl std::fmt::Debug) -> ServerFnError {
    tracing::error!(?error, "a Console request failed");
    failure("The server could not complete this. Try again.")
}

fn set_status(status: http::StatusCode) {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
    }
}

/// A refusal of what the person asked (bad input, or nothing there): status 400, with a
/// message meant for them. The request changed nothing.
pub fn invalid(message: &str) -> ServerFnError {
    set_status(http::StatusCode::BAD_REQUEST);
    failure(message)
}

/// A server function error with a message meant for the person using the page.
pub fn failure(message: &str) -> ServerFnError {
    ServerFnError::ServerError(message.to_owned())
}

/// The user My Account shows, and the impersonation session when it is an impersonated
/// one (then the user is the target). 401 without a session.
pub async fn my_account_user() -> Result<
    (
        identity::entities::user::Model,
        Option<identity::entities::impersonation_session::Model>,
    ),
    ServerFnError,
> {
    let Some(current) = current_session().await? else {
        set_status(http::StatusCode::UNAUTHORIZED);
        return Err(failure("Your session has ended. Sign in again."));
    };
    let Some(id) = current.session.impersonation_session_id else {
        return Ok((current.user, None));
    };
    let ctx = context()?;
    let Some(session) = identity::impersonation::session::live(&ctx.db, id)
        .await
        .map_err(internal)?
    else {
        return Ok((current.user, None));
    };
    let target = identity::users::find(&ctx.db, session.target_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| failure("The impersonated user no longer exists."))?;
    Ok((target, Some(session)))
}

/// The signed-in user's own session, for the My Account pages that are not offered while
/// impersonating (profile, security, access history): 400 in an impersonated session.
pub async fn own_account() -> Result<sessions::Current, ServerFnError> {
    let Some(current) = current_session().await? else {
        set_status(http::StatusCode::UNAUTHORIZED);
        return Err(failure("Your session has ended. Sign in again."));
    };
    if let Some(id) = current.session.impersonation_session_id {
        let live = identity::impersonation::session::live(&context()?.db, id)
            .await
            .map_err(internal)?;
        if live.is_some() {
            return Err(invalid("This is not available while impersonating."));
        }
    }
    Ok(current)
}

/// The usernames of the user ids that audit records name, each read once.
pub struct UserNames<'a> {
    db: &'a identity::DatabaseConnection,
    names: std::collections::HashMap<String, String>,
}

impl<'a> UserNames<'a> {
    pub fn new(db: &'a identity::DatabaseConnection) -> Self {
        Self {
            db,
            names: Default::default(),
        }
    }

    /// The username of `id` (empty for none; the id itself when it names no user).
    pub async fn of(&mut self, id: &Option<String>) -> Result<String, ServerFnError> {
        let Some(id) = id else {
            return Ok(String::new());
        };
        if let Some(name) = self.names.get(id) {
            return Ok(name.clone());
        }
        let name = match uuid::Uuid::parse_str(id) {
            Ok(uuid) => identity::users::find(self.db, uuid)
                .await
                .map_err(internal)?
                .map(|u| u.username)
                .unwrap_or_else(|| id.clone()),
            Err(_) => id.clone(),
        };
        self.names.insert(id.clone(), name.clone());
        Ok(name)
    }
}
