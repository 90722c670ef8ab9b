//! Impersonation sessions: the active ones first, then the past ones; **End** on an active
//! one ends it at once and revokes every token derived from it.

use super::{ConsoleLayout, Failure, Pager, query_string};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
const PAGE_SIZE: u64 = 25;

/// A row of the sessions list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionRow {
    pub id: String,
    pub impersonator: String,
    pub target: String,
    pub reason: String,
    pub started: String,
    /// "Active until …", or how it ended.
    pub state: String,
    pub active: bool,
}

/// A page of sessions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionsPage {
    pub active: Vec<SessionRow>,
    pub past: Vec<SessionRow>,
    pub page: u64,
    pub pages: u64,
}

/// Active sessions (all of them) and a page of past ones. Permission: the Console and
/// `internal_impersonation_session_view`.
#[server]
pub async fn list_sessions(page: u64) -> Result<SessionsPage, ServerFnError> {
    use crate::ssr::{context, internal, require_console_scope};
    use identity::impersonation::{self, session::SessionQuery};
    let me = require_console_scope("internal_impersonation_session_view").await?;
    let reach = crate::ssr::reach(&me, "internal_impersonation_session_view").await?;
    let db = context()?.db;
    let rows = async |active: bool, offset: u64, limit: u64| {
        let query = SessionQuery {
            active: Some(active),
            within: Some(reach.clone()),
            ..SessionQuery::default()
        };
        let (total, sessions) = impersonation::session::list(&db, &query, offset, limit)
            .await
            .map_err(internal)?;
        let mut rows = Vec::new();
        for s in sessions {
            let name = async |id| {
                identity::users::find(&db, id)
                    .await
                    .map(|u| u.map(|u| u.username).unwrap_or_else(|| "(deleted)".into()))
            };
            let state = match (s.ended_at, active) {
                (_, true) => format!("Active until {}", identity::clock::display(s.expires_at)),
                (Some(at), _) => format!(
                    "Ended {} ({})",
                    identity::clock::display(at),
                    s.end_reason.clone().unwrap_or_default()
                ),
                (None, _) => format!("Expired {}", identity::clock::display(s.expires_at)),
            };
            rows.push(SessionRow {
                id: s.id.to_string(),
                impersonator: match name(s.impersonator_id).await.map_err(internal)? {
                    deleted if deleted == "(deleted)" => {
                        format!("{} (deleted)", s.impersonator_name)
                    }
                    found => found,
                },
                target: name(s.target_id).await.map_err(internal)?,
                reason: s.reason,
                started: identity::clock::display(s.started_at),
                state,
                active,
            });
        }
        Ok::<_, ServerFnError>((total, rows))
    };
    let (_, active) = rows(true, 0, 500).await?;
    let page = page.max(1);
    let (past_total, past) = rows(false, (page - 1) * PAGE_SIZE, PAGE_SIZE).await?;
    Ok(SessionsPage {
        active,
        past,
        page,
        pages: past_total.div_ceil(PAGE_SIZE).max(1),
    })
}

/// Ends an impersonation session now. Permission: the Console and
/// `internal_impersonation_session_delete`.
#[server]
pub async fn end_session(id: String) -> Result<(), ServerFnError> {
    use crate::ssr::{context, internal, invalid, require_console_scope};
    use identity::impersonation;
    let current = require_console_scope("internal_impersonation_session_delete").await?;
    let reach = crate::ssr::reach(&current, "internal_impersonation_session_delete").await?;
    let me = current.user;
    let db = context()?.db;
    let not_found = || invalid("There is no such impersonation session.");
    let id = uuid::Uuid::parse_str(&id).map_err(|_| not_found())?;
    let session = impersonation::session::find(&db, id)
        .await
        .map_err(internal)?
        .filter(|session| reach.contains(session.organization_id))
        .ok_or_else(not_found)?;
    let reason = impersonation::session::end_reason::ENDED_BY_ADMINISTRATOR;
    let ended = impersonation::session::end_now(&db, &session, Some(me.id), reason)
        .await
        .map_err(internal)?;
    if ended {
        Ok(())
    } else {
        Err(invalid("This impersonation session had already ended."))
    }
}

/// `GET /console/impersonation-sessions?page=…`
#[component]
pub fn SessionsPage() -> impl IntoView {
    let query = use_query_map();
    let page = move || {
        query.with(|q| {
            q.get("page")
                .and_then(|p| p.parse::<u64>().ok())
                .unwrap_or(1)
        })
    };
    let end = ServerAction::<EndSession>::new();
    let sessions = Resource::new(
        move || (page(), end.version().get()),
        |(p, _)| list_sessions(p),
    );
    view! {
        <ConsoleLayout title="Impersonation sessions">
            <h1>"Impersonation sessions"</h1>
            {move || end.value().get().and_then(Result::err).map(|error| view! { <Failure error/> })}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Ok(list) => view! {
                            <section aria-labelledby="active-heading">
                                <h2 id="active-heading">"Active"</h2>
                                <SessionTable rows=list.active end empty="No impersonation is running."/>
                            </section>
                            <section aria-labelledby="past-heading">
                                <h2 id="past-heading">"Past"</h2>
                                <SessionTable rows=list.past end empty="None yet."/>
                                <Pager page=list.page pages=list.pages href=|n| {
                                    format!("/console/impersonation-sessions{}",
                                        query_string(&[("page", n.to_string())]))
                                }/>
                            </section>
                        }.into_any(),
                        Err(error) => view! { <Failure error/> }.into_any(),
                    }
                })}
            </Suspense>
        </ConsoleLayout>
    }
}

#[component]
fn SessionTable(
    rows: Vec<SessionRow>,
    end: ServerAction<EndSession>,
    empty: &'static str,
) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted">{empty}</p> }.into_any();
    }
    let rows = rows
        .into_iter()
        .map(|s| {
            let label = format!("End the impersonation of {} by {}", s.target, s.impersonator);
            view! {
                <tr class:active=s.active>
                    <td>{s.impersonator}</td>
                    <td>{s.target}</td>
                    <td>{s.reason}</td>
                    <td><time>{s.started}</time></td>
                    <td>{s.state}</td>
                    <td>
                        {s.active.then(|| view! {
                            <ActionForm action=end>
                                <input type="hidden" name="id" value=s.id.clone()/>
                                <button type="submit" class="danger" aria-label=label.clone()>"End"</button>
                            </ActionForm>
                        })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="list">
            <thead>
                <tr><th scope="col">"Impersonator"</th><th scope="col">"User"</th>
                    <th scope="col">"Reason"</th><th scope="col">"Started"</th>
                    <th scope="col">"State"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
