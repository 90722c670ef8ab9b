//! Users: the list (search and paging done in the database) and a user's page with their
//! profile, roles, status and **Impersonate User**.

use super::{ConsoleLayout, Failure, field_message, form_message, query_string};
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

/// A page of the Users list, with the cursors of the pages around it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsersPage {
    pub total: u64,
    pub rows: Vec<UserRow>,
    /// (sort key, username) of the first user shown, when there is a page before.
    pub before: Option<(String, String)>,
    /// (sort key, username) of the last user shown, when there is a page after.
    pub after: Option<(String, String)>,
}

/// How the list is sorted and where it starts, as the page's query has it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ListQuery {
    pub search: String,
    /// `username` (default), `email` or `family_name`.
    pub sort: String,
    /// `desc` for descending.
    pub dir: String,
    /// The username the page starts after or before, and that user's sort key.
    pub after: String,
    pub before: String,
    pub key: String,
}

impl ListQuery {
    /// The list's address with `changes` applied to this query.
    fn href(&self, changes: impl FnOnce(&mut ListQuery)) -> String {
        let mut q = self.clone();
        changes(&mut q);
        format!(
            "/console/users{}",
            query_string(&[
                ("q", q.search),
                ("sort", q.sort),
                ("dir", q.dir),
                ("after", q.after),
                ("before", q.before),
                ("key", q.key),
            ])
        )
    }
}

/// Users whose username, email or names start with `search` (any case), by username,
/// the page `after` or `before` a username (keyset paging: a deep page costs what the first
/// does). Prefix search uses the `lower(column)` indexes. Permission: the Console
/// (`internal_user_mgt_view`).
#[server]
pub async fn list_users(query: ListQuery) -> Result<UsersPage, ServerFnError> {
    use crate::ssr::{context, internal, require_console_user};
    use identity::users::{Attr, Cursor, Filter, Op, Order, Position, SortBy};
    let me = require_console_user().await?;
    let db = context()?.db;
    let search = query.search.trim();
    let filter = (!search.is_empty()).then(|| {
        let has = |attr| Box::new(Filter::Compare(attr, Op::Sw, search.to_owned()));
        Filter::Or(
            Box::new(Filter::Or(has(Attr::UserName), has(Attr::Email))),
            Box::new(Filter::Or(has(Attr::GivenName), has(Attr::FamilyName))),
        )
    });
    let by = match query.sort.as_str() {
        "email" => SortBy::Email,
        "family_name" => SortBy::FamilyName,
        _ => SortBy::Username,
    };
    let at = |username: String| Position {
        key: if by == SortBy::Username {
            username.clone()
        } else {
            query.key.clone()
        },
        username,
    };
    let cursor = match (query.after.is_empty(), query.before.is_empty()) {
        (false, _) => Cursor::After(at(query.after.clone())),
        (true, false) => Cursor::Before(at(query.before.clone())),
        (true, true) => Cursor::Start,
    };
    let order = Order {
        by,
        descending: query.dir == "desc",
        cursor,
    };
    let reach = crate::ssr::reach(&me, "internal_user_mgt_view").await?;
    let page = identity::users::browse(&db, &reach, filter.as_ref(), &order, PAGE_SIZE)
        .await
        .map_err(internal)?;
    let position = |u: &identity::entities::user::Model| (by.key(u), u.username.clone());
    Ok(UsersPage {
        total: page.total,
        before: page
            .has_previous
            .then(|| page.users.first().map(position))
            .flatten(),
        after: page
            .has_next
            .then(|| page.users.last().map(position))
            .flatten(),
        rows: page
            .users
            .into_iter()
            .map(|u| UserRow {
                id: u.id.to_string(),
                name: identity::users::display_name(&u),
                status: status_text(&u).to_owned(),
                username: u.username,
                email: u.email,
            })
            .collect(),
    })
}

/// The status to show: an administrator's choice, or "Locked" while failed passwords
/// lock sign-in.
#[cfg(feature = "ssr")]
fn status_text(user: &identity::entities::user::Model) -> &'static str {
    use identity::entities::user::UserStatus;
    if identity::users::is_throttled(user, identity::clock::now()) {
        return "Locked";
    }
    match user.status {
        UserStatus::Active => "Active",
        UserStatus::Locked => "Locked",
        UserStatus::Disabled => "Disabled",
    }
}

