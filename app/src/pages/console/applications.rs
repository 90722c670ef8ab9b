//! Applications: the list, creating one, and an application's page with every setting of
//! SPEC §1, the APIs it is authorized for, its client secret (shown once, with
//! regenerate), and the **impersonation readiness** panel listing each unmet prerequisite
//! with a link to fix it (SPEC §6.6).

use super::{ConsoleLayout, Failure, field_message, form_message};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppRow {
    pub id: String,
    pub name: String,
    pub client_id: String,
    pub kind: String,
    pub impersonation: bool,
}

/// Every application. Permission: the Console and `internal_application_mgt_view`.
#[server]
pub async fn list_applications() -> Result<Vec<AppRow>, ServerFnError> {
    use crate::ssr::{context, internal, require_console_scope};
    let me = require_console_scope("internal_application_mgt_view").await?;
    let reach = crate::ssr::reach(&me, "internal_application_mgt_view").await?;
    let (_, apps) = identity::applications::list(&context()?.db, &reach, None, 0, 500)
        .await
        .map_err(internal)?;
    Ok(apps
        .into_iter()
        .map(|a| AppRow {
            id: a.id.to_string(),
            kind: if a.system {
                "System"
            } else if a.public_client {
                "Public"
            } else {
                "Confidential"
            }
            .to_owned(),
            impersonation: a.impersonation_enabled,
            name: a.name,
            client_id: a.client_id,
        })
        .collect())
}

/// The `field: message` lines of refused settings (the fields are the management API's).
#[cfg(feature = "ssr")]
fn app_failure(error: identity::applications::AppError) -> ServerFnError {
    use identity::applications::AppError;
    let text = match error {
        AppError::Invalid(problems) => problems
            .iter()
            .map(|(field, message)| format!("{field}: {message}"))
            .collect::<Vec<_>>()
            .join("\n"),
        AppError::DuplicateName(name) => format!("name: An application named {name} exists."),
        AppError::System => "The system applications cannot be changed this way.".to_owned(),
        AppError::Refused(refusal) => format!("Not allowed: {refusal}."),
    };
    crate::ssr::invalid(&text)
}

/// Creates a confidential application with the authorization code grant and opens its
/// page, which shows the secret once. Permission: the Console and
/// `internal_application_mgt_create`.
#[server]
pub async fn create_application(name: String, callback_url: String) -> Result<(), ServerFnError> {
    use crate::ssr::{context, internal, require_console_scope};
    let me = require_console_scope("internal_application_mgt_create")
        .await?
        .user;
    let settings = identity::applications::Settings {
        name: name.trim().to_owned(),
        redirect_uris: vec![callback_url.trim().to_owned()],
        ..identity::applications::Settings::default()
    };
    let db = context()?.db;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    let created = identity::applications::create(&txn, me.organization_id, settings)
        .await
        .map_err(internal)?
        .map_err(app_failure)?;
    txn.commit().await.map_err(internal)?;
    leptos_axum::redirect(&format!("/console/applications/{}", created.application.id));
    Ok(())
}

/// `GET /console/applications`
#[component]
pub fn ApplicationsListPage() -> impl IntoView {
    let create = ServerAction::<CreateApplication>::new();
    let apps = Resource::new(|| (), |_| list_applications());
    let error = move |field: &'static str| {
        move || {
            create
                .value()
                .get()
                .and_then(Result::err)
                .and_then(|e| field_message(&e, field))
                .map(|m| view! { <p class="field-error">{m}</p> })
        }
    };
    let general = move || {
        create
            .value()
            .get()
            .and_then(Result::err)
            .and_then(|e| form_message(&e, &["name", "callbackURLs"]))
            .map(|m| view! { <p class="error" role="alert">{m}</p> })
    };
    view! {
        <ConsoleLayout title="Applications">
            <h1>"Applications"</h1>
            <details class="create card">
                <summary>"Create application"</summary>
                <ActionForm action=create attr:class="grid-form">
                    {general}
                    <label for="app-name">"Name"</label>
                    <input id="app-name" name="name" type="text" required/>
                    {error("name")}
                    <label for="app-callback">"Callback URL"</label>
                    <input id="app-callback" name="callback_url" type="url" required
                        placeholder="https://app.example.com/callback"/>
                    {error("callbackURLs")}
                    <div class="actions"><button type="submit" class="primary">"Create application"</button></div>
                </ActionForm>
            </details>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match apps.await {
                        Ok(rows) => {
                            let rows = rows.into_iter().map(|a| view! {
                                <tr>
                                    <td><a href=format!("/console/applications/{}", a.id)>{a.name}</a></td>
                                    <td><code>{a.client_id}</code></td>
                                    <td>{a.kind}</td>
                                    <td>{if a.impersonation { "Enabled" } else { "—" }}</td>
                                </tr>
                            }).collect_view();
                            view! {
                                <table class="list">
                                    <thead><tr><th scope="col">"Application"</th><th scope="col">"Client id"</th>
                                        <th scope="col">"Type"</th><th scope="col">"Impersonated sign-in"</th></tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                            }.into_any()
                        }
                        Err(error) => view! { <Failure error/> }.into_any(),
                    }
                })}
            </Suspense>
        </ConsoleLayout>
    }
}

