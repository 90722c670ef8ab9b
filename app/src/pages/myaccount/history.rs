//! Access history: every impersonation of one's account, with who, when, why, which
//! applications, and how it ended (not while impersonating).

use super::MyAccountLayout;
use crate::pages::Failure;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccessRow {
    pub impersonator: String,
    pub started: String,
    pub reason: String,
    pub applications: String,
    pub outcome: String,
}

#[server]
pub async fn access_history() -> Result<Vec<AccessRow>, ServerFnError> {
    use crate::ssr::{context, internal, own_account};
    let user = own_account().await?.user;
    let now = identity::clock::now();
    let history = identity::my_account::access_history(&context()?.db, user.id)
        .await
        .map_err(internal)?;
    Ok(history
        .into_iter()
        .map(|a| {
            let s = a.session;
            let outcome = match (s.ended_at, s.expires_at > now) {
                (Some(at), _) => format!(
                    "Ended {} ({})",
                    identity::clock::display(at),
                    s.end_reason.unwrap_or_default()
                ),
                (None, true) => "Still going on".to_owned(),
                (None, false) => format!("Expired {}", identity::clock::display(s.expires_at)),
            };
            AccessRow {
                impersonator: a.impersonator,
                started: identity::clock::display(s.started_at),
                reason: if s.reason.is_empty() {
                    "(none given)".to_owned()
                } else {
                    s.reason
                },
                applications: a.applications.join(", "),
                outcome,
            }
        })
        .collect())
}

/// `GET /myaccount/history`
#[component]
pub fn HistoryPage() -> impl IntoView {
    let history = Resource::new(|| (), |_| access_history());
    view! {
        <MyAccountLayout title="Access history">
            <h1>"Access history"</h1>
            <p class="muted">"Every time someone acted as you through impersonation."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match history.await {
                        Ok(rows) if rows.is_empty() => view! {
                            <p role="status">"Nobody has impersonated you."</p>
                        }.into_any(),
                        Ok(rows) => {
                            let rows = rows.into_iter().map(|a| view! {
                                <tr>
                                    <td>{a.impersonator}</td>
                                    <td>{a.started}</td>
                                    <td>{a.reason}</td>
                                    <td>{a.applications}</td>
                                    <td>{a.outcome}</td>
                                </tr>
                            }).collect_view();
                            view! {
                                <table class="list">
                                    <thead><tr><th scope="col">"Who"</th><th scope="col">"When"</th>
                                        <th scope="col">"Why"</th><th scope="col">"Applications"</th>
                                        <th scope="col">"How it ended"</th></tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
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