/// `GET /console/users?q=…&page=…`
#[component]
pub fn UsersListPage() -> impl IntoView {
    let query = use_query_map();
    let list_query = move || {
        query.with(|q| ListQuery {
            search: q.get("q").unwrap_or_default(),
            sort: q.get("sort").unwrap_or_default(),
            dir: q.get("dir").unwrap_or_default(),
            after: q.get("after").unwrap_or_default(),
            before: q.get("before").unwrap_or_default(),
            key: q.get("key").unwrap_or_default(),
        })
    };
    let search = move || list_query().search;
    let users = Resource::new(list_query, list_users);
    view! {
        <ConsoleLayout title="Users">
            <h1>"Users"</h1>
            <CreateUserForm/>
            <form method="get" action="/console/users" class="toolbar" role="search">
                <label for="user-search" class="visually-hidden">"Search users"</label>
                <input id="user-search" type="search" name="q" value=search
                    placeholder="Start of a username, email or name"/>
                <input type="hidden" name="sort" value=move || list_query().sort/>
                <input type="hidden" name="dir" value=move || list_query().dir/>
                <button type="submit">"Search"</button>
            </form>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Ok(list) => {
                            let query = list_query();
                            view! { <UsersTable list query/> }.into_any()
                        }
                        Err(error) => view! { <Failure error/> }.into_any(),
                    }
                })}
            </Suspense>
        </ConsoleLayout>
    }
}

#[component]
fn UsersTable(list: UsersPage, query: ListQuery) -> impl IntoView {
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
    // A sortable column's header: a link that sorts by it (again: the other way).
    let header = |sort: &'static str, label: &'static str| {
        let current = query.sort == sort || (query.sort.is_empty() && sort == "username");
        let descending = query.dir == "desc";
        let href = query.href(|q| {
            q.dir = if current && !descending {
                "desc".into()
            } else {
                String::new()
            };
            q.sort = if sort == "username" {
                String::new()
            } else {
                sort.into()
            };
            (q.after, q.before, q.key) = Default::default();
        });
        let aria = current.then_some(if descending {
            "descending"
        } else {
            "ascending"
        });
        view! {
            <th scope="col" aria-sort=aria>
                <a href=href>{label}{current.then_some(if descending { " ↓" } else { " ↑" })}</a>
            </th>
        }
    };
    let (previous, next) = (
        list.before.map(|(key, first)| {
            query.href(|q| {
                (q.after, q.before, q.key) = (String::new(), first, key);
            })
        }),
        list.after.map(|(key, last)| {
            query.href(|q| {
                (q.after, q.before, q.key) = (last, String::new(), key);
            })
        }),
    );
    view! {
        <p class="muted" role="status">{summary}</p>
        <table class="list">
            <caption class="visually-hidden">"Users"</caption>
            <thead>
                <tr>{header("username", "Username")}{header("family_name", "Name")}
                    {header("email", "Email")}<th scope="col">"Status"</th></tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        <nav class="pager" aria-label="Pages">
            {previous.map(|href| view! { <a rel="prev" href=href>"Previous"</a> })}
            {next.map(|href| view! { <a rel="next" href=href>"Next"</a> })}
        </nav>
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
    /// Organizations the user was invited into, beyond their own.
    pub invited_into: Vec<String>,
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
    /// Offered: whether a reason and a ticket are required (and the ticket's format), and
    /// the sessions' hard limit.
    Ready {
        reason_required: bool,
        ticket_required: bool,
        ticket_pattern: String,
        max_minutes: i64,
        /// The organization's default mode is read-only.
        read_only_default: bool,
        /// A full session may be asked for.
        full_allowed: bool,
        /// Where the organization asks for approval: where this impersonator stands.
        approval: ApprovalState,
        /// The organization asks for the password again (a step-up; the dialog asks it).
        step_up: bool,
    },
}

/// Where an impersonator stands with the approval the organization asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ApprovalState {
    /// None is asked for, or one is there to use: Impersonate User.
    Usable,
    /// None yet: Request access.
    Needed,
    /// A request waits for its decision.
    Pending {
        id: String,
        /// Whose decision it waits for, for reading.
        waiting_for: String,
    },
}

