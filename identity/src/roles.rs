//! Roles and what they grant.

use crate::Result;
use crate::delegation::Authority;
use crate::entities::{
    application,
    role::{self, AudienceType},
    role_scope, role_user,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};
use std::collections::BTreeSet;
use uuid::Uuid;

/// The ids of the roles `user_id` holds.
pub async fn ids_of_user(db: &impl ConnectionTrait, user_id: Uuid) -> Result<Vec<Uuid>> {
    Ok(role_user::Entity::find()
        .select_only()
        .column(role_user::Column::RoleId)
        .filter(role_user::Column::UserId.eq(user_id))
        .into_tuple()
        .all(db)
        .await?)
}

/// What a user's roles grant: each scope with the audience of the role granting it. Read
/// by [`held`]; asked by [`Holdings::scopes`] and [`Holdings::organizations_granting`].
#[derive(Clone, Debug, Default)]
pub struct Holdings {
    grants: Vec<(String, AudienceType, Uuid)>,
    /// The roles themselves.
    roles: Vec<Uuid>,
}

/// For what a user's scopes are asked.
#[derive(Clone, Copy, Debug)]
pub enum Audience<'a> {
    /// Tokens of this application: roles of the application, and for a system
    /// application (Console, My Account) organization roles too.
    Application(&'a application::Model),
    /// Rights over the server's own data (delegation): management scopes through
    /// organization roles only, every other scope through any role.
    Administration,
    /// Every scope of every role, whatever its audience.
    Anywhere,
}

