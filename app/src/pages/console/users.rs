//! Users: the list (search and paging done in the database) and a user's page with their
//! profile, roles, status and **Impersonate User**.

use super::{ConsoleLayout, Failure, Pager, query_string};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

/// Users per page of the list.
pub const PAGE_SIZE: u64 = 20;

/// A row of the Users list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub name: String,
    pub email: String,
    pub status: String,
}

/// A page of the Users list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsersPage {
    pub total: u64,
    pub page: u64,
    pub pages: u64,
    pub rows: Vec<UserRow>,
}

/// Users whose username, email or names contain `search` (any case), by username.
/// Permission: the Console (`internal_user_mgt_view`).
#[server]
pub async fn list_users(search: String, page: u64) -> Result<UsersPage, ServerFnError> {
    use crate::ssr::{context, internal, require_console_user};
    use identity::users::{Attr, Filter, Op};
    require_console_user().await?;
    let db = context()?.db;
    let search = search.trim();
    let filter = (!search.is_empty()).then(|| {
        let has = |attr| Box::new(Filter::Compare(attr, Op::Co, search.to_owned()));
        Filter::Or(
            Box::new(Filter::Or(has(Attr::UserName), has(Attr::Email))),
            Box::new(Filter::Or(has(Attr::GivenName), has(Attr::FamilyName))),
        )
    });
    let page = page.max(1);
    let (total, users) =
        identity::users::search(&db, filter.as_ref(), (page - 1) * PAGE_SIZE, PAGE_SIZE)
            .await
            .map_err(internal)?;
    Ok(UsersPage {
        total,
        page,
        pages: total.div_ceil(PAGE_SIZE).max(1),
        rows: users
            .into_iter()
            .map(|u| UserRow {
                id: u.id.to_string(),
                name: identity::users::display_name(&u),
                status: status_text(u.status).to_owned(),
                username: u.username,
                email: u.email,
            })
            .collect(),
    })
}

#[cfg(feature = "ssr")]
fn status_text(status: identity::entities::user::UserStatus) -> &'static str {
    use identity::entities::user::UserStatus;
    match status {
        UserStatus::Active => "Active",
        UserStatus::Locked => "Locked",
        UserStatus::Disabled => "Disabled",
    }
}

/// `GET /console/users?q=…&page=…`
#[component]
pub fn UsersListPage() -> impl IntoView {
    let query = use_query_map();
    let search = move || query.with(|q| q.get("q").unwrap_or_default());
    let page = move || {
        query.with(|q| {
            q.get("page")
                .and_then(|p| p.parse::<u64>().ok())
                .unwrap_or(1)
        })
    };
    let users = Resource::new(move || (search(), page()), |(s, p)| list_users(s, p));
    view! {
        <ConsoleLayout title="Users">
            <h1>"Users"</h1>
            <form method="get" action="/console/users" class="toolbar" role="search">
                <label for="user-search" class="visually-hidden">"Search users"</label>
                <input id="user-search" type="search" name="q" value=search
                    placeholder="Username, email or name"/>
                <button type="submit">"Search"</button>
            </form>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Ok(list) => {
                            let search = search();
                            view! { <UsersTable list search/> }.into_any()
                        }
                        Err(error) => view! { <Failure error/> }.into_any(),
                    }
                })}
            </Suspense>
        </ConsoleLayout>
    }
}

#[component]
fn UsersTable(list: UsersPage, search: String) -> impl IntoView {
    let summary = match list.total {
        0 => "No users match.".to_owned(),
        1 => "1 user".to_owned(),
        n => format!("{n} users"),
    };
    let rows = list
        .rows
        .into_iter()
        .map(|u| {
            let badge = format!("badge {}", u.status.to_lowercase());
            view! {
                <tr>
                    <td><a href=format!("/console/users/{}", u.id)>{u.username}</a></td>
                    <td>{u.name}</td>
                    <td>{u.email}</td>
                    <td><span class=badge>{u.status}</span></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="muted" role="status">{summary}</p>
        <table class="list">
            <caption class="visually-hidden">"Users"</caption>
            <thead>
                <tr><th scope="col">"Username"</th><th scope="col">"Name"</th>
                    <th scope="col">"Email"</th><th scope="col">"Status"</th></tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        <Pager page=list.page pages=list.pages href=move |n| {
            format!("/console/users{}", query_string(&[("q", search.clone()), ("page", n.to_string())]))
        }/>
    }
}

/// Everything the user's page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserDetails {
    pub id: String,
    pub username: String,
    pub name: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    pub status: String,
    pub organization: String,
    pub roles: Vec<String>,
    pub created: String,
    pub impersonation: Impersonation,
}

/// Whether and how Impersonate User is offered on a user's page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Impersonation {
    /// One's own page.
    Hidden,
    /// Shown disabled, with why.
    Disabled(String),
    /// Offered: whether a reason is required, and the sessions' hard limit.
    Ready {
        reason_required: bool,
        max_minutes: i64,
    },
}

