//! The pages people see: the login page, the Console and My Account. Each page is rendered
//! on the server and hydrated in the browser. Server functions are the only way the
//! browser reaches data, and each one checks its caller first; tokens never reach the wasm.

pub mod pages;
pub mod routes;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    Lazy, SsrMode,
    components::{Route, Router, Routes},
    path,
};

/// The HTML document around every page: head, stylesheet, hydration scripts.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="stylesheet" href="/pkg/main.css"/>
                <link rel="icon" type="image/svg+xml" href="/pkg/favicon.svg"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The routes of the server-rendered pages. Every page renders with `SsrMode::Async`:
/// the server waits for its data and sends complete HTML, so that it reads and works the
/// same with JavaScript off (streamed fragments would need a script to be put in place).
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=|page: String| format!("{page} · Identity Server")/>
        <Router>
            <Routes fallback=pages::NotFound>
                <Route path=path!("/login") view={Lazy::<routes::Login>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/console") view={Lazy::<routes::ConsoleHome>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/console/users") view={Lazy::<routes::Users>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/console/users/:id") view={Lazy::<routes::User>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/console/applications") view={Lazy::<routes::Applications>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/console/applications/:id") view={Lazy::<routes::Application>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/console/organizations") view={Lazy::<routes::Organizations>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/console/roles") view={Lazy::<routes::Roles>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/console/roles/:id") view={Lazy::<routes::Role>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/console/impersonation-sessions") view={Lazy::<routes::ImpersonationSessions>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/console/settings/impersonation") view={Lazy::<routes::ImpersonationSettings>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/console/email-templates") view={Lazy::<routes::EmailTemplates>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/console/webhooks") view={Lazy::<routes::Webhooks>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/console/webhooks/:id") view={Lazy::<routes::Webhook>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/console/audit") view={Lazy::<routes::Audit>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/myaccount") view={Lazy::<routes::MyAccountHome>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/myaccount/profile") view={Lazy::<routes::Profile>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/myaccount/security") view={Lazy::<routes::Security>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/myaccount/history") view={Lazy::<routes::History>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/myaccount/access-requests") view={Lazy::<routes::AccessRequests>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/consent") view={Lazy::<routes::Consent>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/logout") view={Lazy::<routes::Logout>::new()} ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}
