//! Webhooks: the organization's subscriptions (`/console/webhooks`), and one
//! subscription's settings, secret rotation and delivery log with **Redeliver**
//! (`/console/webhooks/:id`). The signing secret is shown once, on the webhook's page
//! right after it is made (also without JavaScript: the page load shows it and forgets
//! it).

use super::{ConsoleLayout, Failure};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

/// The event types a subscription may ask for: (type, what it means).
pub const EVENT_TYPES: &[(&str, &str)] = &[
    (
        "impersonation.requested",
        "An administrator asked to impersonate a user",
    ),
    (
        "impersonation.approved",
        "An impersonation request was approved",
    ),
    (
        "impersonation.denied",
        "An impersonation request was denied",
    ),
    ("impersonation.started", "An impersonation started"),
    ("impersonation.ended", "An impersonation ended, and how"),
    ("user.locked", "A user was locked"),
    ("user.disabled", "A user was disabled"),
    ("user.password-changed", "A user's password was set"),
    (
        "session.revoked",
        "Someone signed out, or a token was revoked",
    ),
    ("signing-key.rotated", "The signing keys were rotated"),
];

/// A subscription as the pages show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookRow {
    pub id: String,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
}

/// One delivery of the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRow {
    pub id: String,
    pub event_type: String,
    pub created: String,
    pub status: String,
    pub attempts: i32,
    pub response: Option<i32>,
    pub error: String,
}

/// A subscription with its latest deliveries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookDetails {
    pub webhook: WebhookRow,
    /// The signing secret, this once (just made or rotated).
    pub secret: Option<String>,
    pub deliveries: Vec<DeliveryRow>,
}

#[cfg(feature = "ssr")]
fn row(hook: &identity::entities::webhook::Model) -> WebhookRow {
    WebhookRow {
        id: hook.id.to_string(),
        url: hook.url.clone(),
        description: hook.description.clone(),
        event_types: hook.event_types.0.clone(),
        enabled: hook.enabled,
    }
}

#[cfg(feature = "ssr")]
fn problems(problems: Vec<(&'static str, String)>) -> ServerFnError {
    let text: Vec<String> = problems.iter().map(|(f, m)| format!("{f}: {m}")).collect();
    crate::ssr::invalid(&text.join("\n"))
}

/// The caller's organization, after checking the Console and `scope`.
#[cfg(feature = "ssr")]
async fn organization(
    scope: &str,
) -> Result<(identity::entities::user::Model, uuid::Uuid), ServerFnError> {
    let me = crate::ssr::require_console_scope(scope).await?.user;
    let organization = crate::ssr::own_organization(&me, scope).await?;
    Ok((me, organization))
}

#[cfg(feature = "ssr")]
async fn find(
    db: &identity::DatabaseConnection,
    organization: uuid::Uuid,
    id: &str,
) -> Result<identity::entities::webhook::Model, ServerFnError> {
    let missing = || crate::ssr::invalid("There is no webhook with this id.");
    let id = uuid::Uuid::parse_str(id).map_err(|_| missing())?;
    identity::events::webhooks::find(db, organization, id)
        .await
        .map_err(crate::ssr::internal)?
        .ok_or_else(missing)
}

/// Permission: the Console and `internal_webhook_view`.
#[server]
pub async fn list_webhooks() -> Result<Vec<WebhookRow>, ServerFnError> {
    use crate::ssr::{context, internal};
    let (_, organization) = organization("internal_webhook_view").await?;
    let hooks = identity::events::webhooks::list(&context()?.db, organization)
        .await
        .map_err(internal)?;
    Ok(hooks.iter().map(row).collect())
}

/// The form that adds or changes a subscription (a ticked type is listed).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookForm {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub event_types: Vec<String>,
    pub enabled: Option<String>,
}