/// The one answer to "which scopes does this user hold": every scope of every role of
/// `user_id`, with each role's audience. The features ask it for their audience
/// ([`Holdings::scopes`]) or organization ([`Holdings::organizations_granting`]).
pub async fn held(db: &impl ConnectionTrait, user_id: Uuid) -> Result<Holdings> {
    use sea_orm::JoinType;
    let role_ids = ids_of_user(db, user_id).await?;
    if role_ids.is_empty() {
        return Ok(Holdings::default());
    }
    let of_role = role_scope::Entity::belongs_to(role::Entity)
        .from(role_scope::Column::RoleId)
        .to(role::Column::Id)
        .into();
    let grants = role_scope::Entity::find()
        .select_only()
        .column(role_scope::Column::Scope)
        .column(role::Column::AudienceType)
        .column(role::Column::AudienceId)
        .join(JoinType::InnerJoin, of_role)
        .filter(role_scope::Column::RoleId.is_in(role_ids.clone()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(Holdings {
        grants,
        roles: role_ids,
    })
}

impl Holdings {
    /// The ids of the roles held.
    pub fn roles(&self) -> &[Uuid] {
        &self.roles
    }

    /// The scopes held for `audience`.
    pub fn scopes(&self, audience: Audience<'_>) -> BTreeSet<String> {
        self.grants
            .iter()
            .filter(|(scope, kind, audience_id)| match (audience, kind) {
                (Audience::Application(app), AudienceType::Application) => *audience_id == app.id,
                (Audience::Application(app), AudienceType::Organization) => app.system,
                (Audience::Administration, AudienceType::Organization) => true,
                (Audience::Administration, AudienceType::Application) => {
                    !crate::scopes::MANAGEMENT.contains(&scope.as_str())
                }
                (Audience::Anywhere, _) => true,
            })
            .map(|(scope, ..)| scope.clone())
            .collect()
    }

    /// The organizations whose roles grant `scope` (each reaches its sub-organizations
    /// too; see `crate::organizations::Reach`).
    pub fn organizations_granting(&self, scope: &str) -> Vec<Uuid> {
        self.grants
            .iter()
            .filter(|(s, kind, _)| s == scope && *kind == AudienceType::Organization)
            .map(|(.., organization)| *organization)
            .collect()
    }
}

/// Every role of the organizations `reach` covers, by name.
pub async fn within(
    db: &impl ConnectionTrait,
    reach: &crate::organizations::Reach,
) -> Result<Vec<role::Model>> {
    use sea_orm::QueryOrder;
    Ok(role::Entity::find()
        .order_by_asc(role::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .filter(|r| reach.contains(r.organization_id))
        .collect())
}

/// Whether `user_id` holds `scope` through a role whose audience is an organization.
pub async fn holds_organization_scope(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    scope: &str,
) -> Result<bool> {
    let held = held(db, user_id).await?;
    Ok(!held.organizations_granting(scope).is_empty())
}

/// The organization a role belongs to, for who may see and change it: its audience for an
/// organization role, its application's organization otherwise.
pub fn organization_of(role: &role::Model) -> Uuid {
    match role.audience_type {
        AudienceType::Organization => role.audience_id,
        AudienceType::Application => role.organization_id,
    }
}

/// The scopes a role grants.
async fn scopes_of(db: &impl ConnectionTrait, role_id: Uuid) -> Result<Vec<String>> {
    Ok(role_scope::Entity::find()
        .select_only()
        .column(role_scope::Column::Scope)
        .filter(role_scope::Column::RoleId.eq(role_id))
        .into_tuple()
        .all(db)
        .await?)
}

/// A role with its scopes (permissions) and members.
#[derive(Clone, Debug)]
pub struct RoleView {
    pub role: role::Model,
    pub scopes: Vec<String>,
    pub users: Vec<crate::entities::user::Model>,
}

/// Why a change to a role was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    #[error("a built-in role can only have its users changed")]
    Builtin,
    #[error("a role named {0} already exists for this audience")]
    Duplicate(String),
    #[error("no user with the id {0}")]
    UnknownUser(String),
    #[error("the audience is not an application or organization of this server")]
    UnknownAudience,
    #[error("the scope {0} is not one the audience is authorized for")]
    ScopeNotAllowed(String),
    #[error("a role needs a name")]
    NoName,
    #[error(transparent)]
    Refused(#[from] crate::delegation::Refusal),
}

/// What a role change does.
#[derive(Clone, Debug, Default)]
pub struct RoleChange {
    pub rename: Option<String>,
    pub add_scopes: Vec<String>,
    pub remove_scopes: Vec<String>,
    pub add_users: Vec<Uuid>,
    pub remove_users: Vec<Uuid>,
}

/// A role with its scopes and users.
pub async fn view(db: &impl ConnectionTrait, role: role::Model) -> Result<RoleView> {
    use crate::entities::user;
    let scopes = scopes_of(db, role.id).await?;
    let user_ids: Vec<Uuid> = role_user::Entity::find()
        .select_only()
        .column(role_user::Column::UserId)
        .filter(role_user::Column::RoleId.eq(role.id))
        .into_tuple()
        .all(db)
        .await?;
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(user_ids))
        .all(db)
        .await?;
    Ok(RoleView {
        role,
        scopes,
        users,
    })
}

/// The roles `user_id` holds, by name.
pub async fn of_user(db: &impl ConnectionTrait, user_id: Uuid) -> Result<Vec<role::Model>> {
    use sea_orm::QueryOrder;
    let ids = ids_of_user(db, user_id).await?;
    Ok(role::Entity::find()
        .filter(role::Column::Id.is_in(ids))
        .order_by_asc(role::Column::Name)
        .all(db)
        .await?)
}

/// A role by id.
pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<RoleView>> {
    match role::Entity::find_by_id(id).one(db).await? {
        Some(role) => Ok(Some(view(db, role).await?)),
        None => Ok(None),
    }
}

/// A page of the roles of organizations within `reach`, optionally by exact name and/or
/// audience id.
pub async fn list(
    db: &impl ConnectionTrait,
    reach: &crate::organizations::Reach,
    name: Option<&str>,
    audience: Option<Uuid>,
    offset: u64,
    limit: u64,
) -> Result<(u64, Vec<RoleView>)> {
    use sea_orm::QueryOrder;
    let mut query = role::Entity::find().order_by_asc(role::Column::Name);
    if let crate::organizations::Reach::Within(organizations) = reach {
        use sea_orm::Condition;
        let within = || organizations.iter().copied();
        query = query.filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(role::Column::AudienceType.eq(AudienceType::Organization))
                        .add(role::Column::AudienceId.is_in(within())),
                )
                .add(
                    Condition::all()
                        .add(role::Column::AudienceType.eq(AudienceType::Application))
                        .add(role::Column::OrganizationId.is_in(within())),
                ),
        );
    }
    if let Some(name) = name {
        query = query.filter(role::Column::Name.eq(name));
    }
    if let Some(audience) = audience {
        query = query.filter(role::Column::AudienceId.eq(audience));
    }
    let total = query.clone().count(db).await?;
    let mut page = Vec::new();
    for role in query.offset(offset).limit(limit).all(db).await? {
        page.push(view(db, role).await?);
    }
    Ok((total, page))
}

