//! Login & Registration > Impersonation: the email notification toggle, whether a reason
//! is required, the sessions' hard limit, a fresh sign-in before impersonating, and a
//! help-desk ticket, the default mode, and whose approval an impersonation needs, for the
//! administrator's organization.

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
    pub reauthenticate_within_minutes: i64,
    pub ticket_required: bool,
    pub ticket_pattern: String,
    /// The default mode of a session: `full` or `readOnly`.
    pub default_read_only: bool,
    pub allow_full_mode: bool,
    /// `none`, `user`, `administrator` or `userAndAdministrator`.
    pub approval: String,
    pub request_expiry_minutes: i64,
    pub approval_window_minutes: i64,
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
        reauthenticate_within_minutes: s.reauthenticate_within_minutes,
        ticket_required: s.ticket_required,
        ticket_pattern: s.ticket_pattern,
        default_read_only: s.default_mode == identity::settings::Mode::ReadOnly,
        allow_full_mode: s.allow_full_mode,
        approval: s.approval.as_str().to_owned(),
        request_expiry_minutes: s.request_expiry_minutes,
        approval_window_minutes: s.approval_window_minutes,
    })
}

/// The settings form as posted (`settings[field]`; a checkbox left unticked is absent).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SettingsInput {
    enable_email_notification: Option<String>,
    require_reason: Option<String>,
    max_session_duration_minutes: String,
    reauthenticate_within_minutes: Option<String>,
    ticket_required: Option<String>,
    ticket_pattern: Option<String>,
    default_mode: Option<String>,
    allow_full_mode: Option<String>,
    approval: Option<String>,
    request_expiry_minutes: Option<String>,
    approval_window_minutes: Option<String>,
}

/// Saves the settings. Permission: the Console and `internal_config_update`.
#[server]
pub async fn save_impersonation_settings(settings: SettingsInput) -> Result<(), ServerFnError> {
    use crate::ssr::{context, internal, invalid, require_console_scope};
    use identity::settings::Mode;
    let SettingsInput {
        enable_email_notification,
        require_reason,
        max_session_duration_minutes,
        reauthenticate_within_minutes,
        ticket_required,
        ticket_pattern,
        default_mode,
        allow_full_mode,
        approval,
        request_expiry_minutes,
        approval_window_minutes,
    } = settings;
    let defaults = identity::settings::Impersonation::default();
    let me = require_console_scope("internal_config_update").await?.user;
    let organization = crate::ssr::own_organization(&me, "internal_config_update").await?;
    let minutes = |text: &str, label: &str| {
        text.trim()
            .parse::<i64>()
            .map_err(|_| invalid(&format!("{label}: a whole number of minutes.")))
    };
    let mut value = identity::settings::Impersonation {
        enable_email_notification: enable_email_notification.is_some(),
        require_reason: require_reason.is_some(),
        max_session_duration_minutes: minutes(
            &max_session_duration_minutes,
            "Maximum session duration",
        )?,
        reauthenticate_within_minutes: match reauthenticate_within_minutes.as_deref() {
            None | Some("") => 0,
            Some(text) => minutes(text, "Ask for the password again")?,
        },
        ticket_required: ticket_required.is_some(),
        ticket_pattern: ticket_pattern.unwrap_or_default().trim().to_owned(),
        default_mode: match default_mode.as_deref() {
            None => Mode::Full,
            Some(text) => {
                Mode::parse(text).ok_or_else(|| invalid("Default mode: full or read-only."))?
            }
        },
        allow_full_mode: allow_full_mode.is_some(),
        approval: match approval.as_deref() {
            None => identity::settings::Approval::None,
            Some(text) => identity::settings::Approval::parse(text)
                .ok_or_else(|| invalid("Approval: none, the user, an administrator, or both."))?,
        },
        request_expiry_minutes: match request_expiry_minutes.as_deref() {
            None | Some("") => defaults.request_expiry_minutes,
            Some(text) => minutes(text, "A request expires after")?,
        },
        approval_window_minutes: match approval_window_minutes.as_deref() {
            None | Some("") => defaults.approval_window_minutes,
            Some(text) => minutes(text, "An approval is valid for")?,
        },
        // Not on this form: kept as they are (below).
        rules: Vec::new(),
    };
    let db = context()?.db;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    value.rules = identity::settings::impersonation(&txn, organization)
        .await
        .map_err(internal)?
        .rules;
    value
        .validate()
        .map_err(|refused| invalid(&refused.message))?;
    identity::settings::set_impersonation(&txn, organization, &value)
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
            <RulesSection/>
        </ConsoleLayout>
    }
}

