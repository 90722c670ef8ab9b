//! Login & Registration > Impersonation: the email notification toggle, whether a reason
//! is required, and the sessions' hard limit, for the administrator's organization.

use super::{ConsoleLayout, Failure};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The settings as the form shows them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImpersonationSettings {
    pub enable_email_notification: bool,
    pub require_reason: bool,
    pub max_session_duration_minutes: i64,
    /// The longest a session may be allowed to last.
    pub limit_minutes: i64,
}

/// Permission: the Console and `internal_config_view`.
#[server]
pub async fn get_impersonation_settings() -> Result<ImpersonationSettings, ServerFnError> {
    use crate::ssr::{context, internal, require_console_scope};
    let me = require_console_scope("internal_config_view").await?.user;
    let organization = crate::ssr::own_organization(&me, "internal_config_view").await?;
    let s = identity::settings::impersonation(&context()?.db, organization)
        .await
        .map_err(internal)?;
    Ok(ImpersonationSettings {
        enable_email_notification: s.enable_email_notification,
        require_reason: s.require_reason,
        max_session_duration_minutes: s.max_session_duration_minutes,
        limit_minutes: identity::settings::MAX_DURATION_MINUTES,
    })
}

/// Saves the settings (a checkbox left unticked is absent from the form). Permission: the
/// Console and `internal_config_update`.
#[server]
pub async fn save_impersonation_settings(
    enable_email_notification: Option<String>,
    require_reason: Option<String>,
    max_session_duration_minutes: String,
) -> Result<(), ServerFnError> {
    use crate::ssr::{context, internal, invalid, require_console_scope};
    let me = require_console_scope("internal_config_update").await?.user;
    let organization = crate::ssr::own_organization(&me, "internal_config_update").await?;
    let limit = identity::settings::MAX_DURATION_MINUTES;
    let minutes = max_session_duration_minutes
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|m| (1..=limit).contains(m))
        .ok_or_else(|| {
            invalid(&format!(
                "The maximum duration must be a whole number of minutes from 1 to {limit}."
            ))
        })?;
    let db = context()?.db;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    identity::settings::set_impersonation(
        &txn,
        organization,
        identity::settings::Impersonation {
            enable_email_notification: enable_email_notification.is_some(),
            require_reason: require_reason.is_some(),
            max_session_duration_minutes: minutes,
        },
    )
    .await
    .map_err(internal)?;
    txn.commit().await.map_err(internal)?;
    Ok(())
}

/// `GET /console/settings/impersonation`
#[component]
pub fn ImpersonationSettingsPage() -> impl IntoView {
    let save = ServerAction::<SaveImpersonationSettings>::new();
    let settings = Resource::new(
        move || save.version().get(),
        |_| get_impersonation_settings(),
    );
    view! {
        <ConsoleLayout title="Impersonation settings">
            <p class="muted">"Login & Registration"</p>
            <h1>"Impersonation"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match settings.await {
                        Ok(s) => view! { <SettingsForm settings=s save/> }.into_any(),
                        Err(error) => view! { <Failure error/> }.into_any(),
                    }
                })}
            </Suspense>
        </ConsoleLayout>
    }
}

#[component]
fn SettingsForm(
    settings: ImpersonationSettings,
    save: ServerAction<SaveImpersonationSettings>,
) -> impl IntoView {
    let outcome = move || {
        save.value().get().map(|result| match result {
            Ok(()) => view! { <p class="notice" role="status">"Saved."</p> }.into_any(),
            Err(error) => view! { <Failure error/> }.into_any(),
        })
    };
    view! {
        <ActionForm action=save attr:class="card settings">
            {outcome}
            <div class="check">
                <input id="s-notify" type="checkbox" name="enable_email_notification" value="on"
                    checked=settings.enable_email_notification/>
                <label for="s-notify">"Notify the user by email when an impersonation starts"</label>
            </div>
            <div class="check">
                <input id="s-reason" type="checkbox" name="require_reason" value="on"
                    checked=settings.require_reason/>
                <label for="s-reason">"Require a reason to impersonate"</label>
            </div>
            <label for="s-duration">"Maximum session duration (minutes)"</label>
            <input id="s-duration" type="number" name="max_session_duration_minutes" min="1"
                max=settings.limit_minutes value=settings.max_session_duration_minutes
                aria-describedby="s-duration-help" required/>
            <p id="s-duration-help" class="muted small">
                {format!("A session ends by itself after this time; at most {} minutes.", settings.limit_minutes)}
            </p>
            <div class="actions"><button type="submit" class="primary">"Save"</button></div>
        </ActionForm>
    }
}