/// A user's page. Permission: the Console (`internal_user_mgt_view`).
#[server]
pub async fn get_user(id: String) -> Result<UserDetails, ServerFnError> {
    use crate::ssr::{context, internal, invalid, require_console_user};
    use identity::impersonation::policy::Availability;
    let me = require_console_user().await?;
    let db = context()?.db;
    let not_found = || invalid("There is no user with this id.");
    let id = uuid::Uuid::parse_str(&id).map_err(|_| not_found())?;
    let reach = crate::ssr::reach(&me, "internal_user_mgt_view").await?;
    let user = identity::users::find(&db, id)
        .await
        .map_err(internal)?
        .filter(|user| reach.contains(user.organization_id))
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
    let invited_into = identity::organizations::invited_into(&db, user.id)
        .await
        .map_err(internal)?
        .into_iter()
        .map(|o| o.name)
        .collect();
    let impersonation = match identity::impersonation::policy::availability(&db, &me, &user)
        .await
        .map_err(internal)?
    {
        Availability::Hidden => Impersonation::Hidden,
        Availability::Disabled(why) => Impersonation::Disabled(why.to_owned()),
        Availability::Ready => {
            let settings = identity::settings::impersonation(&db, user.organization_id)
                .await
                .map_err(internal)?;
            let usable = identity::impersonation::approval::usable(
                &db,
                &settings,
                me.user.id,
                user.id,
                identity::impersonation::approval::Pinned::Any,
            )
            .await
            .map_err(internal)?;
            let approval = if usable.approved() {
                ApprovalState::Usable
            } else {
                pending_request(&db, me.user.id, user.id).await?
            };
            Impersonation::Ready {
                approval,
                step_up: settings.reauthenticate_within_minutes > 0,
                reason_required: settings.require_reason,
                ticket_required: settings.ticket_required,
                ticket_pattern: settings.ticket_pattern,
                max_minutes: settings.max_session_duration_minutes,
                read_only_default: settings.default_mode == identity::settings::Mode::ReadOnly,
                full_allowed: settings.allow_full_mode,
            }
        }
    };
    Ok(UserDetails {
        id: user.id.to_string(),
        name: identity::users::display_name(&user),
        status: status_text(&user).to_owned(),
        created: identity::clock::display(user.created_at),
        username: user.username,
        given_name: user.given_name,
        family_name: user.family_name,
        email: user.email,
        organization,
        invited_into,
        roles,
        impersonation,
    })
}

/// The impersonator's request for `target` waiting for its decision, if any.
#[cfg(feature = "ssr")]
async fn pending_request(
    db: &identity::DatabaseConnection,
    impersonator: uuid::Uuid,
    target: uuid::Uuid,
) -> Result<ApprovalState, ServerFnError> {
    use identity::impersonation::approval::{self, RequestQuery, Status};
    let query = RequestQuery {
        status: Some(Status::Pending),
        requester: Some(impersonator),
        target: Some(target),
        ..RequestQuery::default()
    };
    let (_, found) = approval::list(db, &query, 0, 1)
        .await
        .map_err(crate::ssr::internal)?;
    Ok(match found.into_iter().next() {
        None => ApprovalState::Needed,
        Some(request) => {
            let user = request.needs_user && request.user_approved_at.is_none();
            let administrator =
                request.needs_administrator && request.administrator_approved_at.is_none();
            let waiting_for = match (user, administrator) {
                (true, true) => "the user and an approving administrator",
                (true, false) => "the user",
                _ => "an approving administrator",
            };
            ApprovalState::Pending {
                id: request.id.to_string(),
                waiting_for: waiting_for.to_owned(),
            }
        }
    })
}