/// The ranges the form offers (the settings' own limits; also known to the browser).
mod identity_limits {
    pub const REQUEST_EXPIRY: i64 = 7 * 24 * 60;
    pub const APPROVAL_WINDOW: i64 = 24 * 60;
    #[cfg(feature = "ssr")]
    const _: () = assert!(
        REQUEST_EXPIRY == identity::settings::MAX_REQUEST_EXPIRY_MINUTES
            && APPROVAL_WINDOW == identity::settings::MAX_APPROVAL_WINDOW_MINUTES
    );
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
                <input id="s-notify" type="checkbox" name="settings[enable_email_notification]" value="on"
                    checked=settings.enable_email_notification/>
                <label for="s-notify">"Notify the user by email when an impersonation starts"</label>
            </div>
            <div class="check">
                <input id="s-reason" type="checkbox" name="settings[require_reason]" value="on"
                    checked=settings.require_reason/>
                <label for="s-reason">"Require a reason to impersonate"</label>
            </div>
            <label for="s-duration">"Maximum session duration (minutes)"</label>
            <input id="s-duration" type="number" name="settings[max_session_duration_minutes]" min="1"
                max=settings.limit_minutes value=settings.max_session_duration_minutes
                aria-describedby="s-duration-help" required/>
            <p id="s-duration-help" class="muted small">
                {format!("A session ends by itself after this time; at most {} minutes.", settings.limit_minutes)}
            </p>
            <label for="s-reauthenticate">"Ask for the password again (minutes)"</label>
            <input id="s-reauthenticate" type="number" name="settings[reauthenticate_within_minutes]"
                min="0" max="60" value=settings.reauthenticate_within_minutes
                aria-describedby="s-reauthenticate-help"/>
            <p id="s-reauthenticate-help" class="muted small">
                "Starting an impersonation needs a password entered within this many minutes; 0 turns it off."
            </p>
            <div class="check">
                <input id="s-ticket" type="checkbox" name="settings[ticket_required]" value="on"
                    checked=settings.ticket_required/>
                <label for="s-ticket">"Require a ticket to impersonate"</label>
            </div>
            <label for="s-ticket-pattern">"Ticket format"</label>
            <input id="s-ticket-pattern" type="text" name="settings[ticket_pattern]" maxlength="200"
                value=settings.ticket_pattern aria-describedby="s-ticket-pattern-help"/>
            <p id="s-ticket-pattern-help" class="muted small">
                "A regular expression every ticket must match whole, such as SUP-[0-9]+; empty accepts any ticket."
            </p>
            <label for="s-mode">"Default mode"</label>
            <select id="s-mode" name="settings[default_mode]" aria-describedby="s-mode-help">
                <option value="full" selected=!settings.default_read_only>"Full"</option>
                <option value="readOnly" selected=settings.default_read_only>"Read-only"</option>
            </select>
            <p id="s-mode-help" class="muted small">
                "A read-only session's tokens say so, carry only each application's read-only scopes, and cannot change anything here."
            </p>
            <div class="check">
                <input id="s-full" type="checkbox" name="settings[allow_full_mode]" value="on"
                    checked=settings.allow_full_mode/>
                <label for="s-full">"Allow full sessions"</label>
            </div>
            <label for="s-approval">"Approval"</label>
            <select id="s-approval" name="settings[approval]" aria-describedby="s-approval-help">
                {[
                    ("none", "None: impersonate directly"),
                    ("user", "The user's"),
                    ("administrator", "A second administrator's"),
                    ("userAndAdministrator", "The user's and a second administrator's"),
                ].into_iter().map(|(value, label)| view! {
                    <option value=value selected=settings.approval == value>{label}</option>
                }).collect_view()}
            </select>
            <p id="s-approval-help" class="muted small">
                "Whose approval an impersonation needs: the administrator requests access, and starts once it is approved."
            </p>
            <label for="s-expiry">"A request expires after (minutes)"</label>
            <input id="s-expiry" type="number" name="settings[request_expiry_minutes]" min="5"
                max=identity_limits::REQUEST_EXPIRY value=settings.request_expiry_minutes
                aria-describedby="s-expiry-help"/>
            <p id="s-expiry-help" class="muted small">"A request nobody decides within this time expires."</p>
            <label for="s-window">"An approval is valid for (minutes)"</label>
            <input id="s-window" type="number" name="settings[approval_window_minutes]" min="1"
                max=identity_limits::APPROVAL_WINDOW value=settings.approval_window_minutes
                aria-describedby="s-window-help"/>
            <p id="s-window-help" class="muted small">"An approved request starts one session, within this time."</p>
            <div class="actions"><button type="submit" class="primary">"Save"</button></div>
        </ActionForm>
    }
}

