//! Organizations: the tree under the root, creating sub-organizations, and inviting users
//! of a parent organization into a child (what `organization_switch` needs, SPEC §2.4).

use super::{ConsoleLayout, Failure};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// An organization in tree order, with its depth and its invited members.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrgNode {
    pub id: String,
    pub name: String,
    pub depth: usize,
    pub members: Vec<String>,
}

/// The tree, depth first. Permission: the Console and `internal_organization_view`.
#[server]
pub async fn list_organizations() -> Result<Vec<OrgNode>, ServerFnError> {
    use crate::ssr::{context, internal, require_console_scope};
    let me = require_console_scope("internal_organization_view").await?;
    let reach = crate::ssr::reach(&me, "internal_organization_view").await?;
    let db = context()?.db;
    let mut all = identity::organizations::list(&db).await.map_err(internal)?;
    all.retain(|o| reach.contains(o.id));
    let mut nodes = Vec::new();
    // Depth first from the tops of the caller's reach; children by name (the list is
    // ordered by name).
    let mut stack: Vec<(identity::entities::organization::Model, usize)> = all
        .iter()
        .filter(|o| o.parent_id.is_none_or(|parent| !reach.contains(parent)))
        .rev()
        .map(|o| (o.clone(), 0))
        .collect();
    while let Some((org, depth)) = stack.pop() {
        let members = identity::organizations::members(&db, org.id)
            .await
            .map_err(internal)?
            .into_iter()
            .filter(|u| u.organization_id != org.id)
            .map(|u| u.username)
            .collect();
        stack.extend(
            all.iter()
                .filter(|c| c.parent_id == Some(org.id))
                .rev()
                .map(|c| (c.clone(), depth + 1)),
        );
        nodes.push(OrgNode {
            id: org.id.to_string(),
            name: org.name,
            depth,
            members,
        });
    }
    Ok(nodes)
}

/// Creates a sub-organization. Permission: the Console and `internal_organization_create`.
#[server]
pub async fn create_organization(parent: String, name: String) -> Result<(), ServerFnError> {
    use crate::ssr::{context, internal, invalid, require_console_scope};
    let me = require_console_scope("internal_organization_create").await?;
    let reach = crate::ssr::reach(&me, "internal_organization_create").await?;
    let parent = uuid::Uuid::parse_str(&parent)
        .ok()
        .filter(|parent| reach.contains(*parent))
        .ok_or_else(|| invalid("Choose a parent."))?;
    let db = context()?.db;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    identity::organizations::create(&txn, parent, &name)
        .await
        .map_err(internal)?
        .map_err(|e| invalid(&format!("Not created: {e}.")))?;
    txn.commit().await.map_err(internal)?;
    Ok(())
}

/// Invites a user (of an ancestor organization) into an organization. Permission: the
/// Console and `internal_organization_update`.
#[server]
pub async fn invite_member(organization: String, username: String) -> Result<(), ServerFnError> {
    use crate::ssr::{context, internal, invalid, require_console_scope};
    let me = require_console_scope("internal_organization_update").await?;
    let reach = crate::ssr::reach(&me, "internal_organization_update").await?;
    let organization = uuid::Uuid::parse_str(&organization)
        .ok()
        .filter(|organization| reach.contains(*organization))
        .ok_or_else(|| invalid("Choose an organization."))?;
    let db = context()?.db;
    let txn = identity::store::db::begin_write(&db)
        .await
        .map_err(internal)?;
    let user = identity::users::find_by_username(&txn, username.trim())
        .await
        .map_err(internal)?
        .ok_or_else(|| invalid(&format!("There is no user {}.", username.trim())))?;
    identity::organizations::invite(&txn, organization, &user)
        .await
        .map_err(internal)?
        .map_err(|e| invalid(&format!("Not invited: {e}.")))?;
    txn.commit().await.map_err(internal)?;
    Ok(())
}

/// The deepest level the tree indents further (the stylesheet's `li.org.depth-N`); the
/// pages' Content-Security-Policy allows no inline styles.
const MAX_INDENT: usize = 6;

/// `GET /console/organizations`
#[component]
pub fn OrganizationsPage() -> impl IntoView {
    let create = ServerAction::<CreateOrganization>::new();
    let invite = ServerAction::<InviteMember>::new();
    let tree = Resource::new(
        move || (create.version().get(), invite.version().get()),
        |_| list_organizations(),
    );
    let errors = move || {
        [
            create.value().get().and_then(Result::err),
            invite.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(|error| view! { <Failure error/> })
    };
    view! {
        <ConsoleLayout title="Organizations">
            <h1>"Organizations"</h1>
            {errors}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match tree.await {
                        Ok(nodes) => view! { <OrgTree nodes create invite/> }.into_any(),
                        Err(error) => view! { <Failure error/> }.into_any(),
                    }
                })}
            </Suspense>
        </ConsoleLayout>
    }
}

#[component]
fn OrgTree(
    nodes: Vec<OrgNode>,
    create: ServerAction<CreateOrganization>,
    invite: ServerAction<InviteMember>,
) -> impl IntoView {
    let items = nodes
        .iter()
        .map(|n| {
            let members = if n.members.is_empty() {
                String::new()
            } else {
                format!("Invited: {}", n.members.join(", "))
            };
            view! {
                <li class=format!("org depth-{}", n.depth.min(MAX_INDENT))>
                    <strong>{n.name.clone()}</strong>
                    <span class="muted small">{members}</span>
                </li>
            }
        })
        .collect_view();
    let (parents, targets) = (nodes_options(&nodes), nodes_options(&nodes));
    view! {
        <section class="card" aria-labelledby="tree-heading">
            <h2 id="tree-heading">"Tree"</h2>
            <ul class="tree" aria-label="Organizations">{items}</ul>
        </section>
        <section class="card" aria-labelledby="new-org-heading">
            <h2 id="new-org-heading">"Create a sub-organization"</h2>
            <ActionForm action=create attr:class="grid-form">
                <label for="org-parent">"Parent"</label>
                <select id="org-parent" name="parent">{parents}</select>
                <label for="org-name">"Name"</label>
                <input id="org-name" name="name" type="text" required/>
                <div class="actions"><button type="submit" class="primary">"Create organization"</button></div>
            </ActionForm>
        </section>
        <section class="card" aria-labelledby="invite-heading">
            <h2 id="invite-heading">"Invite a user"</h2>
            <p class="muted small">"A user of a parent organization becomes a member of a child one."</p>
            <ActionForm action=invite attr:class="grid-form">
                <label for="invite-org">"Organization"</label>
                <select id="invite-org" name="organization">{targets}</select>
                <label for="invite-user">"Username"</label>
                <input id="invite-user" name="username" type="text" required/>
                <div class="actions"><button type="submit" class="primary">"Invite"</button></div>
            </ActionForm>
        </section>
    }
}

fn nodes_options(nodes: &[OrgNode]) -> impl IntoView + use<> {
    nodes
        .iter()
        .map(|n| {
            let label = format!("{}{}", "— ".repeat(n.depth), n.name);
            view! { <option value=n.id.clone()>{label}</option> }
        })
        .collect_view()
}
