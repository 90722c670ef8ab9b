//! Roles: the list, creating one with an audience (the organization, or one application),
//! and a role's page to grant or withdraw scopes and to assign or remove users. The
//! built-in roles (Administrator, Impersonator) are read-only except for their users.

use super::{ConsoleLayout, Failure};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoleRow {
    pub id: String,
    pub name: String,
    pub audience: String,
    pub scopes: usize,
    pub users: usize,
    pub builtin: bool,
}

/// An audience a new role can have: `organization` or `application:<id>`, and its label.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AudienceChoice {
    pub value: String,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolesPage {
    pub roles: Vec<RoleRow>,
    pub audiences: Vec<AudienceChoice>,
}

#[cfg(feature = "ssr")]
async fn audience_label(
    db: &identity::DatabaseConnection,
    role: &identity::entities::role::Model,
) -> Result<String, ServerFnError> {
    use crate::ssr::internal;
    use identity::entities::role::AudienceType;
    Ok(match role.audience_type {
        AudienceType::Organization => {
            let org = identity::organizations::find(db, role.audience_id)
                .await
                .map_err(internal)?;
            format!("Organization: {}", org.map(|o| o.name).unwrap_or_default())
        }
        AudienceType::Application => {
            let app = identity::applications::find(db, role.audience_id)
                .await
                .map_err(internal)?;
            format!("Application: {}", app.map(|a| a.name).unwrap_or_default())
        }
    })
}

/// Every role, and the audiences a new one can have. Permission: the Console and
/// `internal_role_mgt_view`.
#[server]
pub async fn list_roles() -> Result<RolesPage, ServerFnError> {
    use crate::ssr::{context, internal, require_console_scope};
    let me = require_console_scope("internal_role_mgt_view").await?;
    let db = context()?.db;
    let reach = crate::ssr::reach(&me, "internal_role_mgt_view").await?;
    let (_, views) = identity::roles::list(&db, &reach, None, None, 0, 500)
        .await
        .map_err(internal)?;
    let mut roles = Vec::new();
    for v in views {
        roles.push(RoleRow {
            id: v.role.id.to_string(),
            audience: audience_label(&db, &v.role).await?,
            name: v.role.name,
            scopes: v.scopes.len(),
            users: v.users.len(),
            builtin: v.role.builtin,
        });
    }
    let (_, apps) = identity::applications::list(&db, &reach, None, 0, 500)
        .await
        .map_err(internal)?;
    let mut audiences = vec![AudienceChoice {
        value: "organization".into(),
        label: "The organization".into(),
    }];
    audiences.extend(apps.into_iter().map(|a| AudienceChoice {
        value: format!("application:{}", a.id),
        label: format!("Application: {}", a.name),
    }));
    Ok(RolesPage { roles, audiences })
}

/// Why a role change was not saved; a refusal under the delegation rule is a 403 on the
/// audit record (after `txn` is rolled back).
#[cfg(feature = "ssr")]
async fn role_failure(
    txn: identity::store::db::WriteTxn,
    error: identity::roles::RoleError,
) -> ServerFnError {
    match error {
        identity::roles::RoleError::Refused(refusal) => {
            crate::ssr::refused_change(txn, refusal).await
        }
        error => crate::ssr::invalid(&format!("Not saved: {error}.")),
    }
}

/// Creates a role without scopes or users, and opens its page. Permission: the Console
/// and `internal_role_mgt_create`.
#[server]
pub async fn create_role(name: String, audience: String) -> Result<(), ServerFnError> {
    use crate::ssr::{context, internal, invalid, require_console_scope};
    use identity::entities::role::AudienceType;
    let current = require_console_scope("internal_role_mgt_create").await?;
    let by = crate::ssr::authority(&current).await?;
    let me = current.user;
    let audience = match audience.split_once(':') {
        None if audience == "organization" => (AudienceType::Organization, me.organization_id),
        Some(("application", id)) => (
            AudienceType::Application,
            uuid::Uuid::parse_str(id).map_err(|_| invalid("Choose an audience."))?,
        ),
        _ => return Err(invalid("Choose an audience.")),
    };
    let db = context()?.db;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    let view =
        match identity::roles::create(&txn, &by, me.organization_id, &name, audience, &[], &[])
            .await
            .map_err(internal)?
        {
            Ok(view) => view,
            Err(error) => return Err(role_failure(txn, error).await),
        };
    txn.commit().await.map_err(internal)?;
    leptos_axum::redirect(&format!("/console/roles/{}", view.role.id));
    Ok(())
}

