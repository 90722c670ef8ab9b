//! The pages people see: the login page, the Console and My Account. Each page is rendered
//! on the server and hydrated in the browser. Server functions are the only way the
//! browser reaches data, and each one checks its caller first; tokens never reach the wasm.

pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
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
                <Route path=path!("/login") view=pages::login::LoginPage ssr=SsrMode::Async/>
                <Route path=path!("/console") view=pages::console::ConsoleHome ssr=SsrMode::Async/>
                <Route path=path!("/console/users") view=pages::console::users::UsersListPage ssr=SsrMode::Async/>
                <Route path=path!("/console/users/:id") view=pages::console::users::UserPage ssr=SsrMode::Async/>
                <Route path=path!("/console/applications") view=pages::console::applications::ApplicationsListPage ssr=SsrMode::Async/>
                <Route path=path!("/console/applications/:id") view=pages::console::applications::ApplicationPage ssr=SsrMode::Async/>
                <Route path=path!("/console/organizations") view=pages::console::organizations::OrganizationsPage ssr=SsrMode::Async/>
                <Route path=path!("/console/roles") view=pages::console::roles::RolesListPage ssr=SsrMode::Async/>
                <Route path=path!("/console/roles/:id") view=pages::console::roles::RolePage ssr=SsrMode::Async/>
                <Route path=path!("/console/impersonation-sessions") view=pages::console::sessions::SessionsPage ssr=SsrMode::Async/>
                <Route path=path!("/console/settings/impersonation") view=pages::console::settings::ImpersonationSettingsPage ssr=SsrMode::Async/>
                <Route path=path!("/console/email-templates") view=pages::console::email_templates::EmailTemplatesPage ssr=SsrMode::Async/>
                <Route path=path!("/console/webhooks") view=pages::console::webhooks::WebhooksPage ssr=SsrMode::Async/>
                <Route path=path!("/console/webhooks/:id") view=pages::console::webhooks::WebhookPage ssr=SsrMode::Async/>
                <Route path=path!("/console/audit") view=pages::console::audit::AuditPage ssr=SsrMode::Async/>
                <Route path=path!("/myaccount") view=pages::myaccount::MyAccountHome ssr=SsrMode::Async/>
                <Route path=path!("/myaccount/profile") view=pages::myaccount::profile::ProfilePage ssr=SsrMode::Async/>
                <Route path=path!("/myaccount/security") view=pages::myaccount::security::SecurityPage ssr=SsrMode::Async/>
                <Route path=path!("/myaccount/history") view=pages::myaccount::history::HistoryPage ssr=SsrMode::Async/>
                <Route path=path!("/myaccount/access-requests") view=pages::myaccount::access_requests::AccessRequestsPage ssr=SsrMode::Async/>
                <Route path=path!("/consent") view=pages::consent::ConsentPage ssr=SsrMode::Async/>
                <Route path=path!("/logout") view=pages::logout::LogoutPage ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}