/// Adds a subscription and opens its page, which shows its secret once. Permission: the
/// Console and `internal_webhook_update`.
#[server]
pub async fn create_webhook(form: WebhookForm) -> Result<(), ServerFnError> {
    use crate::ssr::{context, internal};
    use identity::events::webhooks;
    let (me, organization) = organization("internal_webhook_update").await?;
    let ctx = context()?;
    let wanted = webhooks::Subscription {
        url: form.url,
        description: form.description,
        event_types: form.event_types,
        enabled: true,
    };
    let txn = identity::store::db::begin_write(&ctx.db)
        .await
        .map_err(internal)?;
    let (hook, _) = webhooks::create(&txn, organization, wanted, &ctx.outbound)
        .await
        .map_err(internal)?
        .map_err(problems)?;
    webhooks::reveal_once(&txn, &hook, me.id)
        .await
        .map_err(internal)?;
    let action = identity::audit::action::WEBHOOK_CREATED;
    webhooks::record_change(&txn, action, Some(me.id.to_string()), &hook)
        .await
        .map_err(internal)?;
    txn.commit().await.map_err(internal)?;
    leptos_axum::redirect(&format!("/console/webhooks/{}", hook.id));
    Ok(())
}

/// A subscription and its latest 50 deliveries, with its secret if it was just made
/// (shown once). Permission: the Console and `internal_webhook_view`.
#[server]
pub async fn get_webhook(id: String) -> Result<WebhookDetails, ServerFnError> {
    use crate::ssr::{context, internal};
    let (me, organization) = organization("internal_webhook_view").await?;
    let db = context()?.db;
    let hook = find(&db, organization, &id).await?;
    // Only to the administrator who made or rotated it, and only while they may change it.
    let secret = match hook.reveal_secret_to == Some(me.id) {
        true if identity::roles::holds_organization_scope(
            &db,
            me.id,
            "internal_webhook_update",
        )
        .await
        .map_err(internal)? =>
        {
            let txn = identity::store::db::begin_write(&db)
                .await
                .map_err(internal)?;
            let secret = identity::events::webhooks::take_secret(&txn, &hook, me.id)
                .await
                .map_err(internal)?;
            txn.commit().await.map_err(internal)?;
            secret
        }
        _ => None,
    };
    let log = identity::events::webhooks::deliveries(&db, hook.id, 50)
        .await
        .map_err(internal)?;
    Ok(WebhookDetails {
        webhook: row(&hook),
        secret,
        deliveries: log
            .iter()
            .map(|d| DeliveryRow {
                id: d.id.to_string(),
                event_type: d.payload["type"].as_str().unwrap_or_default().to_owned(),
                created: identity::clock::display_seconds(d.created_at),
                status: identity::events::outbox::status(d).to_owned(),
                attempts: d.attempts,
                response: d.last_status,
                error: d.last_error.clone().unwrap_or_default(),
            })
            .collect(),
    })
}

/// What a change to a subscription is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    Save,
    RotateSecret,
    Delete,
}

/// Saves, rotates the secret of (the page shows the new one once), or deletes a
/// subscription. Permission: the Console and `internal_webhook_update`.
#[server]
pub async fn change_webhook(form: WebhookForm, change: Change) -> Result<(), ServerFnError> {
    use crate::ssr::{context, internal};
    use identity::audit::action;
    use identity::events::webhooks;
    let (me, organization) = organization("internal_webhook_update").await?;
    let ctx = context()?;
    let txn = identity::store::db::begin_write(&ctx.db)
        .await
        .map_err(internal)?;
    let hook = find(&ctx.db, organization, &form.id).await?;
    let (hook, done) = match change {
        Change::Save => {
            let wanted = webhooks::Subscription {
                url: form.url,
                description: form.description,
                event_types: form.event_types,
                enabled: form.enabled.is_some(),
            };
            let saved = webhooks::update(&txn, hook, wanted, &ctx.outbound)
                .await
                .map_err(internal)?
                .map_err(problems)?;
            (saved, action::WEBHOOK_UPDATED)
        }
        Change::RotateSecret => {
            let (rotated, _) = webhooks::rotate_secret(&txn, hook)
                .await
                .map_err(internal)?;
            webhooks::reveal_once(&txn, &rotated, me.id)
                .await
                .map_err(internal)?;
            (rotated, action::WEBHOOK_SECRET_ROTATED)
        }
        Change::Delete => {
            webhooks::delete(&txn, &hook).await.map_err(internal)?;
            (hook, action::WEBHOOK_DELETED)
        }
    };
    webhooks::record_change(&txn, done, Some(me.id.to_string()), &hook)
        .await
        .map_err(internal)?;
    txn.commit().await.map_err(internal)?;
    if change == Change::Delete {
        leptos_axum::redirect("/console/webhooks");
    }
    Ok(())
}

