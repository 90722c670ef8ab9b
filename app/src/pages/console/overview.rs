//! The Console's first page as the impersonation desk: requests waiting for an approving
//! administrator's decision (for those who may decide them), the impersonations running
//! now, each with **End**, the latest impersonation events, and the applications set up
//! for impersonation that still miss a prerequisite.

use super::Failure;
use super::sessions::{EndSession, SessionRow, list_sessions};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A request an approving administrator may decide.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestToDecide {
    pub id: String,
    pub requester: String,
    pub target: String,
    pub reason: String,
    pub ticket: String,
    pub read_only: bool,
    pub duration_minutes: i64,
    pub decide_by: String,
}

/// The requests the signed-in administrator may decide (`None`: they may decide none).
#[server]
pub async fn requests_to_decide() -> Result<Option<Vec<RequestToDecide>>, ServerFnError> {
    use crate::ssr::{context, internal, require_console_user};
    use identity::impersonation::approval::{self, RequestQuery, Status};
    use identity::scopes::IMPERSONATION_APPROVE;
    let me = require_console_user().await?;
    let db = context()?.db;
    let Some(reach) = crate::ssr::reach_if_held(&me, IMPERSONATION_APPROVE).await? else {
        return Ok(None);
    };
    let query = RequestQuery {
        status: Some(Status::Pending),
        within: Some(reach),
        awaiting_administrator: true,
        not_involving: Some(me.user.id),
        ..RequestQuery::default()
    };
    let (_, pending) = approval::list(&db, &query, 0, 100)
        .await
        .map_err(internal)?;
    let mut rows = Vec::new();
    for r in pending {
        let target = identity::users::find(&db, r.target_id)
            .await
            .map_err(internal)?
            .map(|u| u.username)
            .unwrap_or_default();
        rows.push(RequestToDecide {
            id: r.id.to_string(),
            requester: r.requester_name,
            target,
            reason: r.reason,
            ticket: r.ticket,
            read_only: r.read_only,
            duration_minutes: r.duration_minutes,
            decide_by: identity::clock::display(r.decide_by),
        });
    }
    Ok(Some(rows))
}

/// One line of the latest impersonation events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeskEvent {
    pub time: String,
    pub action: String,
    pub actor: String,
    pub target: String,
    pub reason: String,
}

/// The latest impersonation events the administrator may read (`None`: without
/// `internal_audit_view`).
#[server]
pub async fn latest_events() -> Result<Option<Vec<DeskEvent>>, ServerFnError> {
    use crate::ssr::{context, internal, require_console_user};
    let me = require_console_user().await?;
    let db = context()?.db;
    let Some(reach) = crate::ssr::reach_if_held(&me, "internal_audit_view").await? else {
        return Ok(None);
    };
    let query = identity::audit::Query {
        any_action: identity::audit::action::IMPERSONATION_DESK
            .iter()
            .map(|a| (*a).to_owned())
            .collect(),
        within: Some(reach),
        ..identity::audit::Query::default()
    };
    let (_, events) = identity::audit::search(&db, &query, 0, 10)
        .await
        .map_err(internal)?;
    let mut names = crate::ssr::UserNames::new(&db);
    let mut rows = Vec::new();
    for e in events {
        let actor = match e.actor_id.is_some() {
            true => names.of(&e.actor_id).await?,
            false => names.of(&e.impersonator_id).await?,
        };
        rows.push(DeskEvent {
            time: identity::clock::display(e.created_at),
            actor,
            target: names.of(&e.target_id).await?,
            action: e.action,
            reason: e.reason,
        });
    }
    Ok(Some(rows))
}

/// An application set up for impersonation that still misses a prerequisite.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotReady {
    pub name: String,
    /// The first unmet prerequisite, and where to fix it.
    pub missing: String,
    pub fix: String,
}