/// A prerequisite of impersonation, for the readiness panel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prerequisite {
    /// `from` (impersonating from this application) or `while` (used while impersonating).
    pub part: String,
    pub label: String,
    pub met: bool,
    pub fix: String,
}

/// An API the application is, or could be, authorized for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Api {
    pub id: String,
    pub name: String,
    pub identifier: String,
    /// The authorized scopes (empty when not authorized).
    pub scopes: Vec<String>,
}

/// Everything the application's page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppDetails {
    pub id: String,
    pub name: String,
    pub description: String,
    pub client_id: String,
    pub public_client: bool,
    pub system: bool,
    pub callback_urls: String,
    pub grants: Vec<(String, String, bool)>,
    pub subject_token_enabled: bool,
    pub subject_token_expiry_secs: i32,
    pub access_token_lifetime_secs: i32,
    pub refresh_for_impersonation: bool,
    pub impersonation_enabled: bool,
    pub discoverable: bool,
    pub access_url: String,
    pub skip_login_consent: bool,
    pub skip_logout_consent: bool,
    /// Where logout tokens go (OpenID Connect Back-Channel Logout), empty: nowhere.
    pub backchannel_logout_uri: String,
    /// What signs the ID tokens and the access tokens (JOSE names).
    pub id_token_alg: String,
    pub access_token_alg: String,
    /// The client secret, the one time it can be shown.
    pub secret: Option<String>,
    pub authorized: Vec<Api>,
    pub available: Vec<Api>,
    pub readiness: Vec<Prerequisite>,
}

/// The grant types the form offers: (form field, grant type, label).
#[cfg(feature = "ssr")]
const GRANTS: &[(&str, &str, &str)] = &[
    (
        "grant_authorization_code",
        "authorization_code",
        "Authorization code",
    ),
    ("grant_refresh_token", "refresh_token", "Refresh token"),
    (
        "grant_client_credentials",
        "client_credentials",
        "Client credentials",
    ),
    (
        "grant_token_exchange",
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "Token exchange (impersonation)",
    ),
    (
        "grant_organization_switch",
        "organization_switch",
        "Organization switch",
    ),
];