/// `GET /console/roles`
#[component]
pub fn RolesListPage() -> impl IntoView {
    let create = ServerAction::<CreateRole>::new();
    let roles = Resource::new(|| (), |_| list_roles());
    view! {
        <ConsoleLayout title="Roles">
            <h1>"Roles"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match roles.await {
                        Ok(page) => view! { <RolesView page create/> }.into_any(),
                        Err(error) => view! { <Failure error/> }.into_any(),
                    }
                })}
            </Suspense>
        </ConsoleLayout>
    }
}

#[component]
fn RolesView(page: RolesPage, create: ServerAction<CreateRole>) -> impl IntoView {
    let options = page
        .audiences
        .into_iter()
        .map(|a| view! { <option value=a.value>{a.label}</option> })
        .collect_view();
    let rows = page
        .roles
        .into_iter()
        .map(|r| {
            view! {
                <tr>
                    <td>
                        <a href=format!("/console/roles/{}", r.id)>{r.name}</a>
                        {r.builtin.then(|| view! { " " <span class="badge builtin">"Built-in"</span> })}
                    </td>
                    <td>{r.audience}</td>
                    <td>{r.scopes}</td>
                    <td>{r.users}</td>
                </tr>
            }
        })
        .collect_view();
    let error = move || {
        create
            .value()
            .get()
            .and_then(Result::err)
            .map(|error| view! { <Failure error/> })
    };
    view! {
        <details class="create card">
            <summary>"Create role"</summary>
            <ActionForm action=create attr:class="grid-form">
                {error}
                <label for="role-name">"Role name"</label>
                <input id="role-name" name="name" type="text" required/>
                <label for="role-audience">"Audience"</label>
                <select id="role-audience" name="audience">{options}</select>
                <p class="muted small">"An application role grants scopes the application is authorized for; an organization role grants the management API's scopes."</p>
                <div class="actions"><button type="submit" class="primary">"Create role"</button></div>
            </ActionForm>
        </details>
        <table class="list">
            <thead><tr><th scope="col">"Role"</th><th scope="col">"Audience"</th>
                <th scope="col">"Scopes"</th><th scope="col">"Users"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoleDetails {
    pub id: String,
    pub name: String,
    pub audience: String,
    pub builtin: bool,
    /// Every scope the audience allows, and whether the role grants it.
    pub scopes: Vec<(String, bool)>,
    /// (id, username) of the role's users.
    pub users: Vec<(String, String)>,
}

/// Permission: the Console and `internal_role_mgt_view`.
#[server]
pub async fn get_role(id: String) -> Result<RoleDetails, ServerFnError> {
    use crate::ssr::{context, internal, invalid, require_console_scope};
    let me = require_console_scope("internal_role_mgt_view").await?;
    let reach = crate::ssr::reach(&me, "internal_role_mgt_view").await?;
    let db = context()?.db;
    let not_found = || invalid("There is no role with this id.");
    let id = uuid::Uuid::parse_str(&id).map_err(|_| not_found())?;
    let view = identity::roles::find(&db, id)
        .await
        .map_err(internal)?
        .filter(|view| reach.contains(identity::roles::organization_of(&view.role)))
        .ok_or_else(not_found)?;
    let allowed =
        identity::roles::allowed_scopes(&db, (view.role.audience_type, view.role.audience_id))
            .await
            .map_err(internal)?
            .unwrap_or_default();
    let mut scopes: Vec<(String, bool)> = allowed
        .into_iter()
        .map(|s| {
            let held = view.scopes.contains(&s);
            (s, held)
        })
        .collect();
    for held in &view.scopes {
        if !scopes.iter().any(|(s, _)| s == held) {
            scopes.push((held.clone(), true));
        }
    }
    scopes.sort();
    let mut users: Vec<(String, String)> = view
        .users
        .iter()
        .map(|u| (u.id.to_string(), u.username.clone()))
        .collect();
    users.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(RoleDetails {
        id: view.role.id.to_string(),
        audience: audience_label(&db, &view.role).await?,
        name: view.role.name,
        builtin: view.role.builtin,
        scopes,
        users,
    })
}

/// Applies one change to a role: `grant`/`withdraw` a scope (`value` = scope), `assign`
/// a user (`value` = username) or `remove` one (`value` = user id). Permission: the Console
/// and `internal_role_mgt_update`.
#[server]
pub async fn change_role(id: String, change: String, value: String) -> Result<(), ServerFnError> {
    use crate::ssr::{authority, context, internal, invalid, require_console_scope};
    let me = require_console_scope("internal_role_mgt_update").await?;
    let by = authority(&me).await?;
    let reach = crate::ssr::reach(&me, "internal_role_mgt_update").await?;
    let db = context()?.db;
    let not_found = || invalid("There is no role with this id.");
    let id = uuid::Uuid::parse_str(&id).map_err(|_| not_found())?;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    let view = identity::roles::find(&txn, id)
        .await
        .map_err(internal)?
        .filter(|view| reach.contains(identity::roles::organization_of(&view.role)))
        .ok_or_else(not_found)?;
    let mut edit = identity::roles::RoleChange::default();
    match change.as_str() {
        "grant" => edit.add_scopes.push(value),
        "withdraw" => edit.remove_scopes.push(value),
        "assign" => {
            let user = identity::users::find_by_username(&txn, value.trim())
                .await
                .map_err(internal)?
                .ok_or_else(|| invalid(&format!("There is no user {}.", value.trim())))?;
            edit.add_users.push(user.id);
        }
        "remove" => edit
            .remove_users
            .push(uuid::Uuid::parse_str(&value).map_err(|_| invalid("Unknown user."))?),
        _ => return Err(invalid("Unknown change.")),
    }
    if let Err(error) = identity::roles::change(&txn, &by, view.role, edit)
        .await
        .map_err(internal)?
    {
        return Err(role_failure(txn, error).await);
    }
    txn.commit().await.map_err(internal)?;
    Ok(())
}

/// `GET /console/roles/{id}`
#[component]
pub fn RolePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let change = ServerAction::<ChangeRole>::new();
    let role = Resource::new(
        move || (id(), change.version().get()),
        |(id, _)| get_role(id),
    );
    let error = move || {
        change
            .value()
            .get()
            .and_then(Result::err)
            .map(|error| view! { <Failure error/> })
    };
    view! {
        <ConsoleLayout title="Role">
            <p><a href="/console/roles">"← Roles"</a></p>
            {error}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match role.await {
                        Ok(role) => view! { <RoleView role change/> }.into_any(),
                        Err(error) => view! { <h1>"Role"</h1><Failure error/> }.into_any(),
                    }
                })}
            </Suspense>
        </ConsoleLayout>
    }
}