/// Applications with the subject token or impersonated sign-in turned on whose readiness
/// panel shows an unmet prerequisite (`None`: without `internal_application_mgt_view`).
#[server]
pub async fn applications_not_ready() -> Result<Option<Vec<NotReady>>, ServerFnError> {
    use crate::ssr::{context, internal, require_console_user};
    const SCOPE: &str = "internal_application_mgt_view";
    let me = require_console_user().await?;
    let db = context()?.db;
    let Some(reach) = crate::ssr::reach_if_held(&me, SCOPE).await? else {
        return Ok(None);
    };
    let (_, apps) = identity::applications::list(&db, &reach, None, 0, 500)
        .await
        .map_err(internal)?;
    let mut rows = Vec::new();
    for app in apps
        .into_iter()
        .filter(|a| !a.system && (a.subject_token_enabled || a.impersonation_enabled))
    {
        let checks = identity::impersonation::readiness::check(&db, &app)
            .await
            .map_err(internal)?;
        if let Some(unmet) = checks.into_iter().find(|c| !c.met) {
            rows.push(NotReady {
                name: app.name,
                missing: unmet.label.to_owned(),
                fix: unmet.fix,
            });
        }
    }
    Ok(Some(rows))
}

/// Approves (`decision` = `approve`) or denies a request as an approving administrator.
#[server]
pub async fn decide_request(
    id: String,
    decision: String,
    #[server(default)] comment: String,
) -> Result<(), ServerFnError> {
    use identity::impersonation::approval::Decider;
    let me = crate::ssr::require_console_user().await?;
    let reach = crate::ssr::reach(&me, identity::scopes::IMPERSONATION_APPROVE).await?;
    let decider = Decider::Administrator(&me.user);
    crate::ssr::decide_request(&id, decider, Some(&reach), &decision, comment).await
}