/// An application's page. Shows the client secret if it has not been shown yet (once).
/// Permission: the Console and `internal_application_mgt_view`.
#[server]
pub async fn get_application(id: String) -> Result<AppDetails, ServerFnError> {
    use crate::ssr::{context, internal, invalid, require_console_scope};
    let me = require_console_scope("internal_application_mgt_view").await?;
    let reach = crate::ssr::reach(&me, "internal_application_mgt_view").await?;
    let db = context()?.db;
    let not_found = || invalid("There is no application with this id.");
    let id = uuid::Uuid::parse_str(&id).map_err(|_| not_found())?;
    let app = identity::applications::find(&db, id)
        .await
        .map_err(internal)?
        .filter(|app| reach.contains(app.organization_id))
        .ok_or_else(not_found)?;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    let secret = identity::applications::reveal_secret(&txn, &app)
        .await
        .map_err(internal)?;
    txn.commit().await.map_err(internal)?;
    let authorized_list = identity::api_resources::authorized(&db, app.id)
        .await
        .map_err(internal)?;
    let (_, resources) = identity::api_resources::list(&db, None, 0, 100)
        .await
        .map_err(internal)?;
    let authorized: Vec<Api> = authorized_list
        .into_iter()
        .map(|(r, scopes)| Api {
            id: r.id.to_string(),
            name: r.name,
            identifier: r.identifier,
            scopes,
        })
        .collect();
    let available = resources
        .into_iter()
        .filter(|r| !authorized.iter().any(|a| a.id == r.resource.id.to_string()))
        .map(|r| Api {
            id: r.resource.id.to_string(),
            name: r.resource.name,
            identifier: r.resource.identifier,
            scopes: Vec::new(),
        })
        .collect();
    let readiness = identity::impersonation::readiness::check(&db, &app)
        .await
        .map_err(internal)?
        .into_iter()
        .map(|c| Prerequisite {
            part: match c.part {
                identity::impersonation::readiness::Part::From => "from".into(),
                identity::impersonation::readiness::Part::While => "while".into(),
            },
            label: c.label.into(),
            met: c.met,
            fix: c.fix,
        })
        .collect();
    Ok(AppDetails {
        id: app.id.to_string(),
        grants: GRANTS
            .iter()
            .map(|(field, grant, label)| {
                (
                    (*field).to_owned(),
                    (*label).to_owned(),
                    app.grant_types.0.iter().any(|g| g == grant),
                )
            })
            .collect(),
        callback_urls: app.redirect_uris.0.join("\n"),
        access_url: app.access_url.clone().unwrap_or_default(),
        name: app.name,
        description: app.description,
        client_id: app.client_id,
        public_client: app.public_client,
        system: app.system,
        subject_token_enabled: app.subject_token_enabled,
        subject_token_expiry_secs: app.subject_token_expiry_secs,
        access_token_lifetime_secs: app.access_token_lifetime_secs,
        refresh_for_impersonation: app.refresh_for_impersonation,
        impersonation_enabled: app.impersonation_enabled,
        discoverable: app.discoverable,
        skip_login_consent: app.skip_login_consent,
        skip_logout_consent: app.skip_logout_consent,
        backchannel_logout_uri: app.backchannel_logout_uri.clone().unwrap_or_default(),
        id_token_alg: app.id_token_signed_response_alg,
        access_token_alg: app.access_token_signed_response_alg,
        secret,
        authorized,
        available,
        readiness,
    })
}

/// The settings form (a ticked checkbox is `Some`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AppForm {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub callback_urls: String,
    pub grant_authorization_code: Option<String>,
    pub grant_refresh_token: Option<String>,
    pub grant_client_credentials: Option<String>,
    pub grant_token_exchange: Option<String>,
    pub grant_organization_switch: Option<String>,
    pub subject_token_enabled: Option<String>,
    pub subject_token_expiry_secs: String,
    pub access_token_lifetime_secs: String,
    pub refresh_for_impersonation: Option<String>,
    pub impersonation_enabled: Option<String>,
    pub discoverable: Option<String>,
    #[serde(default)]
    pub access_url: String,
    pub skip_login_consent: Option<String>,
    pub skip_logout_consent: Option<String>,
    #[serde(default)]
    pub backchannel_logout_uri: String,
    /// Empty (a form from before the choice existed): unchanged.
    #[serde(default)]
    pub id_token_alg: String,
    #[serde(default)]
    pub access_token_alg: String,
}

