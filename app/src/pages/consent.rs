//! The consent page: an application asks for access to the signed-in user's data. A plain
//! form posting to `/consent`, so that it works with JavaScript off.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// What the consent page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsentView {
    pub application: String,
    pub username: String,
    /// (scope, what it means)
    pub scopes: Vec<(String, String)>,
}

/// The pending request behind `request`. Permission: the signed-in session that made it.
#[server]
pub async fn get_consent(request: String) -> Result<ConsentView, ServerFnError> {
    use crate::ssr::{context, current_session, failure};
    let Some(current) = current_session().await? else {
        return Err(failure("Your session has ended. Sign in again."));
    };
    let ctx = context()?;
    let found = identity::oauth::pending::peek(&ctx.db, &request, current.session.id)
        .await
        .map_err(|_| failure("The server could not load this request."))?;
    let Some((_, pending)) = found else {
        return Err(failure(
            "This request has expired. Go back to the application.",
        ));
    };
    let app = identity::oauth::clients::find(&ctx.db, &pending.client_id)
        .await
        .ok()
        .flatten()
        .ok_or_else(|| failure("This request has expired. Go back to the application."))?;
    Ok(ConsentView {
        application: app.name,
        username: current.user.username,
        scopes: pending
            .scopes
            .iter()
            .map(|s| (s.clone(), describe(s).to_owned()))
            .collect(),
    })
}

/// What a scope means, in words for the consent page.
#[cfg(feature = "ssr")]
fn describe(scope: &str) -> &'static str {
    match scope {
        "openid" => "Know who you are",
        "profile" => "See your name and username",
        "email" => "See your email address",
        "offline_access" => "Stay connected when you are away",
        "internal_user_impersonate" => "Sign in as another user on your behalf",
        _ => "Use this permission on your behalf",
    }
}

/// `GET /consent?request=…`
#[component]
pub fn ConsentPage() -> impl IntoView {
    let handle = use_query_map().with_untracked(|q| q.get("request").unwrap_or_default());
    let view_data = Resource::new(move || handle.clone(), get_consent);
    let request = use_query_map().with_untracked(|q| q.get("request").unwrap_or_default());
    view! {
        <Title text="Allow access"/>
        <main class="centered">
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    let request = request.clone();
                    Suspend::new(async move {
                        match view_data.await {
                            Ok(data) => view! {
                                <form class="card consent" method="post" action="/consent">
                                    <h1>{format!("{} wants to access your account", data.application)}</h1>
                                    <p class="muted">{format!("Signed in as {}", data.username)}</p>
                                    <ul class="scopes">
                                        {data.scopes.into_iter().map(|(scope, text)| view! {
                                            <li><strong>{text}</strong>" "<code>{scope}</code></li>
                                        }).collect_view()}
                                    </ul>
                                    <input type="hidden" name="request" value=request/>
                                    <div class="actions">
                                        <button type="submit" name="decision" value="deny">"Deny"</button>
                                        <button type="submit" name="decision" value="approve" class="primary">"Allow"</button>
                                    </div>
                                </form>
                            }.into_any(),
                            Err(error) => view! {
                                <section class="card" role="alert">
                                    <h1>"Cannot continue"</h1>
                                    <p>{crate::pages::error_text(&error)}</p>
                                </section>
                            }.into_any(),
                        }
                    })
                }}
            </Suspense>
        </main>
    }
}