/// Request access: asks the organization's approvers (the user, an approving
/// administrator) to let the signed-in administrator impersonate `user`. The rules are
/// those of Impersonate User.
#[server]
pub async fn request_access(
    user: String,
    #[server(default)] reason: String,
    #[server(default)] ticket: String,
    #[server(default)] mode: String,
    #[server(default)] duration_minutes: String,
) -> Result<(), ServerFnError> {
    use crate::ssr::{context, internal, invalid, require_console_user};
    use identity::impersonation::approval::{self, RequestError};
    let me = require_console_user().await?;
    let ctx = context()?;
    let mode = match mode.trim() {
        "" => None,
        text => Some(
            identity::settings::Mode::parse(text)
                .ok_or_else(|| invalid("mode: full or read-only."))?,
        ),
    };
    let duration_minutes = match duration_minutes.trim() {
        "" => None,
        text => Some(
            text.parse::<i64>()
                .map_err(|_| invalid("duration_minutes: a whole number of minutes."))?,
        ),
    };
    let url = format!("{}/myaccount/access-requests", ctx.public_url);
    let txn = identity::store::db::begin_write(&ctx.db)
        .await
        .map_err(internal)?;
    let created = approval::create(
        &txn,
        approval::NewRequest {
            requester: &me.user,
            target: &user,
            reason: &reason,
            ticket: &ticket,
            mode,
            duration_minutes,
            access_requests_url: &url,
        },
    )
    .await;
    match created {
        Ok(_) => {}
        Err(RequestError::Internal(error)) => return Err(internal(error)),
        Err(RequestError::Invalid { field, message }) => {
            return Err(field_failure(field, &message));
        }
        Err(RequestError::Refused(refusal)) => {
            let text = refusal
                .requirement()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("This impersonation is not allowed: {refusal}."));
            return Err(invalid(&text));
        }
        Err(refused) => return Err(invalid(&refused.to_string())),
    }
    txn.commit().await.map_err(internal)?;
    Ok(())
}

/// Withdraws the signed-in administrator's own request.
#[server]
pub async fn withdraw_access_request(id: String) -> Result<(), ServerFnError> {
    use crate::ssr::{context, internal, invalid, require_console_user};
    use identity::impersonation::approval::{self, DecideError};
    let me = require_console_user().await?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| invalid("There is no such request."))?;
    let db = context()?.db;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    match approval::withdraw(&txn, id, &me.user).await {
        Ok(_) => {}
        Err(DecideError::Internal(error)) => return Err(internal(error)),
        Err(refused) => return Err(invalid(&refused.to_string())),
    }
    txn.commit().await.map_err(internal)?;
    Ok(())
}

/// `GET /console/users/{id}`
#[component]
pub fn UserPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let update = ServerAction::<UpdateUser>::new();
    let status = ServerAction::<SetUserStatus>::new();
    let delete = ServerAction::<DeleteUser>::new();
    let requests = RequestActions {
        request: ServerAction::<RequestAccess>::new(),
        withdraw: ServerAction::<WithdrawAccessRequest>::new(),
    };
    let user = Resource::new(
        move || {
            (
                id(),
                update.version().get(),
                status.version().get(),
                requests.request.version().get(),
                requests.withdraw.version().get(),
            )
        },
        |(id, ..)| get_user(id),
    );
    let outcome = move || {
        let failed = [
            update.value().get().and_then(Result::err),
            status.value().get().and_then(Result::err),
            delete.value().get().and_then(Result::err),
            requests.withdraw.value().get().and_then(Result::err),
        ];
        failed
            .into_iter()
            .flatten()
            .find_map(|e| form_message(&e, &["email"]))
            .map(|m| view! { <p class="error" role="alert">{m}</p> })
    };
    view! {
        <ConsoleLayout title="User">
            <p><a href="/console/users">"← Users"</a></p>
            {outcome}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match user.await {
                        Ok(user) => view! { <UserView user update status delete requests/> }.into_any(),
                        Err(error) => view! { <h1>"User"</h1><Failure error/> }.into_any(),
                    }
                })}
            </Suspense>
        </ConsoleLayout>
    }
}