/// The scopes a role with this audience may hold: for an application, what it is
/// authorized for; for the organization, every API scope.
pub async fn allowed_scopes(
    db: &impl ConnectionTrait,
    audience: (AudienceType, Uuid),
) -> Result<Option<Vec<String>>> {
    use crate::entities::{api_scope, application, organization};
    match audience.0 {
        AudienceType::Application => {
            if application::Entity::find_by_id(audience.1)
                .one(db)
                .await?
                .is_none()
            {
                return Ok(None);
            }
            Ok(Some(
                crate::api_resources::authorized_scopes(db, audience.1).await?,
            ))
        }
        AudienceType::Organization => {
            if organization::Entity::find_by_id(audience.1)
                .one(db)
                .await?
                .is_none()
            {
                return Ok(None);
            }
            let all: Vec<String> = api_scope::Entity::find()
                .select_only()
                .column(api_scope::Column::Name)
                .into_tuple()
                .all(db)
                .await?;
            Ok(Some(all))
        }
    }
}

async fn check_users(
    db: &impl ConnectionTrait,
    users: &[Uuid],
) -> Result<std::result::Result<(), RoleError>> {
    for id in users {
        if crate::users::find(db, *id).await?.is_none() {
            return Ok(Err(RoleError::UnknownUser(id.to_string())));
        }
    }
    Ok(Ok(()))
}

/// Creates a role; `by` must hold every scope it grants.
pub async fn create(
    db: &impl ConnectionTrait,
    by: &Authority,
    organization_id: Uuid,
    name: &str,
    audience: (AudienceType, Uuid),
    scopes: &[String],
    users: &[Uuid],
) -> Result<std::result::Result<RoleView, RoleError>> {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let name = name.trim();
    if name.is_empty() {
        return Ok(Err(RoleError::NoName));
    }
    let Some(allowed) = allowed_scopes(db, audience).await? else {
        return Ok(Err(RoleError::UnknownAudience));
    };
    if let Some(scope) = scopes.iter().find(|s| !allowed.contains(s)) {
        return Ok(Err(RoleError::ScopeNotAllowed(scope.clone())));
    }
    if let Err(refusal) = by.check(scopes, "create a role that grants it") {
        return Ok(Err(refusal.into()));
    }
    if let Err(error) = check_users(db, users).await? {
        return Ok(Err(error));
    }
    let taken = role::Entity::find()
        .filter(role::Column::AudienceType.eq(audience.0))
        .filter(role::Column::AudienceId.eq(audience.1))
        .filter(role::Column::Name.eq(name))
        .count(db)
        .await?;
    if taken > 0 {
        return Ok(Err(RoleError::Duplicate(name.to_owned())));
    }
    let role = role::ActiveModel {
        id: Set(Uuid::new_v4()),
        organization_id: Set(organization_id),
        name: Set(name.to_owned()),
        audience_type: Set(audience.0),
        audience_id: Set(audience.1),
        builtin: Set(false),
        created_at: Set(crate::clock::now()),
    }
    .insert(db)
    .await?;
    let change = RoleChange {
        add_scopes: scopes.to_vec(),
        add_users: users.to_vec(),
        ..RoleChange::default()
    };
    apply(db, &role, &change).await?;
    Ok(Ok(view(db, role).await?))
}

