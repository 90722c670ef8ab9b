//! The audit log: filters (actor, target, action, time range), paging, and each record's
//! details; impersonation events stand out.

use super::{ConsoleLayout, Failure, Pager, query_string};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
const PAGE_SIZE: u64 = 50;

/// Filters of the audit log, as the page's query has them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// A username or user id (matches who acted or who impersonated).
    pub actor: String,
    /// A username or user id.
    pub target: String,
    pub action: String,
    /// `YYYY-MM-DD`, from the start of that day (UTC).
    pub from: String,
    /// `YYYY-MM-DD`, to the end of that day (UTC).
    pub to: String,
}

/// One record, for reading.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: i64,
    pub time: String,
    pub action: String,
    pub outcome: String,
    pub actor: String,
    pub impersonator: String,
    pub target: String,
    pub client: String,
    pub request: String,
    pub reason: String,
    pub session: String,
    pub impersonation: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub total: u64,
    pub page: u64,
    pub pages: u64,
    pub rows: Vec<AuditRow>,
}

/// A page of the audit log, newest first. Permission: the Console and `internal_audit_view`.
#[server]
pub async fn list_audit(filter: AuditFilter, page: u64) -> Result<AuditPage, ServerFnError> {
    use crate::ssr::{context, internal, invalid, require_console_scope};
    let me = require_console_scope("internal_audit_view").await?;
    let db = context()?.db;
    // Records name users by id; the filters accept usernames too.
    let user_id = async |name: &str| -> Result<Option<String>, ServerFnError> {
        let name = name.trim();
        if name.is_empty() {
            return Ok(None);
        }
        if uuid::Uuid::parse_str(name).is_ok() {
            return Ok(Some(name.to_owned()));
        }
        Ok(Some(
            identity::users::find_by_username(&db, name)
                .await
                .map_err(internal)?
                .map(|u| u.id.to_string())
                .unwrap_or_else(|| format!("(no user {name})")),
        ))
    };
    let day = |text: &str, end: bool| -> Result<Option<i64>, ServerFnError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let start = identity::clock::parse_date(text)
            .ok_or_else(|| invalid("Dates are written YYYY-MM-DD."))?;
        Ok(Some(if end { start + 86_399 } else { start }))
    };
    let query = identity::audit::Query {
        actor: user_id(&filter.actor).await?,
        target: user_id(&filter.target).await?,
        action: Some(filter.action.trim().to_owned()).filter(|a| !a.is_empty()),
        any_action: Vec::new(),
        since: day(&filter.from, false)?,
        until: day(&filter.to, true)?,
        within: Some(crate::ssr::reach(&me, "internal_audit_view").await?),
    };
    let page = page.max(1);
    let (total, events) = identity::audit::search(&db, &query, (page - 1) * PAGE_SIZE, PAGE_SIZE)
        .await
        .map_err(internal)?;
    let mut names = crate::ssr::UserNames::new(&db);
    let mut name_of = async |id: &Option<String>| names.of(id).await;
    let mut rows = Vec::new();
    for e in events {
        rows.push(AuditRow {
            id: e.id,
            time: identity::clock::display_seconds(e.created_at),
            impersonation: e.impersonator_id.is_some() || e.action.contains("impersonat"),
            actor: name_of(&e.actor_id).await?,
            impersonator: name_of(&e.impersonator_id).await?,
            target: name_of(&e.target_id).await?,
            client: e.client_id.unwrap_or_default(),
            request: match (e.method, e.path) {
                (Some(m), Some(p)) => format!("{m} {p}"),
                _ => String::new(),
            },
            session: e
                .impersonation_session_id
                .map(|s| s.to_string())
                .unwrap_or_default(),
            action: e.action,
            outcome: e.outcome,
            reason: e.reason,
        });
    }
    Ok(AuditPage {
        total,
        page,
        pages: total.div_ceil(PAGE_SIZE).max(1),
        rows,
    })
}

