//! Which code each page's browser downloads. Every page is a lazily loaded route: the wasm
//! is split (`scripts/build-wasm`) at the `#[lazy]` functions below, one for each of the
//! sign-in, consent and sign-out pages, one for the whole Console and one for the whole of
//! My Account. A page loads the main module (the framework) and the chunks of its split
//! point; code that several split points share is in chunks of its own. So the sign-in page
//! and My Account never download the Console. On the server a lazy route renders like any
//! other.
//!
//! The Console and My Account are one split point each, not one per page: the splitter
//! gives every set of split points sharing code a chunk of its own, and per page that was
//! 330 chunks; the Console took 165 requests and over a second to become interactive on
//! loopback (0.3 s with the whole bundle in one module).

use crate::pages::{consent, console, login, logout, myaccount};
use leptos::prelude::*;
use leptos_router::LazyRoute;

/// The sign-in page's code: the split point of its chunk.
#[lazy]
fn login_page() -> AnyView {
    login::LoginPage().into_any()
}

/// The consent page's code: the split point of its chunk.
#[lazy]
fn consent_page() -> AnyView {
    consent::ConsentPage().into_any()
}

/// The sign-out page's code: the split point of its chunk.
#[lazy]
fn logout_page() -> AnyView {
    logout::LogoutPage().into_any()
}

/// The Console's pages.
#[derive(Clone, Copy, Debug)]
pub enum ConsolePage {
    Home,
    Users,
    User,
    Applications,
    Application,
    Organizations,
    Roles,
    Role,
    ImpersonationSessions,
    ImpersonationSettings,
    EmailTemplates,
    Webhooks,
    Webhook,
    Audit,
}

/// The Console's code: the split point of its chunk.
#[lazy]
fn console_page(page: ConsolePage) -> AnyView {
    use console::*;
    match page {
        ConsolePage::Home => ConsoleHome().into_any(),
        ConsolePage::Users => users::UsersListPage().into_any(),
        ConsolePage::User => users::UserPage().into_any(),
        ConsolePage::Applications => applications::ApplicationsListPage().into_any(),
        ConsolePage::Application => applications::ApplicationPage().into_any(),
        ConsolePage::Organizations => organizations::OrganizationsPage().into_any(),
        ConsolePage::Roles => roles::RolesListPage().into_any(),
        ConsolePage::Role => roles::RolePage().into_any(),
        ConsolePage::ImpersonationSessions => sessions::SessionsPage().into_any(),
        ConsolePage::ImpersonationSettings => settings::ImpersonationSettingsPage().into_any(),
        ConsolePage::EmailTemplates => email_templates::EmailTemplatesPage().into_any(),
        ConsolePage::Webhooks => webhooks::WebhooksPage().into_any(),
        ConsolePage::Webhook => webhooks::WebhookPage().into_any(),
        ConsolePage::Audit => audit::AuditPage().into_any(),
    }
}

/// My Account's pages.
#[derive(Clone, Copy, Debug)]
pub enum MyAccountPage {
    Home,
    Profile,
    Security,
    History,
    AccessRequests,
}

/// My Account's code: the split point of its chunk.
#[lazy]
fn my_account_page(page: MyAccountPage) -> AnyView {
    use myaccount::*;
    match page {
        MyAccountPage::Home => MyAccountHome().into_any(),
        MyAccountPage::Profile => profile::ProfilePage().into_any(),
        MyAccountPage::Security => security::SecurityPage().into_any(),
        MyAccountPage::History => history::HistoryPage().into_any(),
        MyAccountPage::AccessRequests => access_requests::AccessRequestsPage().into_any(),
    }
}

/// A route (`$route`, for the router) showing one page of an area through the area's lazy
/// function. The pages load their own data (server functions in resources), so the route
/// has none of its own. `preload` fetches the area's chunks: the router awaits it before it
/// hydrates the page the server rendered.
macro_rules! lazy_page {
    ($(#[$doc:meta])* $route:ident => $area:ident($($page:expr)?), $preload:ident) => {
        $(#[$doc])*
        pub struct $route;

        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            async fn view(_this: Self) -> AnyView {
                $area($($page)?).await
            }

            async fn preload() {
                // `#[lazy]` defines the preloading function in the browser's build only.
                #[cfg(target_arch = "wasm32")]
                $preload().await;
            }
        }
    };
}

lazy_page!(/// `/login`
    Login => login_page(), __preload_login_page);
lazy_page!(/// `/consent`
    Consent => consent_page(), __preload_consent_page);
lazy_page!(/// `/logout`
    Logout => logout_page(), __preload_logout_page);

lazy_page!(/// `/console`
    ConsoleHome => console_page(ConsolePage::Home), __preload_console_page);
lazy_page!(/// `/console/users`
    Users => console_page(ConsolePage::Users), __preload_console_page);
lazy_page!(/// `/console/users/:id`
    User => console_page(ConsolePage::User), __preload_console_page);
lazy_page!(/// `/console/applications`
    Applications => console_page(ConsolePage::Applications), __preload_console_page);
lazy_page!(/// `/console/applications/:id`
    Application => console_page(ConsolePage::Application), __preload_console_page);
lazy_page!(/// `/console/organizations`
    Organizations => console_page(ConsolePage::Organizations), __preload_console_page);
lazy_page!(/// `/console/roles`
    Roles => console_page(ConsolePage::Roles), __preload_console_page);
lazy_page!(/// `/console/roles/:id`
    Role => console_page(ConsolePage::Role), __preload_console_page);
lazy_page!(/// `/console/impersonation-sessions`
    ImpersonationSessions => console_page(ConsolePage::ImpersonationSessions), __preload_console_page);
lazy_page!(/// `/console/settings/impersonation`
    ImpersonationSettings => console_page(ConsolePage::ImpersonationSettings), __preload_console_page);
lazy_page!(/// `/console/email-templates`
    EmailTemplates => console_page(ConsolePage::EmailTemplates), __preload_console_page);
lazy_page!(/// `/console/webhooks`
    Webhooks => console_page(ConsolePage::Webhooks), __preload_console_page);
lazy_page!(/// `/console/webhooks/:id`
    Webhook => console_page(ConsolePage::Webhook), __preload_console_page);
lazy_page!(/// `/console/audit`
    Audit => console_page(ConsolePage::Audit), __preload_console_page);

lazy_page!(/// `/myaccount`
    MyAccountHome => my_account_page(MyAccountPage::Home), __preload_my_account_page);
lazy_page!(/// `/myaccount/profile`
    Profile => my_account_page(MyAccountPage::Profile), __preload_my_account_page);
lazy_page!(/// `/myaccount/security`
    Security => my_account_page(MyAccountPage::Security), __preload_my_account_page);
lazy_page!(/// `/myaccount/history`
    History => my_account_page(MyAccountPage::History), __preload_my_account_page);
lazy_page!(/// `/myaccount/access-requests`
    AccessRequests => my_account_page(MyAccountPage::AccessRequests), __preload_my_account_page);
