//! API resources and the scopes each application is authorized for. A user's token only
//! carries an API scope when the application is authorized for it *and* the user holds it
//! through a role.

use crate::delegation::{Authority, Refusal, Why};
use crate::entities::{api_resource, api_scope, application, authorized_scope};
use crate::{Result, clock, scopes};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

/// Identifier of the built-in "User Impersonation" resource.
pub const IMPERSONATION: &str = "system:impersonation";
/// Identifier of the built-in management API resource.
pub const MANAGEMENT: &str = "system:management";

/// A resource with its scopes.
#[derive(Clone, Debug)]
pub struct Resource {
    pub resource: api_resource::Model,
    pub scopes: Vec<api_scope::Model>,
}

/// Creates the built-in resources if missing (and scopes a newer version added).
pub async fn ensure_system(
    db: &impl ConnectionTrait,
) -> Result<(api_resource::Model, api_resource::Model)> {
    let impersonation = ensure(
        db,
        "User Impersonation",
        IMPERSONATION,
        "Lets an application obtain tokens that act as another user.",
        &[(scopes::USER_IMPERSONATE, "Impersonate users")],
    )
    .await?;
    let management_scopes: Vec<(&str, &str)> =
        scopes::MANAGEMENT.iter().map(|s| (*s, *s)).collect();
    let management = ensure(
        db,
        "Management API",
        MANAGEMENT,
        "The SCIM 2.0 and /api/server/v1 management APIs.",
        &management_scopes,
    )
    .await?;
    Ok((impersonation, management))
}

async fn ensure(
    db: &impl ConnectionTrait,
    name: &str,
    identifier: &str,
    description: &str,
    scope_list: &[(&str, &str)],
) -> Result<api_resource::Model> {
    let resource = match api_resource::Entity::find()
        .filter(api_resource::Column::Identifier.eq(identifier))
        .one(db)
        .await?
    {
        Some(found) => found,
        None => {
            let model = api_resource::ActiveModel {
                id: Set(Uuid::new_v4()),
                name: Set(name.to_owned()),
                identifier: Set(identifier.to_owned()),
                description: Set(description.to_owned()),
                system: Set(true),
                created_at: Set(clock::now()),
            };
            api_resource::Entity::insert(model)
                .exec_with_returning(db)
                .await?
        }
    };
    for (scope, display) in scope_list {
        if api_scope::Entity::find_by_id((*scope).to_owned())
            .one(db)
            .await?
            .is_none()
        {
            api_scope::Entity::insert(api_scope::ActiveModel {
                name: Set((*scope).to_owned()),
                resource_id: Set(resource.id),
                display_name: Set((*display).to_owned()),
                description: Set(String::new()),
            })
            .exec_without_returning(db)
            .await?;
        }
    }
    Ok(resource)
}

async fn with_scopes(
    db: &impl ConnectionTrait,
    resources: Vec<api_resource::Model>,
) -> Result<Vec<Resource>> {
    let ids: Vec<Uuid> = resources.iter().map(|r| r.id).collect();
    let all = api_scope::Entity::find()
        .filter(api_scope::Column::ResourceId.is_in(ids))
        .order_by_asc(api_scope::Column::Name)
        .all(db)
        .await?;
    Ok(resources
        .into_iter()
        .map(|resource| Resource {
            scopes: all
                .iter()
                .filter(|s| s.resource_id == resource.id)
                .cloned()
                .collect(),
            resource,
        })
        .collect())
}

