//! One module per area: the login page, the Console, and (later) My Account.

pub mod console;
pub mod login;

use leptos::prelude::*;
use leptos_meta::Title;

/// Shown for any path that no route matches (with status 404).
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found"/>
        <main class="centered">
            <section class="card">
                <h1>"Page not found"</h1>
                <p>"There is nothing at this address."</p>
                <p><a href="/console">"Go to the Console"</a></p>
            </section>
        </main>
    }
}