/// A user's page. Permission: the Console (`internal_user_mgt_view`).
#[server]
pub async fn get_user(id: String) -> Result<UserDetails, ServerFnError> {
    use crate::ssr::{context, failure, internal, require_console_user};
    use identity::impersonation::Availability;
    let me = require_console_user().await?.user;
    let db = context()?.db;
    let not_found = || failure("There is no user with this id.");
    let id = uuid::Uuid::parse_str(&id).map_err(|_| not_found())?;
    let user = identity::users::find(&db, id)
        .await
        .map_err(internal)?
        .ok_or_else(not_found)?;
    let roles = identity::roles::of_user(&db, user.id)
        .await
        .map_err(internal)?
        .into_iter()
        .map(|r| r.name)
        .collect();
    let organization = identity::organizations::find(&db, user.organization_id)
        .await
        .map_err(internal)?
        .map(|o| o.name)
        .unwrap_or_default();
    let impersonation = match identity::impersonation::availability(&db, &me, &user)
        .await
        .map_err(internal)?
    {
        Availability::Hidden => Impersonation::Hidden,
        Availability::Disabled(why) => Impersonation::Disabled(why.to_owned()),
        Availability::Ready => {
            let settings = identity::settings::impersonation(&db, user.organization_id)
                .await
                .map_err(internal)?;
            Impersonation::Ready {
                reason_required: settings.require_reason,
                max_minutes: settings.max_session_duration_minutes,
            }
        }
    };
    Ok(UserDetails {
        id: user.id.to_string(),
        name: identity::users::display_name(&user),
        status: status_text(user.status).to_owned(),
        created: identity::clock::display(user.created_at),
        username: user.username,
        given_name: user.given_name,
        family_name: user.family_name,
        email: user.email,
        organization,
        roles,
        impersonation,
    })
}

/// `GET /console/users/{id}`
#[component]
pub fn UserPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let user = Resource::new(id, get_user);
    view! {
        <ConsoleLayout title="User">
            <p><a href="/console/users">"← Users"</a></p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match user.await {
                        Ok(user) => view! { <UserView user/> }.into_any(),
                        Err(error) => view! { <h1>"User"</h1><Failure error/> }.into_any(),
                    }
                })}
            </Suspense>
        </ConsoleLayout>
    }
}

#[component]
fn UserView(user: UserDetails) -> impl IntoView {
    let roles = if user.roles.is_empty() {
        view! { <p class="muted">"No roles."</p> }.into_any()
    } else {
        let items = user
            .roles
            .iter()
            .map(|r| view! { <li>{r.clone()}</li> })
            .collect_view();
        view! { <ul class="chips">{items}</ul> }.into_any()
    };
    view! {
        <div class="heading">
            <h1>{user.name.clone()}</h1>
            <ImpersonateButton user=user.clone()/>
        </div>
        <section class="card" aria-labelledby="profile-heading">
            <h2 id="profile-heading">"Profile"</h2>
            <dl class="details">
                <dt>"Username"</dt><dd>{user.username.clone()}</dd>
                <dt>"Given name"</dt><dd>{user.given_name.clone()}</dd>
                <dt>"Family name"</dt><dd>{user.family_name.clone()}</dd>
                <dt>"Email"</dt><dd>{user.email.clone()}</dd>
                <dt>"Status"</dt>
                <dd><span class=format!("badge {}", user.status.to_lowercase())>{user.status.clone()}</span></dd>
                <dt>"Organization"</dt><dd>{user.organization.clone()}</dd>
                <dt>"Created"</dt><dd><time>{user.created.clone()}</time></dd>
            </dl>
        </section>
        <section class="card" aria-labelledby="roles-heading">
            <h2 id="roles-heading">"Roles"</h2>
            {roles}
        </section>
    }
}

/// Impersonate User: hidden on one's own page, disabled with its reason where it cannot
/// work, otherwise a dialog that asks for the reason and opens the impersonation in a new
/// tab (`/console/impersonate`, which runs the real authorization request for My Account).
/// Without JavaScript the dialog's form is shown in place.
#[component]
fn ImpersonateButton(user: UserDetails) -> impl IntoView {
    let open = RwSignal::new(false);
    match user.impersonation {
        Impersonation::Hidden => ().into_any(),
        Impersonation::Disabled(why) => view! {
            <div class="impersonate">
                <button type="button" disabled aria-describedby="impersonate-why">
                    "Impersonate User"
                </button>
                <p id="impersonate-why" class="muted small">{why}</p>
            </div>
        }
        .into_any(),
        Impersonation::Ready {
            reason_required,
            max_minutes,
        } => view! {
            <div class="impersonate">
                <button type="button" class="primary" aria-haspopup="dialog"
                    on:click=move |_| open.set(true)>
                    "Impersonate User"
                </button>
                <div class="dialog" role="dialog" aria-modal="true"
                    aria-labelledby="impersonate-title" data-open=move || open.get().to_string()>
                    <form method="get" action="/console/impersonate" target="_blank" class="card"
                        on:submit=move |_| open.set(false)>
                        <h2 id="impersonate-title">{format!("Impersonate {}", user.username)}</h2>
                        <p>"A new tab opens My Account as this user. Your own Console stays \
                            signed in here. The user is told by email, and everything you do \
                            is recorded."</p>
                        <p class="muted">{format!(
                            "The session ends by itself after {max_minutes} minutes."
                        )}</p>
                        <input type="hidden" name="user" value=user.id.clone()/>
                        <label for="impersonate-reason">
                            {if reason_required { "Reason (required)" } else { "Reason" }}
                        </label>
                        <textarea id="impersonate-reason" name="reason" rows="3"
                            required=reason_required maxlength="500"></textarea>
                        <div class="actions">
                            <button type="button" on:click=move |_| open.set(false)>"Cancel"</button>
                            <button type="submit" class="primary">"Start impersonation"</button>
                        </div>
                    </form>
                </div>
            </div>
        }
        .into_any(),
    }
}