/// Saves every setting at once; nothing is saved when any is refused. Permission: the
/// Console and `internal_application_mgt_update`.
#[server]
pub async fn save_application(form: AppForm) -> Result<(), ServerFnError> {
    use crate::ssr::{
        authority, context, internal, invalid, refused_change, require_console_scope,
    };
    use identity::applications::AppError;
    let me = require_console_scope("internal_application_mgt_update").await?;
    let by = authority(&me).await?;
    let reach = crate::ssr::reach(&me, "internal_application_mgt_update").await?;
    let db = context()?.db;
    let not_found = || invalid("There is no application with this id.");
    let id = uuid::Uuid::parse_str(&form.id).map_err(|_| not_found())?;
    let number = |field: &str, text: &str| {
        text.trim()
            .parse::<i32>()
            .map_err(|_| invalid(&format!("{field}: Give a whole number of seconds.")))
    };
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    let app = identity::applications::find(&txn, id)
        .await
        .map_err(internal)?
        .filter(|app| reach.contains(app.organization_id))
        .ok_or_else(not_found)?;
    let mut settings = identity::applications::Settings::of(&app);
    let ticked = [
        &form.grant_authorization_code,
        &form.grant_refresh_token,
        &form.grant_client_credentials,
        &form.grant_token_exchange,
        &form.grant_organization_switch,
    ];
    settings.grant_types = GRANTS
        .iter()
        .zip(ticked)
        .filter(|(_, on)| on.is_some())
        .map(|((_, grant, _), _)| (*grant).to_owned())
        .collect();
    settings.name = form.name.trim().to_owned();
    settings.description = form.description.trim().to_owned();
    settings.redirect_uris = form
        .callback_urls
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    settings.subject_token_enabled = form.subject_token_enabled.is_some();
    settings.subject_token_expiry_secs = number("subjectToken", &form.subject_token_expiry_secs)?;
    settings.access_token_lifetime_secs = number("accessToken", &form.access_token_lifetime_secs)?;
    settings.refresh_for_impersonation = form.refresh_for_impersonation.is_some();
    settings.impersonation_enabled = form.impersonation_enabled.is_some();
    settings.discoverable = form.discoverable.is_some();
    settings.access_url = Some(form.access_url.trim().to_owned()).filter(|u| !u.is_empty());
    settings.skip_login_consent = form.skip_login_consent.is_some();
    settings.skip_logout_consent = form.skip_logout_consent.is_some();
    settings.backchannel_logout_uri =
        Some(form.backchannel_logout_uri.trim().to_owned()).filter(|u| !u.is_empty());
    if !form.id_token_alg.is_empty() {
        settings.id_token_signed_response_alg = form.id_token_alg;
    }
    if !form.access_token_alg.is_empty() {
        settings.access_token_signed_response_alg = form.access_token_alg;
    }
    if let Some(url) = &settings.backchannel_logout_uri
        && let Err(why) = context()?.outbound.check_url(url)
    {
        return Err(invalid(&format!("backchannelLogoutUri: {why}")));
    }
    match identity::applications::update(&txn, &by, app, settings)
        .await
        .map_err(internal)?
    {
        Ok(_) => {}
        Err(AppError::Refused(refusal)) => return Err(refused_change(txn, refusal).await),
        Err(error) => return Err(app_failure(error)),
    }
    txn.commit().await.map_err(internal)?;
    Ok(())
}

/// A new client secret, shown in the answer only; the old one stops working. Permission:
/// the Console and `internal_application_mgt_update`.
#[server]
pub async fn regenerate_secret(id: String) -> Result<String, ServerFnError> {
    use crate::ssr::{context, internal, invalid, require_console_scope};
    let me = require_console_scope("internal_application_mgt_update").await?;
    let reach = crate::ssr::reach(&me, "internal_application_mgt_update").await?;
    let db = context()?.db;
    let not_found = || invalid("There is no application with this id.");
    let id = uuid::Uuid::parse_str(&id).map_err(|_| not_found())?;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    let app = identity::applications::find(&txn, id)
        .await
        .map_err(internal)?
        .filter(|app| reach.contains(app.organization_id))
        .ok_or_else(not_found)?;
    let secret = identity::applications::regenerate_secret(&txn, &app)
        .await
        .map_err(internal)?
        .ok_or_else(|| invalid("A public client has no secret."))?;
    txn.commit().await.map_err(internal)?;
    Ok(secret)
}