#[component]
fn UserView(
    user: UserDetails,
    update: ServerAction<UpdateUser>,
    status: ServerAction<SetUserStatus>,
    delete: ServerAction<DeleteUser>,
    requests: RequestActions,
) -> impl IntoView {
    let email_error = move || {
        update
            .value()
            .get()
            .and_then(Result::err)
            .and_then(|e| field_message(&e, "email"))
            .map(|m| view! { <p class="field-error">{m}</p> })
    };
    let own = user.impersonation == Impersonation::Hidden;
    let status_buttons = (!own).then(|| {
        let (toggle, toggle_label) = if user.status == "Disabled" {
            ("active", "Enable")
        } else {
            ("disabled", "Disable")
        };
        let (lock, lock_label) = if user.status == "Locked" {
            ("active", "Unlock")
        } else {
            ("locked", "Lock")
        };
        let (id, id_for_lock, id_for_delete) = (user.id.clone(), user.id.clone(), user.id.clone());
        view! {
            <div class="row-actions">
                <ActionForm action=status>
                    <input type="hidden" name="id" value=id/>
                    <input type="hidden" name="status" value=toggle/>
                    <button type="submit">{toggle_label}</button>
                </ActionForm>
                <ActionForm action=status>
                    <input type="hidden" name="id" value=id_for_lock/>
                    <input type="hidden" name="status" value=lock/>
                    <button type="submit">{lock_label}</button>
                </ActionForm>
                <details class="confirm">
                    <summary class="danger-link">"Delete user"</summary>
                    <ActionForm action=delete>
                        <input type="hidden" name="id" value=id_for_delete/>
                        <p>"This removes the user, their sessions and their tokens. It cannot be undone."</p>
                        <button type="submit" class="danger">"Delete permanently"</button>
                    </ActionForm>
                </details>
            </div>
        }
    });
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
            <ImpersonateButton user=user.clone() actions=requests/>
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
                <dt>"Also a member of"</dt>
                <dd>{if user.invited_into.is_empty() { "—".to_owned() } else { user.invited_into.join(", ") }}</dd>
                <dt>"Created"</dt><dd><time>{user.created.clone()}</time></dd>
            </dl>
        </section>
        <section class="card" aria-labelledby="edit-heading">
            <h2 id="edit-heading">"Edit profile"</h2>
            <ActionForm action=update attr:class="grid-form">
                <input type="hidden" name="id" value=user.id.clone()/>
                <label for="edit-given">"Given name"</label>
                <input id="edit-given" name="given_name" type="text" value=user.given_name.clone()/>
                <label for="edit-family">"Family name"</label>
                <input id="edit-family" name="family_name" type="text" value=user.family_name.clone()/>
                <label for="edit-email">"Email"</label>
                <input id="edit-email" name="email" type="email" value=user.email.clone()/>
                {email_error}
                <div class="actions"><button type="submit" class="primary">"Save profile"</button></div>
            </ActionForm>
        </section>
        <section class="card" aria-labelledby="roles-heading">
            <h2 id="roles-heading">"Roles"</h2>
            {roles}
        </section>
        {status_buttons.map(|buttons| view! {
            <section class="card" aria-labelledby="status-heading">
                <h2 id="status-heading">"Status"</h2>
                {buttons}
            </section>
        })}
    }
}

