//! My Account: every user's own pages, each inside [`MyAccountLayout`]. In an
//! impersonated session it shows who is really acting in a banner on every page, with
//! **Stop impersonating**, and offers only Applications.
//!
//! - this file: the layout, the banner, Stop, and Applications (the landing page)
//! - `profile`: one's name and email
//! - `security`: one's sessions, and signing out everywhere
//! - `history`: Access history, every impersonation of one's account
//! - `access_requests`: requests to impersonate one's account, to decide; standing
//!   support access

pub mod access_requests;
pub mod history;
pub mod profile;
pub mod security;

use crate::pages::Failure;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;
use serde::{Deserialize, Serialize};

/// Who My Account is showing, and who is really there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub username: String,
    pub display_name: String,
    pub email: String,
    /// The impersonator's username when this is an impersonated session.
    pub impersonated_by: Option<String>,
    /// The impersonated session is read-only.
    pub read_only: bool,
    /// How many seconds the impersonated session has left.
    pub remaining_secs: Option<i64>,
    /// The impersonated session may be extended (Extend).
    pub extendable: bool,
}

/// The account this browser sees in My Account: the signed-in user, or the target of the
/// impersonation this IdP session carries.
#[server]
pub async fn get_account() -> Result<Account, ServerFnError> {
    use crate::ssr::{context, internal, my_account_user};
    let (user, impersonation) = my_account_user().await?;
    let read_only = impersonation.as_ref().is_some_and(|s| s.read_only);
    let remaining_secs = impersonation
        .as_ref()
        .map(|s| (s.expires_at - identity::clock::now()).max(0));
    let extendable = impersonation
        .as_ref()
        .is_some_and(identity::impersonation::session::extendable);
    let db = context()?.db;
    let impersonated_by = match impersonation {
        Some(session) => identity::users::find(&db, session.impersonator_id)
            .await
            .map_err(internal)?
            .map(|u| u.username),
        None => None,
    };
    Ok(Account {
        display_name: identity::users::display_name(&user),
        username: user.username,
        email: user.email,
        impersonated_by,
        read_only,
        remaining_secs,
        extendable,
    })
}

/// Extend: the impersonated session of this browser lasts longer, up to its limit.
#[server]
pub async fn extend_impersonation() -> Result<(), ServerFnError> {
    use crate::ssr::{context, failure, internal, invalid, my_account_user};
    let (_, impersonation) = my_account_user().await?;
    let session = impersonation.ok_or_else(|| failure("This session is not impersonated."))?;
    let current = crate::ssr::current_session()
        .await?
        .ok_or_else(|| failure("Your session has ended. Sign in again."))?;
    let db = context()?.db;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    let extended = identity::impersonation::session::extend(&txn, &session, current.user.id)
        .await
        .map_err(internal)?;
    txn.commit().await.map_err(internal)?;
    match extended {
        Some(_) => Ok(()),
        None => Err(invalid("This session cannot be extended any further.")),
    }
}

/// Stop impersonating: ends this browser's impersonation session (revoking everything
/// derived from it) and returns the administrator to the Console, still signed in.
#[server]
pub async fn stop_impersonating() -> Result<(), ServerFnError> {
    use crate::ssr::{context, current_session, failure, internal};
    use identity::impersonation;
    let current = current_session()
        .await?
        .ok_or_else(|| failure("Your session has ended. Sign in again."))?;
    let db = context()?.db;
    if let Some(id) = current.session.impersonation_session_id
        && let Some(session) = impersonation::session::find(&db, id)
            .await
            .map_err(internal)?
    {
        let reason = impersonation::session::end_reason::STOPPED;
        impersonation::session::end_now(&db, &session, Some(current.user.id), reason)
            .await
            .map_err(internal)?;
        crate::ssr::rotate_session_cookie(&current.session).await?;
    }
    leptos_axum::redirect("/console");
    Ok(())
}