async fn apply(db: &impl ConnectionTrait, role: &role::Model, change: &RoleChange) -> Result<()> {
    use sea_orm::{ActiveValue::Set, sea_query::OnConflict};
    for scope in &change.add_scopes {
        role_scope::Entity::insert(role_scope::ActiveModel {
            role_id: Set(role.id),
            scope: Set(scope.clone()),
        })
        .on_conflict(
            OnConflict::columns([role_scope::Column::RoleId, role_scope::Column::Scope])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    }
    if !change.remove_scopes.is_empty() {
        role_scope::Entity::delete_many()
            .filter(role_scope::Column::RoleId.eq(role.id))
            .filter(role_scope::Column::Scope.is_in(change.remove_scopes.clone()))
            .exec(db)
            .await?;
    }
    for user in &change.add_users {
        role_user::Entity::insert(role_user::ActiveModel {
            role_id: Set(role.id),
            user_id: Set(*user),
        })
        .on_conflict(
            OnConflict::columns([role_user::Column::RoleId, role_user::Column::UserId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    }
    if !change.remove_users.is_empty() {
        role_user::Entity::delete_many()
            .filter(role_user::Column::RoleId.eq(role.id))
            .filter(role_user::Column::UserId.is_in(change.remove_users.clone()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Changes a role. Built-in roles accept only changes to their users. `by` must hold every
/// scope the role grants and every scope it adds: whoever could not be given the role
/// cannot give it, take it away, or widen it.
pub async fn change(
    db: &impl ConnectionTrait,
    by: &Authority,
    role: role::Model,
    change: RoleChange,
) -> Result<std::result::Result<RoleView, RoleError>> {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
    let granted = scopes_of(db, role.id).await?;
    if let Err(refusal) = by.check(
        granted.iter().chain(&change.add_scopes),
        "change a role that grants it",
    ) {
        return Ok(Err(refusal.into()));
    }
    let touches_definition = change.rename.is_some()
        || !change.add_scopes.is_empty()
        || !change.remove_scopes.is_empty();
    if role.builtin && touches_definition {
        return Ok(Err(RoleError::Builtin));
    }
    if !change.add_scopes.is_empty() {
        let allowed = allowed_scopes(db, (role.audience_type, role.audience_id))
            .await?
            .unwrap_or_default();
        if let Some(scope) = change.add_scopes.iter().find(|s| !allowed.contains(s)) {
            return Ok(Err(RoleError::ScopeNotAllowed(scope.clone())));
        }
    }
    if let Err(error) = check_users(db, &change.add_users).await? {
        return Ok(Err(error));
    }
    let role = match &change.rename {
        Some(name) if name.trim().is_empty() => return Ok(Err(RoleError::NoName)),
        Some(name) => {
            let mut model = role.into_active_model();
            model.name = Set(name.trim().to_owned());
            model.update(db).await?
        }
        None => role,
    };
    apply(db, &role, &change).await?;
    Ok(Ok(view(db, role).await?))
}

/// Deletes a role that is not built in; `by` must hold every scope it grants.
pub async fn delete(
    db: &impl ConnectionTrait,
    by: &Authority,
    role: &role::Model,
) -> Result<std::result::Result<(), RoleError>> {
    if role.builtin {
        return Ok(Err(RoleError::Builtin));
    }
    let granted = scopes_of(db, role.id).await?;
    if let Err(refusal) = by.check(&granted, "delete a role that grants it") {
        return Ok(Err(refusal.into()));
    }
    role::Entity::delete_by_id(role.id).exec(db).await?;
    Ok(Ok(()))
}