/// Authorizes the application for every scope of an API (`authorize` = "yes"), or takes
/// the authorization away. Permission: the Console and `internal_application_mgt_update`.
#[server]
pub async fn set_api_authorization(
    id: String,
    api: String,
    authorize: String,
) -> Result<(), ServerFnError> {
    use crate::ssr::{
        authority, context, internal, invalid, refused_change, require_console_scope,
    };
    use identity::api_resources::AuthorizeError;
    let me = require_console_scope("internal_application_mgt_update").await?;
    let by = authority(&me).await?;
    let reach = crate::ssr::reach(&me, "internal_application_mgt_update").await?;
    let db = context()?.db;
    let app_id = uuid::Uuid::parse_str(&id).map_err(|_| invalid("Unknown application."))?;
    let api_id = uuid::Uuid::parse_str(&api).map_err(|_| invalid("Choose an API."))?;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    let app = identity::applications::find(&txn, app_id)
        .await
        .map_err(internal)?
        .filter(|app| reach.contains(app.organization_id))
        .ok_or_else(|| invalid("Unknown application."))?;
    let resource = identity::api_resources::find(&txn, api_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| invalid("Choose an API."))?;
    let outcome = if authorize == "yes" {
        let scopes: Vec<String> = resource.scopes.iter().map(|s| s.name.clone()).collect();
        identity::api_resources::authorize(&txn, &by, &app, &resource, &scopes)
            .await
            .map_err(internal)?
    } else {
        identity::api_resources::deauthorize(&txn, &by, &app, resource.resource.id)
            .await
            .map_err(internal)?
            .map(|_| ())
            .map_err(AuthorizeError::Refused)
    };
    match outcome {
        Ok(()) => {}
        Err(AuthorizeError::Refused(refusal)) => return Err(refused_change(txn, refusal).await),
        Err(error) => return Err(invalid(&error.to_string())),
    }
    txn.commit().await.map_err(internal)?;
    Ok(())
}

/// `GET /console/applications/{id}`
#[component]
pub fn ApplicationPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let save = ServerAction::<SaveApplication>::new();
    let apis = ServerAction::<SetApiAuthorization>::new();
    let regenerate = ServerAction::<RegenerateSecret>::new();
    let app = Resource::new(
        move || (id(), save.version().get(), apis.version().get()),
        |(id, _, _)| get_application(id),
    );
    view! {
        <ConsoleLayout title="Application">
            <p><a href="/console/applications">"← Applications"</a></p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match app.await {
                        Ok(app) => view! { <ApplicationView app save apis regenerate/> }.into_any(),
                        Err(error) => view! { <h1>"Application"</h1><Failure error/> }.into_any(),
                    }
                })}
            </Suspense>
        </ConsoleLayout>
    }
}

/// A checkbox of the settings form, ticked as the application is.
#[component]
fn Tick(field: &'static str, label: &'static str, checked: bool) -> impl IntoView {
    let id = format!("app-{field}");
    view! {
        <div class="check">
            <input id=id.clone() type="checkbox" name=format!("form[{field}]") value="on" checked=checked/>
            <label for=id>{label}</label>
        </div>
    }
}

/// The signing algorithms the server offers (JOSE name, label), as in its discovery document.
const ALGORITHMS: &[(&str, &str)] = &[
    ("RS256", "RS256 (RSA, the default)"),
    ("ES256", "ES256 (ECDSA P-256)"),
    ("EdDSA", "EdDSA (Ed25519)"),
];

/// A choice of signing algorithm in the settings form, `chosen` selected.
#[component]
fn Algorithms(id: &'static str, field: &'static str, chosen: String) -> impl IntoView {
    let options = ALGORITHMS
        .iter()
        .map(|(alg, label)| view! { <option value=*alg selected=*alg == chosen>{*label}</option> })
        .collect_view();
    view! { <select id=id name=format!("form[{field}]")>{options}</select> }
}