/// A rule of who may impersonate whom, for reading.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleRow {
    pub text: String,
}

/// A choice of a select: (value, label).
pub type Choice = (String, String);

/// The organization's rules, and what a new one may name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RulesForm {
    pub rules: Vec<RuleRow>,
    pub roles: Vec<Choice>,
    pub organizations: Vec<Choice>,
}

/// Permission: the Console and `internal_config_view`.
#[server]
pub async fn get_rules() -> Result<RulesForm, ServerFnError> {
    use crate::ssr::{context, internal, require_console_scope};
    use identity::settings::Effect;
    let me = require_console_scope("internal_config_view").await?.user;
    let organization = crate::ssr::own_organization(&me, "internal_config_view").await?;
    let db = context()?.db;
    let reach = identity::organizations::Reach::of(&db, &[organization])
        .await
        .map_err(internal)?;
    let roles = identity::roles::within(&db, &reach)
        .await
        .map_err(internal)?;
    let organizations: Vec<Choice> = identity::organizations::list(&db)
        .await
        .map_err(internal)?
        .into_iter()
        .filter(|o| reach.contains(o.id))
        .map(|o| (o.id.to_string(), o.name))
        .collect();
    let role_name = |id: uuid::Uuid| {
        roles
            .iter()
            .find(|r| r.id == id)
            .map_or_else(|| "(a deleted role)".to_owned(), |r| r.name.clone())
    };
    let organization_name = |id: uuid::Uuid| {
        organizations
            .iter()
            .find(|(o, _)| *o == id.to_string())
            .map_or_else(|| "(a deleted organization)".to_owned(), |(_, n)| n.clone())
    };
    let settings = identity::settings::impersonation(&db, organization)
        .await
        .map_err(internal)?;
    let rules = settings
        .rules
        .iter()
        .map(|rule| {
            let verb = match rule.effect {
                Effect::Allow => "may",
                Effect::Deny => "may not",
            };
            let whom = match (rule.target_role, rule.target_organization) {
                (None, None) => "anyone".to_owned(),
                (Some(r), None) => format!("members of {}", role_name(r)),
                (None, Some(o)) => format!("users of {}", organization_name(o)),
                (Some(r), Some(o)) => {
                    format!("members of {} in {}", role_name(r), organization_name(o))
                }
            };
            RuleRow {
                text: format!(
                    "Members of {} {verb} impersonate {whom}.",
                    role_name(rule.impersonator_role)
                ),
            }
        })
        .collect();
    Ok(RulesForm {
        rules,
        roles: roles
            .iter()
            .map(|r| (r.id.to_string(), r.name.clone()))
            .collect(),
        organizations,
    })
}

