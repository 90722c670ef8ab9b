//! Security: one's own active sessions, and signing out everywhere (not while
//! impersonating).

use super::MyAccountLayout;
use crate::pages::Failure;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionRow {
    pub signed_in: String,
    pub last_seen: String,
    pub expires: String,
    /// This browser's session.
    pub current: bool,
}

#[server]
pub async fn my_sessions() -> Result<Vec<SessionRow>, ServerFnError> {
    use crate::ssr::{context, internal};
    let current = crate::ssr::own_account().await?;
    let sessions = identity::sessions::live_for_user(&context()?.db, current.user.id)
        .await
        .map_err(internal)?;
    Ok(sessions
        .into_iter()
        .map(|s| SessionRow {
            signed_in: identity::clock::display(s.auth_time),
            last_seen: identity::clock::display(s.last_seen_at),
            expires: identity::clock::display(s.expires_at),
            current: s.id == current.session.id,
        })
        .collect())
}

/// Ends every session of the user, this one included, and goes to the sign-in page.
#[server]
pub async fn sign_out_everywhere() -> Result<(), ServerFnError> {
    use crate::ssr::{context, internal};
    let current = crate::ssr::own_account().await?;
    let db = context()?.db;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    identity::sessions::end_all_for_user(&txn, current.user.id)
        .await
        .map_err(internal)?;
    identity::impersonation::session::end_signed_out(&txn, current.user.id, None)
        .await
        .map_err(internal)?;
    txn.commit().await.map_err(internal)?;
    leptos_axum::redirect("/login?return_to=%2Fmyaccount");
    Ok(())
}

/// `GET /myaccount/security`
#[component]
pub fn SecurityPage() -> impl IntoView {
    let everywhere = ServerAction::<SignOutEverywhere>::new();
    let sessions = Resource::new(|| (), |_| my_sessions());
    view! {
        <MyAccountLayout title="Security">
            <h1>"Security"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Ok(rows) => {
                            let rows = rows.into_iter().map(|s| view! {
                                <tr>
                                    <td>{s.signed_in}{s.current.then_some(" (this browser)")}</td>
                                    <td>{s.last_seen}</td>
                                    <td>{s.expires}</td>
                                </tr>
                            }).collect_view();
                            view! {
                                <section class="card" aria-labelledby="sessions-heading">
                                    <h2 id="sessions-heading">"Where you are signed in"</h2>
                                    <table class="list">
                                        <thead><tr><th scope="col">"Signed in"</th><th scope="col">"Last seen"</th>
                                            <th scope="col">"Ends"</th></tr></thead>
                                        <tbody>{rows}</tbody>
                                    </table>
                                    <ActionForm action=everywhere attr:class="actions">
                                        <button type="submit" class="danger">"Sign out everywhere"</button>
                                    </ActionForm>
                                </section>
                            }.into_any()
                        }
                        Err(e) => view! {
                            <Failure error=e/>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </MyAccountLayout>
    }
}