/// The banner of an impersonated session, on every My Account page: who acts, the time
/// left (counting down), **Extend** while the session may last longer, and **Stop**.
#[component]
fn ImpersonationBanner(
    target: String,
    impersonator: String,
    read_only: bool,
    remaining_secs: i64,
    extendable: bool,
    extend: ServerAction<ExtendImpersonation>,
) -> impl IntoView {
    let stop = ServerAction::<StopImpersonating>::new();
    let mode = if read_only { ", read-only" } else { "" };
    // Counts down in the browser from what the server said (the same text on both
    // sides when the page hydrates).
    let remaining = RwSignal::new(remaining_secs);
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(
            move || remaining.update(|left| *left = (*left - 1).max(0)),
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    let left = move || {
        let left = remaining.get();
        match left {
            0 => "The session has ended.".to_owned(),
            _ => format!("{} min {:02} s left", left / 60, left % 60),
        }
    };
    view! {
        <div class="banner" role="region" aria-label="Impersonation">
            <p>{format!("You are signed in as {target}, impersonated by {impersonator}{mode}.")}</p>
            <p class="remaining" role="timer" aria-live="off">{left}</p>
            {extendable.then(|| view! {
                <ActionForm action=extend>
                    <button type="submit">"Extend"</button>
                </ActionForm>
            })}
            <ActionForm action=stop>
                <button type="submit" class="danger">"Stop impersonating"</button>
            </ActionForm>
        </div>
    }
}

/// My Account's sections: (address, label, offered while impersonating).
const SECTIONS: &[(&str, &str, bool)] = &[
    ("/myaccount", "Applications", true),
    ("/myaccount/profile", "Profile", false),
    ("/myaccount/security", "Security", false),
    ("/myaccount/access-requests", "Access requests", false),
    ("/myaccount/history", "Access history", false),
];

/// The banner (when impersonated), top bar, navigation and the page. A page that is not
/// offered while impersonating says so instead of showing its content.
#[component]
pub fn MyAccountLayout(
    title: &'static str,
    /// Whether the page is offered in an impersonated session.
    #[prop(optional)]
    while_impersonating: bool,
    children: ChildrenFn,
) -> impl IntoView {
    let extend = ServerAction::<ExtendImpersonation>::new();
    let account = Resource::new(move || extend.version().get(), |_| get_account());
    let path = StoredValue::new(use_location().pathname.get_untracked());
    let children = StoredValue::new(children);
    view! {
        <Title text=title/>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match account.await {
                    Ok(account) => {
                        let impersonated = account.impersonated_by.is_some();
                        let links = SECTIONS
                            .iter()
                            .filter(|(_, _, offered)| *offered || !impersonated)
                            .map(|(href, label, _)| view! {
                                <li><a href=*href aria-current=path.with_value(|p| p == *href).then_some("page")>{*label}</a></li>
                            })
                            .collect_view();
                        let body = if impersonated && !while_impersonating {
                            view! {
                                <h1>{title}</h1>
                                <p class="muted">"This page is not available while impersonating."</p>
                            }.into_any()
                        } else {
                            children.with_value(|c| c()).into_any()
                        };
                        view! {
                            {account.impersonated_by.clone().map(|impersonator| view! {
                                <ImpersonationBanner target=account.username.clone() impersonator
                                    read_only=account.read_only
                                    remaining_secs=account.remaining_secs.unwrap_or_default()
                                    extendable=account.extendable extend/>
                            })}
                            <header class="topbar">
                                <span class="brand">"Identity Server"</span>
                                <span class="area">"My Account"</span>
                                <span class="who">{account.display_name.clone()}</span>
                            </header>
                            <div class="console">
                                <nav class="sidebar" aria-label="My Account"><ul>{links}</ul></nav>
                                <main class="page">{body}</main>
                            </div>
                        }.into_any()
                    }
                    Err(error) => view! {
                        <main class="page">
                            <h1>"My Account"</h1>
                            <Failure error/>
                        </main>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// An application the user may launch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Launchable {
    pub name: String,
    pub description: String,
    pub url: String,
    /// In an impersonated session: the application does not allow impersonation, so
    /// launching it would only end at the identity server's refusal (SPEC §2.3).
    pub refuses_impersonation: bool,
}

/// The discoverable applications the user (the impersonated one, in an impersonated
/// session) may use.
#[server]
pub async fn my_applications() -> Result<Vec<Launchable>, ServerFnError> {
    use crate::ssr::{context, internal, my_account_user};
    let (user, impersonation) = my_account_user().await?;
    let apps = identity::my_account::applications(&context()?.db, &user)
        .await
        .map_err(internal)?;
    Ok(apps
        .into_iter()
        .map(|a| Launchable {
            url: a.access_url.unwrap_or_default(),
            refuses_impersonation: impersonation.is_some() && !a.impersonation_enabled,
            name: a.name,
            description: a.description,
        })
        .collect())
}

/// `GET /myaccount`: Applications.
#[component]
pub fn MyAccountHome() -> impl IntoView {
    let apps = Resource::new(|| (), |_| my_applications());
    view! {
        <MyAccountLayout title="My Account" while_impersonating=true>
            <h1>"Applications"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match apps.await {
                        Ok(apps) if apps.is_empty() => view! {
                            <p class="muted">"No applications are shared with you yet."</p>
                        }.into_any(),
                        Ok(apps) => {
                            let cards = apps.into_iter().map(|a| view! {
                                <li class="card app-card">
                                    <h2>{a.name.clone()}</h2>
                                    <p class="muted">{a.description}</p>
                                    {if a.refuses_impersonation {
                                        view! {
                                            <p class="muted">"Does not allow impersonation."</p>
                                        }.into_any()
                                    } else {
                                        view! {
                                            <a class="button primary" href=a.url
                                                aria-label=format!("Launch {}", a.name)>"Launch"</a>
                                        }.into_any()
                                    }}
                                </li>
                            }).collect_view();
                            view! { <ul class="apps" aria-label="Applications">{cards}</ul> }.into_any()
                        }
                        Err(error) => view! {
                            <Failure error/>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </MyAccountLayout>
    }
}