#[component]
fn RoleView(role: RoleDetails, change: ServerAction<ChangeRole>) -> impl IntoView {
    let builtin = role.builtin;
    let scopes = if role.scopes.is_empty() {
        view! { <p class="muted">"The audience allows no scopes yet: authorize the application for an API first."</p> }.into_any()
    } else {
        let rows = role
            .scopes
            .into_iter()
            .map(|(scope, held)| {
                let (verb, label) = if held { ("withdraw", "Withdraw") } else { ("grant", "Grant") };
                let id = role.id.clone();
                view! {
                    <tr>
                        <td><code>{scope.clone()}</code></td>
                        <td>{if held { "Granted" } else { "—" }}</td>
                        <td>
                            {(!builtin).then(|| view! {
                                <ActionForm action=change>
                                    <input type="hidden" name="id" value=id/>
                                    <input type="hidden" name="change" value=verb/>
                                    <input type="hidden" name="value" value=scope.clone()/>
                                    <button type="submit" aria-label=format!("{label} {scope}")>{label}</button>
                                </ActionForm>
                            })}
                        </td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="list">
                <thead><tr><th scope="col">"Scope"</th><th scope="col">"In this role"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    let users = role
        .users
        .into_iter()
        .map(|(user_id, username)| {
            let id = role.id.clone();
            view! {
                <tr>
                    <td><a href=format!("/console/users/{user_id}")>{username.clone()}</a></td>
                    <td>
                        <ActionForm action=change>
                            <input type="hidden" name="id" value=id/>
                            <input type="hidden" name="change" value="remove"/>
                            <input type="hidden" name="value" value=user_id/>
                            <button type="submit" aria-label=format!("Remove {username}")>"Remove"</button>
                        </ActionForm>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="heading">
            <h1>{role.name.clone()}</h1>
            {builtin.then(|| view! { <span class="badge builtin">"Built-in"</span> })}
        </div>
        <p class="muted">{role.audience.clone()}</p>
        {builtin.then(|| view! {
            <p class="muted small">"A built-in role: its name and scopes cannot change; only its users can."</p>
        })}
        <section class="card" aria-labelledby="scopes-heading">
            <h2 id="scopes-heading">"Scopes"</h2>
            {scopes}
        </section>
        <section class="card" aria-labelledby="users-heading">
            <h2 id="users-heading">"Users"</h2>
            <table class="list">
                <thead><tr><th scope="col">"Username"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                <tbody>{users}</tbody>
            </table>
            <ActionForm action=change attr:class="toolbar assign">
                <input type="hidden" name="id" value=role.id.clone()/>
                <input type="hidden" name="change" value="assign"/>
                <label for="assign-user" class="visually-hidden">"Username to assign"</label>
                <input id="assign-user" name="value" type="text" placeholder="Username" required/>
                <button type="submit">"Assign user"</button>
            </ActionForm>
        </section>
    }
}