/// Impersonate User: hidden on one's own page, disabled with its reason where it cannot
/// work, otherwise a dialog that asks for the reason and opens the impersonation in a new
/// tab (`/console/impersonate`, which runs the real authorization request for My Account).
/// Where the organization asks for approval and none is there to use, **Request access**
/// instead (a dialog that creates the request), or the open request with **Withdraw**.
/// Without JavaScript the dialogs' forms are shown in place.
#[component]
fn ImpersonateButton(user: UserDetails, actions: RequestActions) -> impl IntoView {
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
            approval: ApprovalState::Pending { id, waiting_for },
            ..
        } => view! {
            <div class="impersonate">
                <p role="status">{format!("Access requested: waiting for {waiting_for}.")}</p>
                <ActionForm action=actions.withdraw>
                    <input type="hidden" name="id" value=id/>
                    <button type="submit">"Withdraw request"</button>
                </ActionForm>
            </div>
        }
        .into_any(),
        Impersonation::Ready {
            approval: ApprovalState::Needed,
            reason_required,
            ticket_required,
            ticket_pattern,
            max_minutes,
            read_only_default,
            full_allowed,
            ..
        } => {
            let failed = move || {
                actions
                    .request
                    .value()
                    .get()
                    .and_then(Result::err)
                    .map(|error| view! { <Failure error/> })
            };
            view! {
                <div class="impersonate">
                    <button type="button" class="primary" aria-haspopup="dialog"
                        on:click=move |_| open.set(true)>
                        "Request access"
                    </button>
                    <p class="muted small">"This organization asks for approval before an impersonation."</p>
                    <div class="dialog" role="dialog" aria-modal="true"
                        aria-labelledby="impersonate-title" data-open=move || open.get().to_string()>
                        <ActionForm action=actions.request attr:class="card">
                            <h2 id="impersonate-title">{format!("Request access to {}", user.username)}</h2>
                            <p>"The approvers are asked (the user by email). Once approved, \
                                Impersonate User starts one session within the approval's window."</p>
                            {failed}
                            <input type="hidden" name="user" value=user.id.clone()/>
                            <RequirementFields reason_required ticket_required ticket_pattern
                                read_only_default full_allowed max_minutes
                                duration=max_minutes.min(30)/>
                            <div class="actions">
                                <button type="button" on:click=move |_| open.set(false)>"Cancel"</button>
                                <button type="submit" class="primary">"Send request"</button>
                            </div>
                        </ActionForm>
                    </div>
                </div>
            }
            .into_any()
        }
        Impersonation::Ready {
            approval: ApprovalState::Usable,
            step_up,
            reason_required,
            ticket_required,
            ticket_pattern,
            max_minutes,
            read_only_default,
            full_allowed,
        } => view! {
            <div class="impersonate">
                <button type="button" class="primary" aria-haspopup="dialog"
                    on:click=move |_| open.set(true)>
                    "Impersonate User"
                </button>
                <div class="dialog" role="dialog" aria-modal="true"
                    aria-labelledby="impersonate-title" data-open=move || open.get().to_string()>
                    <form method="post" action="/console/impersonate" target="_blank" class="card"
                        on:submit=move |_| open.set(false)>
                        <h2 id="impersonate-title">{format!("Impersonate {}", user.username)}</h2>
                        <p>"A new tab opens My Account as this user. Your own Console stays \
                            signed in here. The user is told by email, and everything you do \
                            is recorded."</p>
                        <p class="muted">{format!(
                            "The session ends by itself after {max_minutes} minutes at most."
                        )}</p>
                        <input type="hidden" name="user" value=user.id.clone()/>
                        <RequirementFields reason_required ticket_required ticket_pattern
                            read_only_default full_allowed max_minutes duration=max_minutes/>
                        {step_up.then(|| view! {
                            <label for="impersonate-password">"Your password"</label>
                            <input id="impersonate-password" type="password" name="password"
                                autocomplete="current-password" required
                                aria-describedby="impersonate-password-help"/>
                            <p id="impersonate-password-help" class="muted small">
                                "This organization asks for your password again before an impersonation."
                            </p>
                        })}
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

/// What an impersonation brings (the reason, the ticket, the mode, the duration), with
/// what the organization requires of each.
#[component]
fn RequirementFields(
    reason_required: bool,
    ticket_required: bool,
    ticket_pattern: String,
    read_only_default: bool,
    full_allowed: bool,
    /// The organization's limit.
    max_minutes: i64,
    /// What the field proposes.
    duration: i64,
) -> impl IntoView {
    view! {
        <label for="impersonate-reason">
            {if reason_required { "Reason (required)" } else { "Reason" }}
        </label>
        <textarea id="impersonate-reason" name="reason" rows="3"
            required=reason_required maxlength="500"></textarea>
        <label for="impersonate-ticket">
            {if ticket_required { "Ticket (required)" } else { "Ticket" }}
        </label>
        <input id="impersonate-ticket" type="text" name="ticket" maxlength="100"
            required=ticket_required aria-describedby="impersonate-ticket-help"/>
        <p id="impersonate-ticket-help" class="muted small">
            {if ticket_pattern.is_empty() {
                "The help-desk ticket this is for.".to_owned()
            } else {
                format!("The help-desk ticket this is for, in the form {ticket_pattern}.")
            }}
        </p>
        <label for="impersonate-mode">"Mode"</label>
        <select id="impersonate-mode" name="mode">
            {full_allowed.then(|| view! {
                <option value="full" selected=!read_only_default>"Full"</option>
            })}
            <option value="readOnly" selected=read_only_default>
                "Read-only: look, change nothing"
            </option>
        </select>
        <label for="impersonate-duration">"Duration (minutes)"</label>
        <input id="impersonate-duration" type="number" name="duration_minutes"
            min="1" max=max_minutes value=duration aria-describedby="impersonate-duration-help"/>
        <p id="impersonate-duration-help" class="muted small">
            {format!("At most {max_minutes}; a shorter session can be extended up to that from its banner.")}
        </p>
    }
}

/// The actions of a user's page about access requests.
#[derive(Clone, Copy)]
struct RequestActions {
    request: ServerAction<RequestAccess>,
    withdraw: ServerAction<WithdrawAccessRequest>,
}

/// A refusal tied to a form field: the message is shown next to that field.
#[cfg(feature = "ssr")]
fn field_failure(field: &str, message: &str) -> ServerFnError {
    crate::ssr::invalid(&format!("{field}: {message}"))
}

#[cfg(feature = "ssr")]
fn user_failure(error: identity::users::UserError) -> ServerFnError {
    use identity::users::UserError;
    match error {
        UserError::DuplicateUsername(name) => {
            field_failure("username", &format!("The username {name} is taken."))
        }
        UserError::Refused(refusal) => crate::ssr::failure(&format!("Not allowed: {refusal}.")),
        UserError::Invalid(message) => {
            let field = if message.contains("password") {
                "password"
            } else if message.contains("email") {
                "email"
            } else {
                "username"
            };
            field_failure(field, &message)
        }
    }
}

/// Creates a user in the administrator's organization and opens their page. Permission:
/// the Console and `internal_user_mgt_create`.
#[server]
pub async fn create_user(
    username: String,
    email: String,
    given_name: String,
    family_name: String,
    password: String,
) -> Result<(), ServerFnError> {
    use crate::ssr::{context, internal, require_console_scope};
    let me = require_console_scope("internal_user_mgt_create")
        .await?
        .user;
    let db = context()?.db;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    let created = identity::users::register(
        &txn,
        identity::users::NewUser {
            organization_id: me.organization_id,
            username: username.trim(),
            email: email.trim(),
            given_name: given_name.trim(),
            family_name: family_name.trim(),
            password: &password,
        },
    )
    .await
    .map_err(internal)?
    .map_err(user_failure)?;
    txn.commit().await.map_err(internal)?;
    leptos_axum::redirect(&format!("/console/users/{}", created.id));
    Ok(())
}

/// The Create user form, folded until opened (a `<details>`, which needs no script).
#[component]
pub fn CreateUserForm() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let error = move |field: &'static str| {
        move || {
            create
                .value()
                .get()
                .and_then(Result::err)
                .and_then(|e| field_message(&e, field))
                .map(|m| view! { <p class="field-error" id=format!("new-{field}-error")>{m}</p> })
        }
    };
    let general = move || {
        create
            .value()
            .get()
            .and_then(Result::err)
            .and_then(|e| form_message(&e, &["username", "email", "password"]))
            .map(|m| view! { <p class="error" role="alert">{m}</p> })
    };
    view! {
        <details class="create card">
            <summary>"Create user"</summary>
            <ActionForm action=create attr:class="grid-form">
                {general}
                <label for="new-username">"Username"</label>
                <input id="new-username" name="username" type="text" required autocomplete="off"/>
                {error("username")}
                <label for="new-email">"Email"</label>
                <input id="new-email" name="email" type="email"/>
                {error("email")}
                <label for="new-given">"Given name"</label>
                <input id="new-given" name="given_name" type="text"/>
                <label for="new-family">"Family name"</label>
                <input id="new-family" name="family_name" type="text"/>
                <label for="new-password">"Password"</label>
                <input id="new-password" name="password" type="password" required
                    autocomplete="new-password"/>
                {error("password")}
                <div class="actions"><button type="submit" class="primary">"Create user"</button></div>
            </ActionForm>
        </details>
    }
}

