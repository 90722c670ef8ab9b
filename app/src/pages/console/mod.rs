//! The Console: the administrators' pages, each inside [`ConsoleLayout`] (top bar, the
//! navigation, the page). One module per page:
//!
//! - `overview`: the first page's impersonation desk (requests to decide, running
//!   impersonations)
//! - `users`: the Users list and a user's page, with **Impersonate User**
//! - `sessions`: impersonation sessions, with **End**
//! - `applications`: applications, their settings, APIs, secret and readiness
//! - `organizations`: the organization tree and invitations
//! - `roles`: roles, their scopes and users
//! - `settings`: Login & Registration > Impersonation
//! - `email_templates`: Branding > Email Templates
//! - `webhooks`: webhook subscriptions, their secrets and delivery logs
//! - `audit`: the audit log

pub mod applications;
pub mod audit;
pub mod email_templates;
pub mod organizations;
pub mod overview;
pub mod roles;
pub mod sessions;
pub mod settings;
pub mod users;
pub mod webhooks;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;
use serde::{Deserialize, Serialize};

/// What the Console shows of the signed-in administrator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsoleUser {
    pub username: String,
    pub display_name: String,
    pub email: String,
    /// When this browser signed in, for reading (`YYYY-MM-DD HH:MM UTC`).
    pub signed_in: String,
}

/// The signed-in administrator. Permission: a Console session of a user holding the
/// management scope `internal_user_mgt_view` (the Administrator role).
#[server]
pub async fn get_console_user() -> Result<ConsoleUser, ServerFnError> {
    use crate::ssr::require_console_user;
    let current = require_console_user().await?;
    Ok(ConsoleUser {
        display_name: identity::users::display_name(&current.user),
        username: current.user.username,
        email: current.user.email,
        signed_in: identity::clock::display(current.session.auth_time),
    })
}

/// The Console's sections, in the navigation's order.
const SECTIONS: &[(&str, &str)] = &[
    ("/console", "Overview"),
    ("/console/users", "Users"),
    ("/console/roles", "Roles"),
    ("/console/applications", "Applications"),
    ("/console/organizations", "Organizations"),
    ("/console/impersonation-sessions", "Impersonation sessions"),
    ("/console/settings/impersonation", "Impersonation settings"),
    ("/console/email-templates", "Email templates"),
    ("/console/webhooks", "Webhooks"),
    ("/console/audit", "Audit log"),
];

/// Top bar, navigation and the page's main region.
#[component]
pub fn ConsoleLayout(title: &'static str, children: Children) -> impl IntoView {
    let location = use_location();
    let path = location.pathname.get_untracked();
    let links = SECTIONS
        .iter()
        .map(|(href, label)| {
            let current = if *href == "/console" {
                path == "/console"
            } else {
                path.starts_with(href)
            };
            view! {
                <li>
                    <a href=*href aria-current=current.then_some("page")>{*label}</a>
                </li>
            }
        })
        .collect_view();
    view! {
        <Title text=title/>
        <header class="topbar">
            <span class="brand">"Identity Server"</span>
            <span class="area">"Console"</span>
            <form method="post" action="/logout" class="signout">
                <button type="submit" class="link">"Sign out"</button>
            </form>
        </header>
        <div class="console">
            <nav class="sidebar" aria-label="Console">
                <ul>{links}</ul>
            </nav>
            <main class="page">{children()}</main>
        </div>
    }
}

pub use crate::pages::Failure;

/// `GET /console`: the landing page of the Console, with the impersonation desk.
#[component]
pub fn ConsoleHome() -> impl IntoView {
    let user = Resource::new(|| (), |_| get_console_user());
    let details_open = RwSignal::new(false);
    view! {
        <ConsoleLayout title="Console">
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match user.await {
                        Ok(user) => view! {
                            <h1>{format!("Welcome, {}", user.display_name)}</h1>
                            <section class="card">
                                <p>"You are signed in to the Console as "
                                    <strong>{user.username.clone()}</strong>"."</p>
                                <button
                                    type="button"
                                    aria-expanded=move || details_open.get().to_string()
                                    aria-controls="session-details"
                                    on:click=move |_| details_open.update(|open| *open = !*open)
                                >
                                    {move || if details_open.get() {
                                        "Hide session details"
                                    } else {
                                        "Show session details"
                                    }}
                                </button>
                                <dl id="session-details" class="details"
                                    hidden=move || !details_open.get()>
                                    <dt>"Username"</dt><dd>{user.username.clone()}</dd>
                                    <dt>"Email"</dt><dd>{user.email.clone()}</dd>
                                    <dt>"Signed in"</dt>
                                    <dd><time>{user.signed_in.clone()}</time></dd>
                                </dl>
                            </section>
                        }.into_any(),
                        Err(error) => view! {
                            <h1>"No access"</h1>
                            <Failure error/>
                        }.into_any(),
                    }
                })}
            </Suspense>
            <overview::Desk/>
        </ConsoleLayout>
    }
}

/// The message of a form's refusal that is about `field` (the server names the field:
/// one `field: message` line per problem).
pub fn field_message(error: &ServerFnError, field: &str) -> Option<String> {
    let prefix = format!("{field}: ");
    let messages: Vec<String> = crate::pages::error_text(error)
        .lines()
        .filter_map(|line| line.strip_prefix(&prefix).map(str::to_owned))
        .collect();
    (!messages.is_empty()).then(|| messages.join(" "))
}

/// The message of a form's refusal when it is about none of `fields`.
pub fn form_message(error: &ServerFnError, fields: &[&str]) -> Option<String> {
    let text = crate::pages::error_text(error);
    let about_a_field = text
        .lines()
        .any(|line| fields.iter().any(|f| line.starts_with(&format!("{f}: "))));
    (!about_a_field).then_some(text)
}

/// Links to the pages before and after the current one of a paged list.
#[component]
pub fn Pager(
    /// The page shown, from 1.
    page: u64,
    /// How many pages there are (at least 1).
    pages: u64,
    /// The address of page `n`.
    href: impl Fn(u64) -> String + Send + 'static,
) -> impl IntoView {
    view! {
        <nav class="pager" aria-label="Pages">
            {(page > 1).then(|| view! { <a href=href(page - 1) rel="prev">"Previous"</a> })}
            <span>{format!("Page {page} of {pages}")}</span>
            {(page < pages).then(|| view! { <a href=href(page + 1) rel="next">"Next"</a> })}
        </nav>
    }
}

/// A query string from pairs, leaving out empty values.
pub fn query_string(pairs: &[(&str, String)]) -> String {
    let encoded: Vec<String> = pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect();
    if encoded.is_empty() {
        String::new()
    } else {
        format!("?{}", encoded.join("&"))
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::query_string;

    #[test]
    fn query_strings_leave_out_empty_values_and_encode_the_rest() {
        assert_eq!(query_string(&[("q", String::new())]), "");
        assert_eq!(
            query_string(&[("q", "a b&c".into()), ("page", "2".into())]),
            "?q=a%20b%26c&page=2"
        );
    }
}
