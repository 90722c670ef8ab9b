//! `GET /logout`: asks before signing out when an application (or anyone) asked for it
//! without proof that the request is genuine. Posts back to `/oidc/logout`.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

const CARRIED: &[&str] = &[
    "id_token_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
];

#[component]
pub fn LogoutPage() -> impl IntoView {
    let fields: Vec<(String, String)> = use_query_map().with_untracked(|q| {
        CARRIED
            .iter()
            .filter_map(|name| q.get(name).map(|v| ((*name).to_owned(), v)))
            .collect()
    });
    view! {
        <Title text="Sign out"/>
        <main class="centered">
            <form class="card" method="post" action="/oidc/logout">
                <h1>"Sign out?"</h1>
                <p>"You will be signed out of the identity server in this browser."</p>
                {fields.into_iter().map(|(name, value)| view! {
                    <input type="hidden" name=name value=value/>
                }).collect_view()}
                <input type="hidden" name="confirm" value="yes"/>
                <div class="actions">
                    <a href="/console">"Stay signed in"</a>
                    <button type="submit" class="primary">"Sign out"</button>
                </div>
            </form>
        </main>
    }
}
