//! One module per area: the login page, consent, sign-out, the Console and My Account.

pub mod consent;
pub mod console;
pub mod login;
pub mod logout;
pub mod myaccount;

use leptos::prelude::*;
use leptos_meta::Title;

/// The message of a server function error, without the framework's prefix.
pub fn error_text(error: &ServerFnError) -> String {
    match error {
        ServerFnError::ServerError(message) => message.clone(),
        _ => "The server could not be reached. Try again.".to_owned(),
    }
}

/// Shows a server function's error as an alert.
#[component]
pub fn Failure(error: ServerFnError) -> impl IntoView {
    view! { <p class="error" role="alert">{error_text(&error)}</p> }
}

/// A textarea's initial content as HTML. Give it as `inner_html` rather than as a child: a
/// child carries hydration markers, which a textarea would show as text.
pub fn textarea_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;")
}

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