/// Changes a user's name and email. Permission: the Console and `internal_user_mgt_update`.
#[server]
pub async fn update_user(
    id: String,
    email: String,
    given_name: String,
    family_name: String,
) -> Result<(), ServerFnError> {
    use crate::ssr::require_console_scope;
    let me = require_console_scope("internal_user_mgt_update").await?;
    change_user(
        &me,
        &id,
        identity::users::Changes {
            email: Some(email.trim().to_owned()),
            given_name: Some(given_name.trim().to_owned()),
            family_name: Some(family_name.trim().to_owned()),
            ..identity::users::Changes::default()
        },
    )
    .await
}

/// Applies `changes` to the user `id` in one transaction, if `me` holds everything they
/// hold (the delegation rule).
#[cfg(feature = "ssr")]
async fn change_user(
    me: &identity::sessions::Current,
    id: &str,
    changes: identity::users::Changes,
) -> Result<(), ServerFnError> {
    use crate::ssr::{authority, context, internal, invalid, refused_change};
    let by = authority(me).await?;
    let reach = crate::ssr::reach(me, "internal_user_mgt_update").await?;
    let not_found = || invalid("There is no user with this id.");
    let id = uuid::Uuid::parse_str(id).map_err(|_| not_found())?;
    let db = context()?.db;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    let user = identity::users::find(&txn, id)
        .await
        .map_err(internal)?
        .filter(|user| reach.contains(user.organization_id))
        .ok_or_else(not_found)?;
    match identity::users::update(&txn, &by, user, changes)
        .await
        .map_err(internal)?
    {
        Ok(_) => {}
        Err(identity::users::UserError::Refused(refusal)) => {
            return Err(refused_change(txn, refusal).await);
        }
        Err(error) => return Err(user_failure(error)),
    }
    txn.commit().await.map_err(internal)?;
    Ok(())
}