/// The desk's sections, below the welcome.
#[component]
pub fn Desk() -> impl IntoView {
    let decide = ServerAction::<DecideRequest>::new();
    let end = ServerAction::<EndSession>::new();
    let requests = Resource::new(move || decide.version().get(), |_| requests_to_decide());
    let sessions = Resource::new(move || end.version().get(), |_| list_sessions(1));
    let events = Resource::new(
        move || (decide.version().get(), end.version().get()),
        |_| latest_events(),
    );
    let not_ready = Resource::new(|| (), |_| applications_not_ready());
    let failed = move || {
        [
            decide.value().get().and_then(Result::err),
            end.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(|error| view! { <Failure error/> })
    };
    view! {
        {failed}
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match requests.await {
                    Ok(Some(rows)) => view! { <Requests rows decide/> }.into_any(),
                    // Not an approver (or no Console user, which the page says): nothing
                    // to decide here.
                    Ok(None) | Err(_) => ().into_any(),
                }
            })}
        </Suspense>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match sessions.await {
                    Ok(page) => view! { <Running rows=page.active end/> }.into_any(),
                    // Without the right to see sessions, no section.
                    Err(_) => ().into_any(),
                }
            })}
        </Suspense>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match events.await {
                    Ok(Some(rows)) => view! { <Events rows/> }.into_any(),
                    Ok(None) | Err(_) => ().into_any(),
                }
            })}
        </Suspense>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match not_ready.await {
                    Ok(Some(rows)) if !rows.is_empty() => view! { <NotReadyList rows/> }.into_any(),
                    _ => ().into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Events(rows: Vec<DeskEvent>) -> impl IntoView {
    let body = if rows.is_empty() {
        view! { <p role="status">"No impersonation yet."</p> }.into_any()
    } else {
        let rows = rows
            .into_iter()
            .map(|e| {
                view! {
                    <tr>
                        <td><time>{e.time}</time></td>
                        <td>{e.action}</td>
                        <td>{e.actor}</td>
                        <td>{e.target}</td>
                        <td>{e.reason}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="list">
                <thead><tr><th scope="col">"When"</th><th scope="col">"What"</th>
                    <th scope="col">"Who"</th><th scope="col">"Whom"</th><th scope="col">"Why"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <section class="card" aria-labelledby="events-heading">
            <h2 id="events-heading">"Latest impersonation events"</h2>
            {body}
            <p><a href="/console/audit">"Audit log"</a></p>
        </section>
    }
}

#[component]
fn NotReadyList(rows: Vec<NotReady>) -> impl IntoView {
    let items = rows
        .into_iter()
        .map(|r| {
            view! {
                <li>
                    <strong>{r.name}</strong>": "
                    <a href=r.fix>{r.missing}</a>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="not-ready-heading">
            <h2 id="not-ready-heading">"Applications not ready for impersonation"</h2>
            <ul>{items}</ul>
        </section>
    }
}

#[component]
fn Requests(rows: Vec<RequestToDecide>, decide: ServerAction<DecideRequest>) -> impl IntoView {
    let body = if rows.is_empty() {
        view! { <p role="status">"No request waits for your decision."</p> }.into_any()
    } else {
        rows.into_iter()
            .map(|r| {
                let mode = if r.read_only { "read-only" } else { "full" };
                let summary = format!(
                    "{} asks to impersonate {}, {mode}, for up to {} minutes.",
                    r.requester, r.target, r.duration_minutes
                );
                let (id, id_for_deny) = (r.id.clone(), r.id.clone());
                view! {
                    <article class="request" aria-label=format!("Request from {}", r.requester)>
                        <p><strong>{summary}</strong></p>
                        <dl class="details">
                            <dt>"Reason"</dt>
                            <dd>{if r.reason.is_empty() { "(none given)".to_owned() } else { r.reason }}</dd>
                            <dt>"Ticket"</dt>
                            <dd>{if r.ticket.is_empty() { "—".to_owned() } else { r.ticket }}</dd>
                            <dt>"Decide by"</dt><dd>{r.decide_by}</dd>
                        </dl>
                        <div class="row-actions">
                            <ActionForm action=decide>
                                <input type="hidden" name="id" value=id/>
                                <input type="hidden" name="decision" value="approve"/>
                                <button type="submit" class="primary">"Approve"</button>
                            </ActionForm>
                            <ActionForm action=decide>
                                <input type="hidden" name="id" value=id_for_deny/>
                                <input type="hidden" name="decision" value="deny"/>
                                <input type="text" name="comment" maxlength="500"
                                    aria-label="Comment" placeholder="Comment (optional)"/>
                                <button type="submit" class="danger">"Deny"</button>
                            </ActionForm>
                        </div>
                    </article>
                }
            })
            .collect_view()
            .into_any()
    };
    view! {
        <section class="card" aria-labelledby="decide-heading">
            <h2 id="decide-heading">"Requests to decide"</h2>
            {body}
        </section>
    }
}

#[component]
fn Running(rows: Vec<SessionRow>, end: ServerAction<EndSession>) -> impl IntoView {
    let body = if rows.is_empty() {
        view! { <p role="status">"Nobody is impersonating anyone now."</p> }.into_any()
    } else {
        let rows = rows
            .into_iter()
            .map(|s| {
                view! {
                    <tr>
                        <td>{s.impersonator}</td>
                        <td>{s.target}</td>
                        <td>{s.reason}</td>
                        <td>{s.state}</td>
                        <td>
                            <ActionForm action=end>
                                <input type="hidden" name="id" value=s.id/>
                                <button type="submit" class="danger">"End"</button>
                            </ActionForm>
                        </td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="list">
                <thead><tr><th scope="col">"Who"</th><th scope="col">"As"</th>
                    <th scope="col">"Why"</th><th scope="col">"Until"</th><th scope="col"></th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <section class="card" aria-labelledby="running-heading">
            <h2 id="running-heading">"Running impersonations"</h2>
            {body}
            <p><a href="/console/impersonation-sessions">"Session history"</a></p>
        </section>
    }
}
