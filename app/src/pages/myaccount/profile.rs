//! Profile: one's own name and email (not while impersonating).

use super::MyAccountLayout;
use crate::pages::Failure;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub username: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
}

#[server]
pub async fn get_profile() -> Result<Profile, ServerFnError> {
    let user = crate::ssr::own_account().await?.user;
    Ok(Profile {
        username: user.username,
        given_name: user.given_name,
        family_name: user.family_name,
        email: user.email,
    })
}

/// Saves one's name and email.
#[server]
pub async fn save_profile(
    given_name: String,
    family_name: String,
    email: String,
) -> Result<(), ServerFnError> {
    use crate::ssr::{context, internal, invalid};
    let user = crate::ssr::own_account().await?.user;
    let db = context()?.db;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    identity::users::update(
        &txn,
        &identity::delegation::Authority::owner(user.id),
        user,
        identity::users::Changes {
            given_name: Some(given_name.trim().to_owned()),
            family_name: Some(family_name.trim().to_owned()),
            email: Some(email.trim().to_owned()),
            ..identity::users::Changes::default()
        },
    )
    .await
    .map_err(internal)?
    .map_err(|e| invalid(&e.to_string()))?;
    txn.commit().await.map_err(internal)?;
    Ok(())
}

/// `GET /myaccount/profile`
#[component]
pub fn ProfilePage() -> impl IntoView {
    let save = ServerAction::<SaveProfile>::new();
    let profile = Resource::new(move || save.version().get(), |_| get_profile());
    let outcome = move || {
        save.value().get().map(|r| match r {
            Ok(()) => view! { <p class="notice" role="status">"Saved."</p> }.into_any(),
            Err(e) => view! { <Failure error=e/> }.into_any(),
        })
    };
    view! {
        <MyAccountLayout title="Profile">
            <h1>"Profile"</h1>
            {outcome}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match profile.await {
                        Ok(p) => view! {
                            <ActionForm action=save attr:class="card grid-form">
                                <p class="muted">"Username: "<strong>{p.username}</strong></p>
                                <label for="p-given">"Given name"</label>
                                <input id="p-given" name="given_name" type="text" value=p.given_name/>
                                <label for="p-family">"Family name"</label>
                                <input id="p-family" name="family_name" type="text" value=p.family_name/>
                                <label for="p-email">"Email"</label>
                                <input id="p-email" name="email" type="email" value=p.email/>
                                <div class="actions"><button type="submit" class="primary">"Save"</button></div>
                            </ActionForm>
                        }.into_any(),
                        Err(e) => view! {
                            <Failure error=e/>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </MyAccountLayout>
    }
}