/// Enables, disables, locks or unlocks a user (`status`: active, disabled, locked). Nobody
/// changes their own status. Permission: the Console and `internal_user_mgt_update`.
#[server]
pub async fn set_user_status(id: String, status: String) -> Result<(), ServerFnError> {
    use crate::ssr::{invalid, require_console_scope};
    use identity::entities::user::UserStatus;
    let current = require_console_scope("internal_user_mgt_update").await?;
    let me = &current.user;
    let status = match status.as_str() {
        "active" => UserStatus::Active,
        "disabled" => UserStatus::Disabled,
        "locked" => UserStatus::Locked,
        _ => return Err(invalid("Unknown status.")),
    };
    let mine = uuid::Uuid::parse_str(&id).is_ok_and(|id| id == me.id);
    if mine {
        return Err(invalid("You cannot change your own status."));
    }
    change_user(
        &current,
        &id,
        identity::users::Changes {
            status: Some(status),
            ..identity::users::Changes::default()
        },
    )
    .await
}

/// Deletes a user (their sessions and tokens go with them) and returns to the list.
/// Nobody deletes themselves. Permission: the Console and `internal_user_mgt_delete`.
#[server]
pub async fn delete_user(id: String) -> Result<(), ServerFnError> {
    use crate::ssr::{
        authority, context, internal, invalid, refused_change, require_console_scope,
    };
    let current = require_console_scope("internal_user_mgt_delete").await?;
    let by = authority(&current).await?;
    let reach = crate::ssr::reach(&current, "internal_user_mgt_delete").await?;
    let me = current.user;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| invalid("There is no user with this id."))?;
    let db = context()?.db;
    let within = identity::users::find(&db, id)
        .await
        .map_err(internal)?
        .is_some_and(|user| reach.contains(user.organization_id));
    if !within {
        return Err(invalid("There is no user with this id."));
    }
    if id == me.id {
        return Err(invalid("You cannot delete your own account."));
    }
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    match identity::users::delete(&txn, &by, id)
        .await
        .map_err(internal)?
    {
        Ok(true) => {}
        Ok(false) => return Err(invalid("There is no user with this id.")),
        Err(refusal) => return Err(refused_change(txn, refusal).await),
    }
    txn.commit().await.map_err(internal)?;
    leptos_axum::redirect("/console/users");
    Ok(())
}
