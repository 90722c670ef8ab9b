//! My Account: every user's own pages. In an impersonated session it shows who is really
//! acting in a banner on every page, with **Stop impersonating**.

use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

/// Who My Account is showing, and who is really there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub username: String,
    pub display_name: String,
    pub email: String,
    /// The impersonator's username when this is an impersonated session.
    pub impersonated_by: Option<String>,
}

/// The account this browser sees in My Account: the signed-in user, or the target of the
/// impersonation this IdP session carries.
#[server]
pub async fn get_account() -> Result<Account, ServerFnError> {
    use crate::ssr::{context, internal, my_account_user};
    let (user, impersonation) = my_account_user().await?;
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
    })
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
        && let Some(session) = impersonation::find(&db, id).await.map_err(internal)?
    {
        let txn = identity::db::begin_write(&db).await.map_err(internal)?;
        impersonation::end(
            &txn,
            &session,
            Some(current.user.id),
            impersonation::end_reason::STOPPED,
        )
        .await
        .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
    }
    leptos_axum::redirect("/console");
    Ok(())
}

/// The banner of an impersonated session, on every My Account page.
#[component]
fn ImpersonationBanner(target: String, impersonator: String) -> impl IntoView {
    let stop = ServerAction::<StopImpersonating>::new();
    view! {
        <div class="banner" role="region" aria-label="Impersonation">
            <p>{format!("You are signed in as {target}, impersonated by {impersonator}.")}</p>
            <ActionForm action=stop>
                <button type="submit" class="danger">"Stop impersonating"</button>
            </ActionForm>
        </div>
    }
}

/// `GET /myaccount`
#[component]
pub fn MyAccountHome() -> impl IntoView {
    let account = Resource::new(|| (), |_| get_account());
    view! {
        <Title text="My Account"/>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match account.await {
                    Ok(account) => view! {
                        {account.impersonated_by.clone().map(|impersonator| view! {
                            <ImpersonationBanner target=account.username.clone() impersonator/>
                        })}
                        <header class="topbar">
                            <span class="brand">"Identity Server"</span>
                            <span class="area">"My Account"</span>
                        </header>
                        <main class="page">
                            <h1>{format!("Hello, {}", account.display_name)}</h1>
                            <section class="card" aria-labelledby="applications-heading">
                                <h2 id="applications-heading">"Applications"</h2>
                                <p class="muted">"No applications are shared with you yet."</p>
                            </section>
                        </main>
                    }.into_any(),
                    Err(error) => view! {
                        <main class="page">
                            <h1>"My Account"</h1>
                            <p class="error" role="alert">{crate::pages::error_text(&error)}</p>
                        </main>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