/// Sends a delivery again, now. Permission: the Console and `internal_webhook_update`.
#[server]
pub async fn redeliver(id: String, delivery: String) -> Result<(), ServerFnError> {
    use crate::ssr::{context, internal, invalid};
    use identity::events::{outbox, webhooks};
    let (me, organization) = organization("internal_webhook_update").await?;
    let db = context()?.db;
    let hook = find(&db, organization, &id).await?;
    let delivery = uuid::Uuid::parse_str(&delivery).map_err(|_| invalid("No such delivery."))?;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    if !outbox::redeliver(&txn, hook.id, delivery)
        .await
        .map_err(internal)?
    {
        return Err(invalid("No such delivery."));
    }
    let action = identity::audit::action::WEBHOOK_REDELIVERED;
    webhooks::record_change(&txn, action, Some(me.id.to_string()), &hook)
        .await
        .map_err(internal)?;
    txn.commit().await.map_err(internal)?;
    Ok(())
}

/// The event type checkboxes of a form, ticked as `chosen` says.
#[component]
fn EventTypeChoice(chosen: Vec<String>) -> impl IntoView {
    let boxes = EVENT_TYPES
        .iter()
        .enumerate()
        .map(|(i, (kind, meaning))| {
            let id = format!("wh-type-{i}");
            let ticked = chosen.iter().any(|c| c == kind);
            view! {
                <div class="check">
                    <input id=id.clone() type="checkbox" name=format!("form[event_types][{i}]")
                        value=*kind checked=ticked/>
                    <label for=id><code>{*kind}</code>" — "{*meaning}</label>
                </div>
            }
        })
        .collect_view();
    view! {
        <fieldset>
            <legend>"Events"</legend>
            {boxes}
        </fieldset>
    }
}

/// A secret shown once.
#[component]
fn SecretOnce(secret: String) -> impl IntoView {
    view! {
        <div class="notice" role="status">
            <p>"Signing secret (copy it now: it is not shown again):"</p>
            <p><code data-testid="webhook-secret">{secret}</code></p>
        </div>
    }
}

/// `GET /console/webhooks`
#[component]
pub fn WebhooksPage() -> impl IntoView {
    let create = ServerAction::<CreateWebhook>::new();
    let hooks = Resource::new(move || create.version().get(), |_| list_webhooks());
    let created = move || {
        create
            .value()
            .get()
            .and_then(Result::err)
            .map(|error| view! { <Failure error/> })
    };
    view! {
        <ConsoleLayout title="Webhooks">
            <h1>"Webhooks"</h1>
            <p class="muted">
                "Events of this organization, posted to your endpoints in the Standard Webhooks \
                 format (signed with HMAC-SHA256). A delivery that fails is retried for a day."
            </p>
            {created}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match hooks.await {
                        Ok(hooks) if hooks.is_empty() => view! { <p>"No webhooks yet."</p> }.into_any(),
                        Ok(hooks) => view! {
                            <table class="list">
                                <thead><tr><th>"Endpoint"</th><th>"Events"</th><th>"State"</th></tr></thead>
                                <tbody>
                                    {hooks.into_iter().map(|h| view! {
                                        <tr>
                                            <td><a href=format!("/console/webhooks/{}", h.id)>{h.url.clone()}</a></td>
                                            <td>{h.event_types.join(", ")}</td>
                                            <td>{if h.enabled { "Enabled" } else { "Disabled" }}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                        Err(error) => view! { <Failure error/> }.into_any(),
                    }
                })}
            </Suspense>
            <section class="card" aria-labelledby="add-webhook">
                <h2 id="add-webhook">"Add a webhook"</h2>
                <ActionForm action=create>
                    <label for="wh-url">"Endpoint URL"</label>
                    <input id="wh-url" name="form[url]" type="url" required placeholder="https://hooks.example.com/identity"/>
                    <label for="wh-description">"Description"</label>
                    <input id="wh-description" name="form[description]" type="text" maxlength="200"/>
                    <EventTypeChoice chosen=Vec::new()/>
                    <div class="actions"><button type="submit" class="primary">"Add webhook"</button></div>
                </ActionForm>
            </section>
        </ConsoleLayout>
    }
}

/// `GET /console/webhooks/:id`
#[component]
pub fn WebhookPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let change = ServerAction::<ChangeWebhook>::new();
    let again = ServerAction::<Redeliver>::new();
    let details = Resource::new(
        move || (id(), change.version().get(), again.version().get()),
        |(id, ..)| get_webhook(id),
    );
    let outcome = move || {
        let changed = change.value().get().map(|r| match r {
            Ok(()) => view! { <p class="notice" role="status">"Saved."</p> }.into_any(),
            Err(error) => view! { <Failure error/> }.into_any(),
        });
        let redelivered = again.value().get().map(|r| match r {
            Ok(()) => view! { <p class="notice" role="status">"Sent again."</p> }.into_any(),
            Err(error) => view! { <Failure error/> }.into_any(),
        });
        changed.or(redelivered)
    };
    view! {
        <ConsoleLayout title="Webhook">
            <p class="muted"><a href="/console/webhooks">"Webhooks"</a></p>
            {outcome}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match details.await {
                        Ok(details) => view! { <WebhookView details change again/> }.into_any(),
                        Err(error) => view! { <h1>"Webhook"</h1><Failure error/> }.into_any(),
                    }
                })}
            </Suspense>
        </ConsoleLayout>
    }
}

