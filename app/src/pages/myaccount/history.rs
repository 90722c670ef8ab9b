//! Access history: every impersonation of one's account, with who, when, why, which
//! applications, and how it ended; and every request to impersonate it, its decisions
//! and expiry, and one's support access granted and revoked (not while impersonating).

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

/// A request about one's account, a decision of it, or support access, for reading.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestEvent {
    pub when: String,
    pub what: String,
    pub who: String,
    pub note: String,
}

#[server]
pub async fn request_history() -> Result<Vec<RequestEvent>, ServerFnError> {
    use crate::ssr::{UserNames, context, internal, own_account};
    use identity::audit::action;
    let user = own_account().await?.user;
    let db = context()?.db;
    let query = identity::audit::Query {
        target: Some(user.id.to_string()),
        any_action: action::ACCESS_REQUESTS
            .iter()
            .map(|a| (*a).to_owned())
            .collect(),
        ..identity::audit::Query::default()
    };
    let (_, events) = identity::audit::search(&db, &query, 0, 200)
        .await
        .map_err(internal)?;
    let mut names = UserNames::new(&db);
    let mut rows = Vec::new();
    for e in events {
        let what = match e.action.as_str() {
            action::IMPERSONATION_REQUESTED => "Asked to act as you",
            action::IMPERSONATION_REQUEST_APPROVED => "Request approved",
            action::IMPERSONATION_REQUEST_DENIED => "Request denied",
            action::IMPERSONATION_REQUEST_WITHDRAWN => "Request withdrawn",
            action::IMPERSONATION_REQUEST_EXPIRED => "Request expired",
            action::SUPPORT_ACCESS_GRANTED => "Support access granted",
            action::SUPPORT_ACCESS_REVOKED => "Support access revoked",
            _ => "",
        };
        let who = match e.actor_id.is_some() {
            true => names.of(&e.actor_id).await?,
            false => String::new(),
        };
        rows.push(RequestEvent {
            when: identity::clock::display(e.created_at),
            what: what.to_owned(),
            who,
            note: e.reason,
        });
    }
    Ok(rows)
}

/// `GET /myaccount/history`
#[component]
pub fn HistoryPage() -> impl IntoView {
    let history = Resource::new(|| (), |_| access_history());
    let requests = Resource::new(|| (), |_| request_history());
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
                                <table class="list" aria-label="Impersonations">
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
            <h2>"Requests and support access"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match requests.await {
                        Ok(rows) if rows.is_empty() => view! {
                            <p role="status">"Nobody has asked to act as you."</p>
                        }.into_any(),
                        Ok(rows) => {
                            let rows = rows.into_iter().map(|r| view! {
                                <tr>
                                    <td>{r.when}</td>
                                    <td>{r.what}</td>
                                    <td>{r.who}</td>
                                    <td>{r.note}</td>
                                </tr>
                            }).collect_view();
                            view! {
                                <table class="list" aria-label="Requests and support access">
                                    <thead><tr><th scope="col">"When"</th><th scope="col">"What"</th>
                                        <th scope="col">"Who"</th><th scope="col">"Details"</th></tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                            }.into_any()
                        }
                        Err(e) => view! { <Failure error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </MyAccountLayout>
    }
}
