//! Access requests: administrators' requests to impersonate one's account, to approve or
//! deny; standing support access, to grant for some hours or revoke; and past decisions
//! (not while impersonating). The request mail links here. Every button is a form: the
//! page works without JavaScript, and nothing is decided by opening a link.

use super::MyAccountLayout;
use crate::pages::Failure;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestRow {
    pub id: String,
    pub requester: String,
    pub reason: String,
    pub ticket: String,
    pub read_only: bool,
    pub duration_minutes: i64,
    pub requested: String,
    pub decide_by: String,
    /// `pending`, `approved`, `denied`, `expired`, `withdrawn` or `used`.
    pub status: String,
    /// Pending, and this user's approval is still asked for.
    pub awaits_me: bool,
    /// Approved and not used yet: the user may take the approval back.
    pub revocable: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccessRequests {
    pub requests: Vec<RequestRow>,
    /// Until when standing support access runs, if it does.
    pub support_access_until: Option<String>,
    pub max_support_hours: i64,
}

#[server]
pub async fn get_access_requests() -> Result<AccessRequests, ServerFnError> {
    use crate::ssr::{context, internal, own_account};
    use identity::impersonation::approval::{self, RequestQuery, Status};
    let user = own_account().await?.user;
    let db = context()?.db;
    let now = identity::clock::now();
    // The open ones first (however many past ones there are), then the latest others.
    let mut requests = Vec::new();
    for status in [Some(Status::Pending), Some(Status::Approved), None] {
        let query = RequestQuery {
            target: Some(user.id),
            status,
            ..RequestQuery::default()
        };
        let (_, found) = approval::list(&db, &query, 0, 100)
            .await
            .map_err(internal)?;
        for r in found {
            if !requests
                .iter()
                .any(|known: &identity::entities::impersonation_request::Model| known.id == r.id)
            {
                requests.push(r);
            }
        }
    }
    let support = approval::live_support_access(&db, user.id, now)
        .await
        .map_err(internal)?;
    Ok(AccessRequests {
        requests: requests
            .into_iter()
            .map(|r| {
                let status = Status::of(&r, now);
                RequestRow {
                    id: r.id.to_string(),
                    requester: r.requester_name,
                    reason: r.reason,
                    ticket: r.ticket,
                    read_only: r.read_only,
                    duration_minutes: r.duration_minutes,
                    requested: identity::clock::display(r.created_at),
                    decide_by: identity::clock::display(r.decide_by),
                    status: status.as_str().to_owned(),
                    awaits_me: status == Status::Pending
                        && r.needs_user
                        && r.user_approved_at.is_none(),
                    revocable: status == Status::Approved && r.needs_user,
                }
            })
            .collect(),
        support_access_until: support.map(|a| identity::clock::display(a.expires_at)),
        max_support_hours: approval::MAX_SUPPORT_ACCESS_HOURS,
    })
}

/// Approves (`decision` = `approve`) or denies a request about oneself.
#[server]
pub async fn decide_access_request(
    id: String,
    decision: String,
    #[server(default)] comment: String,
) -> Result<(), ServerFnError> {
    use identity::impersonation::approval::Decider;
    let user = crate::ssr::own_account().await?.user;
    crate::ssr::decide_request(&id, Decider::User(&user), None, &decision, comment).await
}

/// Grants standing support access for `hours`.
#[server]
pub async fn grant_support_access(hours: String) -> Result<(), ServerFnError> {
    use crate::ssr::{context, internal, invalid, own_account};
    use identity::impersonation::approval::{self, SupportAccessError};
    let user = own_account().await?.user;
    let hours: i64 = hours
        .trim()
        .parse()
        .map_err(|_| invalid("Hours: a whole number."))?;
    let db = context()?.db;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    match approval::grant_support_access(&txn, &user, hours).await {
        Ok(_) => {}
        Err(SupportAccessError::Internal(error)) => return Err(internal(error)),
        Err(refused) => return Err(invalid(&refused.to_string())),
    }
    txn.commit().await.map_err(internal)?;
    Ok(())
}

/// Revokes standing support access: the sessions it allowed end now.
#[server]
pub async fn revoke_support_access() -> Result<(), ServerFnError> {
    use crate::ssr::{context, internal, own_account};
    let user = own_account().await?.user;
    let db = context()?.db;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    identity::impersonation::approval::revoke_support_access(&txn, &user)
        .await
        .map_err(internal)?;
    txn.commit().await.map_err(internal)?;
    Ok(())
}

/// `GET /myaccount/access-requests`
#[component]
pub fn AccessRequestsPage() -> impl IntoView {
    let decide = ServerAction::<DecideAccessRequest>::new();
    let grant = ServerAction::<GrantSupportAccess>::new();
    let revoke = ServerAction::<RevokeSupportAccess>::new();
    let data = Resource::new(
        move || {
            (
                decide.version().get(),
                grant.version().get(),
                revoke.version().get(),
            )
        },
        |_| get_access_requests(),
    );
    let outcome = move || {
        let failed = [
            decide.value().get().and_then(Result::err),
            grant.value().get().and_then(Result::err),
            revoke.value().get().and_then(Result::err),
        ];
        failed
            .into_iter()
            .flatten()
            .next()
            .map(|error| view! { <Failure error/> })
    };
    view! {
        <MyAccountLayout title="Access requests">
            <h1>"Access requests"</h1>
            <p class="muted">"Administrators ask here before acting as you. Nothing happens unless you approve."</p>
            {outcome}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(data) => view! { <Requests data decide grant revoke/> }.into_any(),
                        Err(error) => view! { <Failure error/> }.into_any(),
                    }
                })}
            </Suspense>
        </MyAccountLayout>
    }
}