#[component]
fn ApplicationView(
    app: AppDetails,
    save: ServerAction<SaveApplication>,
    apis: ServerAction<SetApiAuthorization>,
    regenerate: ServerAction<RegenerateSecret>,
) -> impl IntoView {
    let error = move |field: &'static str| {
        move || {
            save.value()
                .get()
                .and_then(Result::err)
                .and_then(|e| field_message(&e, field))
                .map(|m| view! { <p class="field-error">{m}</p> })
        }
    };
    let outcome = move || {
        save.value().get().map(|result| match result {
            Ok(()) => view! { <p class="notice" role="status">"Saved."</p> }.into_any(),
            Err(e) => form_message(
                &e,
                &[
                    "name",
                    "callbackURLs",
                    "grantTypes",
                    "accessUrl",
                    "backchannelLogoutUri",
                    "subjectToken",
                    "accessToken",
                    "idTokenSignedResponseAlg",
                    "accessTokenSignedResponseAlg",
                ],
            )
            .map(|m| view! { <p class="error" role="alert">{m}</p> })
            .into_any(),
        })
    };
    let grants = app
        .grants
        .iter()
        .map(|(field, label, on)| {
            let id = format!("app-{field}");
            view! {
                <div class="check">
                    <input id=id.clone() type="checkbox" name=format!("form[{field}]") value="on" checked=*on/>
                    <label for=id>{label.clone()}</label>
                </div>
            }
        })
        .collect_view();
    let readiness = |part: &str| {
        app.readiness
            .iter()
            .filter(|p| p.part == part)
            .map(|p| {
                if p.met {
                    view! { <li class="met">{p.label.clone()}</li> }.into_any()
                } else {
                    view! {
                        <li class="unmet">{p.label.clone()}" — "<a href=p.fix.clone()>"Fix"</a></li>
                    }
                    .into_any()
                }
            })
            .collect_view()
    };
    let from_ready = app
        .readiness
        .iter()
        .filter(|p| p.part == "from")
        .all(|p| p.met);
    let while_ready = app
        .readiness
        .iter()
        .filter(|p| p.part == "while")
        .all(|p| p.met);
    let secret = app.secret.clone().map(|s| {
        view! {
            <div class="notice secret" role="status">
                <p><strong>"Client secret: "</strong><code data-testid="client-secret">{s}</code></p>
                <p class="small">"Copy it now: it is not shown again."</p>
            </div>
        }
    });
    let regenerated = move || {
        regenerate.value().get().map(|result| match result {
            Ok(s) => view! {
                <div class="notice secret" role="status">
                    <p><strong>"New client secret: "</strong><code data-testid="client-secret">{s}</code></p>
                    <p class="small">"Copy it now: it is not shown again. The old secret no longer works."</p>
                </div>
            }
            .into_any(),
            Err(error) => view! { <Failure error/> }.into_any(),
        })
    };
    let authorized = app
        .authorized
        .clone()
        .into_iter()
        .map(|a| {
            let (id, api) = (app.id.clone(), a.id.clone());
            view! {
                <tr>
                    <td>{a.name.clone()}<br/><code class="small">{a.identifier.clone()}</code></td>
                    <td>{a.scopes.join(" ")}</td>
                    <td>
                        <ActionForm action=apis>
                            <input type="hidden" name="id" value=id/>
                            <input type="hidden" name="api" value=api/>
                            <input type="hidden" name="authorize" value="no"/>
                            <button type="submit" aria-label=format!("Remove {}", a.name)>"Remove"</button>
                        </ActionForm>
                    </td>
                </tr>
            }
        })
        .collect_view();
    let options = app
        .available
        .iter()
        .map(|a| view! { <option value=a.id.clone()>{format!("{} ({})", a.name, a.identifier)}</option> })
        .collect_view();
    let (from_list, while_list) = (readiness("from"), readiness("while"));
    let (save_id, apis_id, secret_id) = (app.id.clone(), app.id.clone(), app.id.clone());
    view! {
        <div class="heading">
            <h1>{app.name.clone()}</h1>
        </div>
        <p class="muted">"Client id: "<code>{app.client_id.clone()}</code>
            {if app.public_client { " · public client" } else { " · confidential client" }}</p>
        {secret}
        {regenerated}

        <section class="card readiness" aria-labelledby="readiness-heading">
            <h2 id="readiness-heading">"Impersonation readiness"</h2>
            <h3>{if from_ready { "Ready to impersonate from this application" } else { "To impersonate from this application" }}</h3>
            <ul aria-label="Impersonating from this application">{from_list}</ul>
            <h3>{if while_ready { "Ready to be used while impersonating" } else { "To be used while impersonating" }}</h3>
            <ul aria-label="Used while impersonating">{while_list}</ul>
        </section>

        <ActionForm action=save attr:class="card app-settings">
            {outcome}
            <input type="hidden" name="form[id]" value=save_id/>
            <h2>"General"</h2>
            <label for="app-name">"Name"</label>
            <input id="app-name" name="form[name]" type="text" value=app.name.clone() required/>
            {error("name")}
            <label for="app-description">"Description"</label>
            <input id="app-description" name="form[description]" type="text" value=app.description.clone()/>

            <h2 id="protocol">"Protocol"</h2>
            <fieldset>
                <legend>"Allowed grant types"</legend>
                {grants}
            </fieldset>
            {error("grantTypes")}
            <label for="app-callbacks">"Callback URLs (one per line)"</label>
            <textarea id="app-callbacks" name="form[callback_urls]" rows="3"
                inner_html=crate::pages::textarea_html(&app.callback_urls)></textarea>
            {error("callbackURLs")}
            <Tick field="subject_token_enabled" label="Issue subject tokens (impersonation)" checked=app.subject_token_enabled/>
            <label for="app-subject-expiry">"Subject token expiry (seconds)"</label>
            <input id="app-subject-expiry" name="form[subject_token_expiry_secs]" type="number"
                value=app.subject_token_expiry_secs.to_string() required/>
            {error("subjectToken")}
            <label for="app-access-lifetime">"Access token lifetime (seconds)"</label>
            <input id="app-access-lifetime" name="form[access_token_lifetime_secs]" type="number"
                value=app.access_token_lifetime_secs.to_string() required/>
            <p class="muted small">"Access tokens are JWTs (RFC 9068) signed with the server's keys."</p>
            {error("accessToken")}
            <label for="app-access-alg">"Access token signing algorithm"</label>
            <Algorithms id="app-access-alg" field="access_token_alg" chosen=app.access_token_alg.clone()/>
            {error("accessTokenSignedResponseAlg")}
            <label for="app-id-alg">"ID token signing algorithm"</label>
            <Algorithms id="app-id-alg" field="id_token_alg" chosen=app.id_token_alg.clone()/>
            <p class="muted small">"Also signs this application's logout tokens. Every algorithm's public keys are in the JWKS."</p>
            {error("idTokenSignedResponseAlg")}
            <Tick field="refresh_for_impersonation" label="Refresh tokens for impersonated sessions" checked=app.refresh_for_impersonation/>

            <h2 id="impersonation">"Impersonation"</h2>
            <Tick field="impersonation_enabled" label="Allow impersonated sign-in (single sign-on as the impersonated user)" checked=app.impersonation_enabled/>

            <h2 id="discovery">"Discovery"</h2>
            <Tick field="discoverable" label="Discoverable in My Account" checked=app.discoverable/>
            <label for="app-access-url">"Access URL"</label>
            <input id="app-access-url" name="form[access_url]" type="url" value=app.access_url.clone()
                placeholder="https://app.example.com/"/>
            {error("accessUrl")}

            <h2>"Consent"</h2>
            <Tick field="skip_login_consent" label="Skip the consent page at sign-in" checked=app.skip_login_consent/>
            <Tick field="skip_logout_consent" label="Skip the confirmation at sign-out" checked=app.skip_logout_consent/>

            <h2 id="logout">"Sign-out"</h2>
            <label for="app-backchannel-logout">"Back-channel logout URL"</label>
            <input id="app-backchannel-logout" name="form[backchannel_logout_uri]" type="url"
                value=app.backchannel_logout_uri.clone() placeholder="https://app.example.com/backchannel-logout"
                aria-describedby="app-backchannel-logout-help"/>
            <p class="muted small" id="app-backchannel-logout-help">
                "When a session this application signed someone in through ends (they sign out, or an                  impersonation ends), the server posts a signed logout token here (OpenID Connect                  Back-Channel Logout), retrying for a day while it cannot be reached."
            </p>
            {error("backchannelLogoutUri")}
            <div class="actions"><button type="submit" class="primary">"Save settings"</button></div>
        </ActionForm>

        <section class="card" aria-labelledby="authorized-apis">
            <h2 id="authorized-apis">"Authorized APIs"</h2>
            <table class="list">
                <thead><tr><th scope="col">"API"</th><th scope="col">"Scopes"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                <tbody>{authorized}</tbody>
            </table>
            <ActionForm action=apis attr:class="toolbar">
                <input type="hidden" name="id" value=apis_id/>
                <input type="hidden" name="authorize" value="yes"/>
                <label for="app-api" class="visually-hidden">"API to authorize"</label>
                <select id="app-api" name="api">{options}</select>
                <button type="submit">"Authorize"</button>
            </ActionForm>
        </section>

        {(!app.public_client).then(|| view! {
            <section class="card" aria-labelledby="secret-heading">
                <h2 id="secret-heading">"Client secret"</h2>
                <p class="muted">"Stored only as a hash. A new one replaces the old one at once."</p>
                <ActionForm action=regenerate>
                    <input type="hidden" name="id" value=secret_id.clone()/>
                    <button type="submit">"Regenerate secret"</button>
                </ActionForm>
            </section>
        })}
    }
}