/// A page of resources, optionally only the one with `identifier`.
pub async fn list(
    db: &impl ConnectionTrait,
    identifier: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<(u64, Vec<Resource>)> {
    let mut query = api_resource::Entity::find().order_by_asc(api_resource::Column::Name);
    if let Some(identifier) = identifier {
        query = query.filter(api_resource::Column::Identifier.eq(identifier));
    }
    let total = query.clone().count(db).await?;
    let page = query.offset(offset).limit(limit).all(db).await?;
    Ok((total, with_scopes(db, page).await?))
}

/// A resource by id.
pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Resource>> {
    let Some(resource) = api_resource::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    Ok(with_scopes(db, vec![resource]).await?.into_iter().next())
}

/// A resource by identifier.
pub async fn find_by_identifier(
    db: &impl ConnectionTrait,
    identifier: &str,
) -> Result<Option<Resource>> {
    Ok(list(db, Some(identifier), 0, 1).await?.1.into_iter().next())
}

/// Why an authorization was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizeError {
    #[error("the scope {0} does not belong to this API resource")]
    ForeignScope(String),
    #[error(transparent)]
    Refused(#[from] Refusal),
}

/// Whether `by` may change what `app` is authorized for of `resource_id`: never for a
/// system application (except the operator, who seeds them), and only when `by` holds
/// every scope the application has of it now and every scope in `wanted`.
async fn may_authorize(
    db: &impl ConnectionTrait,
    by: &Authority,
    app: &application::Model,
    resource_id: Uuid,
    wanted: &[String],
) -> Result<std::result::Result<(), Refusal>> {
    if app.system && !by.is_operator() {
        return Ok(Err(by.refusal(Why::SystemApplication("API authorizations"))));
    }
    let now: Vec<String> = authorized_scope::Entity::find()
        .select_only()
        .column(authorized_scope::Column::Scope)
        .filter(authorized_scope::Column::ApplicationId.eq(app.id))
        .filter(authorized_scope::Column::ResourceId.eq(resource_id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(by.check(now.iter().chain(wanted), "authorize an application for it"))
}

/// Authorizes an application for `scopes` of a resource, replacing what it had of that
/// resource; `by` must hold all of both (see [`crate::delegation`]).
pub async fn authorize(
    db: &impl ConnectionTrait,
    by: &Authority,
    app: &application::Model,
    resource: &Resource,
    scope_names: &[String],
) -> Result<std::result::Result<(), AuthorizeError>> {
    if let Some(foreign) = scope_names
        .iter()
        .find(|s| !resource.scopes.iter().any(|r| &r.name == *s))
    {
        return Ok(Err(AuthorizeError::ForeignScope(foreign.clone())));
    }
    if let Err(refusal) = may_authorize(db, by, app, resource.resource.id, scope_names).await? {
        return Ok(Err(refusal.into()));
    }
    let application_id = app.id;
    remove_authorization(db, application_id, resource.resource.id).await?;
    let now = clock::now();
    for scope in scope_names {
        authorized_scope::Entity::insert(authorized_scope::ActiveModel {
            application_id: Set(application_id),
            scope: Set(scope.clone()),
            resource_id: Set(resource.resource.id),
            created_at: Set(now),
        })
        .exec_without_returning(db)
        .await?;
    }
    Ok(Ok(()))
}

/// Removes an application's authorization for a resource, which `by` must hold every scope
/// of. `Ok(false)`: it had none.
pub async fn deauthorize(
    db: &impl ConnectionTrait,
    by: &Authority,
    app: &application::Model,
    resource_id: Uuid,
) -> Result<std::result::Result<bool, Refusal>> {
    if let Err(refusal) = may_authorize(db, by, app, resource_id, &[]).await? {
        return Ok(Err(refusal));
    }
    Ok(Ok(remove_authorization(db, app.id, resource_id).await?))
}

async fn remove_authorization(
    db: &impl ConnectionTrait,
    application_id: Uuid,
    resource_id: Uuid,
) -> Result<bool> {
    let removed = authorized_scope::Entity::delete_many()
        .filter(authorized_scope::Column::ApplicationId.eq(application_id))
        .filter(authorized_scope::Column::ResourceId.eq(resource_id))
        .exec(db)
        .await?;
    Ok(removed.rows_affected > 0)
}

/// The resources an application is authorized for, with the authorized scopes only.
pub async fn authorized(
    db: &impl ConnectionTrait,
    application_id: Uuid,
) -> Result<Vec<(api_resource::Model, Vec<String>)>> {
    let rows = authorized_scope::Entity::find()
        .filter(authorized_scope::Column::ApplicationId.eq(application_id))
        .order_by_asc(authorized_scope::Column::Scope)
        .all(db)
        .await?;
    let mut ids: Vec<Uuid> = rows.iter().map(|r| r.resource_id).collect();
    ids.dedup();
    let resources = api_resource::Entity::find()
        .filter(api_resource::Column::Id.is_in(ids))
        .order_by_asc(api_resource::Column::Name)
        .all(db)
        .await?;
    Ok(resources
        .into_iter()
        .map(|r| {
            let scopes = rows
                .iter()
                .filter(|s| s.resource_id == r.id)
                .map(|s| s.scope.clone())
                .collect();
            (r, scopes)
        })
        .collect())
}

/// Every scope an application is authorized for.
pub async fn authorized_scopes(
    db: &impl ConnectionTrait,
    application_id: Uuid,
) -> Result<Vec<String>> {
    Ok(authorized_scope::Entity::find()
        .select_only()
        .column(authorized_scope::Column::Scope)
        .filter(authorized_scope::Column::ApplicationId.eq(application_id))
        .into_tuple()
        .all(db)
        .await?)
}

/// [`authorized_scopes`], kept while nothing changes (`crate::store::cache`).
pub async fn authorized_scopes_cached(
    reads: &crate::store::cache::Reads<'_>,
    application_id: Uuid,
) -> Result<Vec<String>> {
    struct Authorized;
    impl crate::store::cache::Kind for Authorized {
        type Key = Uuid;
        type Value = Vec<String>;
    }
    let load = authorized_scopes(reads.db(), application_id);
    reads.remembered::<Authorized>(application_id, load).await
}