/// `GET /console/audit?actor=…&target=…&action=…&from=…&to=…&page=…`
#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        query.with(|q| AuditFilter {
            actor: q.get("actor").unwrap_or_default(),
            target: q.get("target").unwrap_or_default(),
            action: q.get("action").unwrap_or_default(),
            from: q.get("from").unwrap_or_default(),
            to: q.get("to").unwrap_or_default(),
        })
    };
    let page = move || {
        query.with(|q| {
            q.get("page")
                .and_then(|p| p.parse::<u64>().ok())
                .unwrap_or(1)
        })
    };
    let events = Resource::new(move || (filter(), page()), |(f, p)| list_audit(f, p));
    let current = filter();
    let actions = [
        "",
        "impersonation-started",
        "impersonated-token-issued",
        "impersonation-ended",
        "impersonation-denied",
        "subject-token-issued",
        "impersonated-sign-in",
        "resource-modification-via-impersonation",
        "resource-creation-via-impersonation",
        "resource-deletion-via-impersonation",
        "resource-access-via-impersonation",
        "sign-in",
        "sign-in-failed",
        "sign-out",
        "account-locked",
        "request-rejected",
    ];
    let options = actions
        .iter()
        .map(|a| {
            let label = if a.is_empty() { "Any action" } else { a };
            view! { <option value=*a selected=*a == current.action>{label}</option> }
        })
        .collect_view();
    view! {
        <ConsoleLayout title="Audit log">
            <h1>"Audit log"</h1>
            <form method="get" action="/console/audit" class="filters" role="search"
                aria-label="Filter the audit log">
                <div><label for="f-actor">"Actor"</label>
                    <input id="f-actor" type="text" name="actor" value=current.actor.clone()
                        placeholder="Username"/></div>
                <div><label for="f-target">"Target"</label>
                    <input id="f-target" type="text" name="target" value=current.target.clone()
                        placeholder="Username"/></div>
                <div><label for="f-action">"Action"</label>
                    <select id="f-action" name="action">{options}</select></div>
                <div><label for="f-from">"From"</label>
                    <input id="f-from" type="date" name="from" value=current.from.clone()/></div>
                <div><label for="f-to">"To"</label>
                    <input id="f-to" type="date" name="to" value=current.to.clone()/></div>
                <div class="submit"><button type="submit">"Filter"</button></div>
            </form>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match events.await {
                        Ok(list) => {
                            let f = filter();
                            view! { <AuditTable list filter=f/> }.into_any()
                        }
                        Err(error) => view! { <Failure error/> }.into_any(),
                    }
                })}
            </Suspense>
        </ConsoleLayout>
    }
}

#[component]
fn AuditTable(list: AuditPage, filter: AuditFilter) -> impl IntoView {
    let summary = match list.total {
        0 => "No records match.".to_owned(),
        1 => "1 record".to_owned(),
        n => format!("{n} records"),
    };
    let rows = list
        .rows
        .into_iter()
        .map(|e| {
            let who = if e.impersonator.is_empty() || e.impersonator == e.actor {
                e.actor.clone()
            } else {
                format!("{} (impersonated by {})", e.actor, e.impersonator)
            };
            let details = [
                ("Client", e.client),
                ("Request", e.request),
                ("Reason", e.reason),
                ("Impersonation session", e.session),
            ]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> })
            .collect_view();
            let failed = e.outcome == "failure";
            view! {
                <tr class:impersonation=e.impersonation class:failure=failed>
                    <td><time>{e.time}</time></td>
                    <td><span class="action">{e.action}</span></td>
                    <td>{e.outcome}</td>
                    <td>{who}</td>
                    <td>{e.target}</td>
                    <td><details><summary>"Details"</summary><dl class="details">{details}</dl></details></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="muted" role="status">{summary}</p>
        <table class="list">
            <thead>
                <tr><th scope="col">"Time"</th><th scope="col">"Action"</th>
                    <th scope="col">"Outcome"</th><th scope="col">"Actor"</th>
                    <th scope="col">"Target"</th><th scope="col">"Details"</th></tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        <Pager page=list.page pages=list.pages href=move |n| {
            format!("/console/audit{}", query_string(&[
                ("actor", filter.actor.clone()),
                ("target", filter.target.clone()),
                ("action", filter.action.clone()),
                ("from", filter.from.clone()),
                ("to", filter.to.clone()),
                ("page", n.to_string()),
            ]))
        }/>
    }
}