/// Changes the rules: `remove` (an index) takes one out; otherwise a rule made of the
/// other fields is added last. Permission: the Console and `internal_config_update`.
#[server]
pub async fn change_rules(
    #[server(default)] remove: String,
    #[server(default)] impersonator_role: String,
    #[server(default)] target_role: String,
    #[server(default)] target_organization: String,
    #[server(default)] effect: String,
) -> Result<(), ServerFnError> {
    use crate::ssr::{context, internal, invalid, require_console_scope};
    use identity::settings::{Effect, Rule};
    let me = require_console_scope("internal_config_update").await?.user;
    let organization = crate::ssr::own_organization(&me, "internal_config_update").await?;
    let db = context()?.db;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    let mut value = identity::settings::impersonation(&txn, organization)
        .await
        .map_err(internal)?;
    let id = |text: &str, what: &str| {
        uuid::Uuid::parse_str(text.trim()).map_err(|_| invalid(&format!("Choose {what}.")))
    };
    let optional = |text: &str, what: &str| match text.trim() {
        "" => Ok(None),
        text => id(text, what).map(Some),
    };
    if !remove.trim().is_empty() {
        let index: usize = remove
            .trim()
            .parse()
            .map_err(|_| invalid("There is no such rule."))?;
        if index >= value.rules.len() {
            return Err(invalid("There is no such rule."));
        }
        value.rules.remove(index);
    } else {
        value.rules.push(Rule {
            impersonator_role: id(&impersonator_role, "the impersonators' role")?,
            target_role: optional(&target_role, "a role")?,
            target_organization: optional(&target_organization, "an organization")?,
            effect: if effect == "deny" {
                Effect::Deny
            } else {
                Effect::Allow
            },
        });
    }
    value
        .validate()
        .map_err(|refused| invalid(&refused.message))?;
    identity::settings::check_rules(&txn, organization, &value.rules)
        .await
        .map_err(internal)?
        .map_err(|refused| invalid(&refused.message))?;
    identity::settings::set_impersonation(&txn, organization, &value)
        .await
        .map_err(internal)?;
    txn.commit().await.map_err(internal)?;
    Ok(())
}

/// Who may impersonate whom: the rules in order, each with **Remove**, and a form that
/// adds one last.
#[component]
pub fn RulesSection() -> impl IntoView {
    let change = ServerAction::<ChangeRules>::new();
    let form = Resource::new(move || change.version().get(), |_| get_rules());
    let failed = move || {
        change
            .value()
            .get()
            .and_then(Result::err)
            .map(|error| view! { <Failure error/> })
    };
    view! {
        <section class="card" aria-labelledby="rules-heading">
            <h2 id="rules-heading">"Who may impersonate whom"</h2>
            <p class="muted small">"In order: the first rule that matches decides; with rules, a pair no rule matches is refused. No rules: anyone with the Impersonator role may impersonate users of their organization who hold no more than they do, which rules never widen."</p>
            {failed}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match form.await {
                        Ok(form) => view! { <RulesEditor form change/> }.into_any(),
                        Err(error) => view! { <Failure error/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn RulesEditor(form: RulesForm, change: ServerAction<ChangeRules>) -> impl IntoView {
    let rules = if form.rules.is_empty() {
        view! { <p role="status">"No rules."</p> }.into_any()
    } else {
        let items = form
            .rules
            .into_iter()
            .enumerate()
            .map(|(n, rule)| {
                view! {
                    <li>
                        <span>{rule.text}</span>
                        <ActionForm action=change>
                            <input type="hidden" name="remove" value=n.to_string()/>
                            <button type="submit" class="link">"Remove"</button>
                        </ActionForm>
                    </li>
                }
            })
            .collect_view();
        view! { <ol class="rules" aria-label="Rules">{items}</ol> }.into_any()
    };
    let options = |choices: &[Choice]| {
        choices
            .iter()
            .map(|(value, label)| view! { <option value=value.clone()>{label.clone()}</option> })
            .collect_view()
    };
    view! {
        {rules}
        <ActionForm action=change attr:class="grid-form">
            <label for="rule-impersonators">"Members of"</label>
            <select id="rule-impersonators" name="impersonator_role" required>
                {options(&form.roles)}
            </select>
            <label for="rule-effect">"May"</label>
            <select id="rule-effect" name="effect">
                <option value="allow">"may impersonate"</option>
                <option value="deny">"may not impersonate"</option>
            </select>
            <label for="rule-target-role">"Members of role"</label>
            <select id="rule-target-role" name="target_role">
                <option value="">"Any role"</option>
                {options(&form.roles)}
            </select>
            <label for="rule-target-organization">"In organization"</label>
            <select id="rule-target-organization" name="target_organization">
                <option value="">"Any organization"</option>
                {options(&form.organizations)}
            </select>
            <div class="actions"><button type="submit">"Add rule"</button></div>
        </ActionForm>
    }
}