#[component]
fn WebhookView(
    details: WebhookDetails,
    change: ServerAction<ChangeWebhook>,
    again: ServerAction<Redeliver>,
) -> impl IntoView {
    let hook = details.webhook;
    let hook_id = hook.id.clone();
    let change_button = move |what: &'static str, label: &'static str| {
        let id = hook_id.clone();
        view! {
            <ActionForm action=change>
                <input type="hidden" name="form[id]" value=id/>
                <input type="hidden" name="change" value=what/>
                <button type="submit">{label}</button>
            </ActionForm>
        }
    };
    let log = details
        .deliveries
        .into_iter()
        .map(|d| {
            let (id, delivery) = (hook.id.clone(), d.id.clone());
            view! {
                <tr>
                    <td><code>{d.event_type.clone()}</code></td>
                    <td>{d.created.clone()}</td>
                    <td>{d.status.clone()}</td>
                    <td>{d.attempts}</td>
                    <td>{d.response.map(|s| s.to_string()).unwrap_or_else(|| "—".into())}</td>
                    <td>{d.error.clone()}</td>
                    <td>
                        <ActionForm action=again>
                            <input type="hidden" name="id" value=id/>
                            <input type="hidden" name="delivery" value=delivery/>
                            <button type="submit" aria-label=format!("Redeliver {} of {}", d.event_type, d.created)>"Redeliver"</button>
                        </ActionForm>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h1>{hook.url.clone()}</h1>
        {details.secret.map(|secret| view! { <SecretOnce secret/> })}
        <section class="card" aria-labelledby="webhook-settings">
            <h2 id="webhook-settings">"Settings"</h2>
            <ActionForm action=change>
                <input type="hidden" name="form[id]" value=hook.id.clone()/>
                <input type="hidden" name="change" value="Save"/>
                <label for="wh-url">"Endpoint URL"</label>
                <input id="wh-url" name="form[url]" type="url" required value=hook.url.clone()/>
                <label for="wh-description">"Description"</label>
                <input id="wh-description" name="form[description]" type="text" maxlength="200" value=hook.description.clone()/>
                <div class="check">
                    <input id="wh-enabled" type="checkbox" name="form[enabled]" value="on" checked=hook.enabled/>
                    <label for="wh-enabled">"Enabled"</label>
                </div>
                <EventTypeChoice chosen=hook.event_types.clone()/>
                <div class="actions"><button type="submit" class="primary">"Save webhook"</button></div>
            </ActionForm>
            <div class="actions">
                {change_button("RotateSecret", "Rotate secret")}
                {change_button("Delete", "Delete webhook")}
            </div>
            <p class="muted small">"After a rotation the previous secret signs beside the new one for a day."</p>
        </section>
        <section class="card" aria-labelledby="delivery-log">
            <h2 id="delivery-log">"Delivery log"</h2>
            <table class="list">
                <thead><tr>
                    <th>"Event"</th><th>"Made"</th><th>"State"</th><th>"Attempts"</th>
                    <th>"Response"</th><th>"Last error"</th><th></th>
                </tr></thead>
                <tbody>{log}</tbody>
            </table>
        </section>
    }
}