#[component]
fn Requests(
    data: AccessRequests,
    decide: ServerAction<DecideAccessRequest>,
    grant: ServerAction<GrantSupportAccess>,
    revoke: ServerAction<RevokeSupportAccess>,
) -> impl IntoView {
    let (waiting, others): (Vec<RequestRow>, Vec<RequestRow>) =
        data.requests.into_iter().partition(|r| r.awaits_me);
    let (approved, past): (Vec<RequestRow>, Vec<RequestRow>) =
        others.into_iter().partition(|r| r.revocable);
    let approved = (!approved.is_empty()).then(|| {
        let items = approved
            .into_iter()
            .map(|r| {
                let summary = format!(
                    "{} may act as you once, until the approval expires ({}).",
                    r.requester,
                    if r.reason.is_empty() {
                        "no reason given".to_owned()
                    } else {
                        r.reason.clone()
                    }
                );
                view! {
                    <li>
                        <span>{summary}</span>
                        <ActionForm action=decide>
                            <input type="hidden" name="id" value=r.id/>
                            <input type="hidden" name="decision" value="deny"/>
                            <input type="hidden" name="comment" value="approval taken back"/>
                            <button type="submit" class="danger">"Take back"</button>
                        </ActionForm>
                    </li>
                }
            })
            .collect_view();
        view! {
            <section class="card" aria-labelledby="approved-heading">
                <h2 id="approved-heading">"Approved, not used yet"</h2>
                <ul class="rules">{items}</ul>
            </section>
        }
    });
    let waiting = if waiting.is_empty() {
        view! { <p role="status">"No request waits for your decision."</p> }.into_any()
    } else {
        waiting
            .into_iter()
            .map(|r| view! { <PendingRequest request=r decide/> })
            .collect_view()
            .into_any()
    };
    let past = (!past.is_empty()).then(|| {
        let rows = past
            .into_iter()
            .map(|r| {
                view! {
                    <tr>
                        <td>{r.requester}</td>
                        <td>{r.requested}</td>
                        <td>{if r.reason.is_empty() { "(none given)".to_owned() } else { r.reason }}</td>
                        <td>{r.status}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <section class="card" aria-labelledby="past-heading">
                <h2 id="past-heading">"Past requests"</h2>
                <table class="list">
                    <thead><tr><th scope="col">"Who"</th><th scope="col">"When"</th>
                        <th scope="col">"Why"</th><th scope="col">"Outcome"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </section>
        }
    });
    let support = match data.support_access_until {
        Some(until) => view! {
            <p role="status">{format!("Support access is granted until {until}.")}</p>
            <ActionForm action=revoke attr:class="actions">
                <button type="submit" class="danger">"Revoke support access"</button>
            </ActionForm>
        }
        .into_any(),
        None => view! {
            <ActionForm action=grant attr:class="grid-form">
                <label for="support-hours">"Hours"</label>
                <input id="support-hours" type="number" name="hours" min="1"
                    max=data.max_support_hours value="4" required
                    aria-describedby="support-hours-help"/>
                <p id="support-hours-help" class="muted small">
                    {format!("Administrators may act as you without asking for 1 to {} hours. You can revoke it at any time; that ends their sessions at once.", data.max_support_hours)}
                </p>
                <div class="actions"><button type="submit">"Grant support access"</button></div>
            </ActionForm>
        }
        .into_any(),
    };
    view! {
        <section class="card" aria-labelledby="waiting-heading">
            <h2 id="waiting-heading">"Waiting for you"</h2>
            {waiting}
        </section>
        {approved}
        <section class="card" aria-labelledby="support-heading">
            <h2 id="support-heading">"Support access"</h2>
            {support}
        </section>
        {past}
    }
}

#[component]
fn PendingRequest(request: RequestRow, decide: ServerAction<DecideAccessRequest>) -> impl IntoView {
    let mode = if request.read_only {
        "read-only"
    } else {
        "with full access"
    };
    let summary = format!(
        "{} asks to act as you, {mode}, for up to {} minutes.",
        request.requester, request.duration_minutes
    );
    let (id, id_for_deny) = (request.id.clone(), request.id.clone());
    view! {
        <article class="request" aria-label=format!("Request from {}", request.requester)>
            <p><strong>{summary}</strong></p>
            <dl class="details">
                <dt>"Reason"</dt>
                <dd>{if request.reason.is_empty() { "(none given)".to_owned() } else { request.reason.clone() }}</dd>
                <dt>"Ticket"</dt>
                <dd>{if request.ticket.is_empty() { "—".to_owned() } else { request.ticket.clone() }}</dd>
                <dt>"Asked"</dt><dd>{request.requested.clone()}</dd>
                <dt>"Decide by"</dt><dd>{request.decide_by.clone()}</dd>
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
}
