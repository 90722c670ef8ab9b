//! The Console: the administrators' pages. For now its landing page, which proves the
//! whole pipeline (SSR, a server function, hydration); the real pages come next.

use leptos::prelude::*;
use leptos_meta::Title;
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

/// `GET /console`: the landing page of the Console.
#[component]
pub fn ConsoleHome() -> impl IntoView {
    let user = Resource::new(|| (), |_| get_console_user());
    let details_open = RwSignal::new(false);
    view! {
        <Title text="Console"/>
        <header class="topbar">
            <span class="brand">"Identity Server"</span>
            <span class="area">"Console"</span>
            <form method="post" action="/logout" class="signout">
                <button type="submit" class="link">"Sign out"</button>
            </form>
        </header>
        <main class="page">
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
                            <p class="error" role="alert">{crate::pages::error_text(&error)}</p>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}
