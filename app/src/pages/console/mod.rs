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
    /// When this browser signed in (Unix seconds).
    pub signed_in_at: i64,
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
        signed_in_at: current.session.auth_time,
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
                                    <dd><time>{format_unix(user.signed_in_at)}</time></dd>
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

/// `YYYY-MM-DD HH:MM UTC` from Unix seconds, the same on the server and in the browser.
pub fn format_unix(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3_600,
        rem % 3_600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::format_unix;

    #[test]
    fn unix_seconds_format_as_utc_dates() {
        assert_eq!(format_unix(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_unix(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(format_unix(1_795_229_563), "2026-11-21 02:52 UTC");
    }
}
