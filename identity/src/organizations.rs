//! Organizations: the root and its sub-organizations (a tree), and users invited into
//! them from an ancestor organization.

use crate::entities::{organization, organization_member, user};
use crate::{Result, clock};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};
use uuid::Uuid;

/// Why an organization change was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum OrgError {
    #[error("no parent organization with this id")]
    UnknownParent,
    #[error("an organization named {0} already exists under this parent")]
    Duplicate(String),
    #[error("an organization needs a name")]
    NoName,
    #[error("the user does not belong to an ancestor of this organization")]
    NotAncestor,
    #[error("the user is already a member")]
    AlreadyMember,
}

/// Where a caller's management rights reach: an organization role grants rights in its
/// organization and the organizations below it, never above or beside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// The root organization and so every organization.
    Everywhere,
    /// These organizations (each with its descendants already listed).
    Within(std::collections::BTreeSet<Uuid>),
}

impl Reach {
    /// Whether the caller's rights reach `organization_id`.
    pub fn contains(&self, organization_id: Uuid) -> bool {
        match self {
            Reach::Everywhere => true,
            Reach::Within(set) => set.contains(&organization_id),
        }
    }

    /// Whether the rights reach no organization at all (they are held nowhere).
    pub fn is_nowhere(&self) -> bool {
        matches!(self, Reach::Within(set) if set.is_empty())
    }

    /// The reach of rights held in `roots`: those organizations and their descendants.
    pub async fn of(db: &impl ConnectionTrait, roots: &[Uuid]) -> Result<Self> {
        let all = organization::Entity::find().all(db).await?;
        if all
            .iter()
            .any(|o| o.parent_id.is_none() && roots.contains(&o.id))
        {
            return Ok(Reach::Everywhere);
        }
        let mut within: std::collections::BTreeSet<Uuid> = roots.iter().copied().collect();
        // Descendants, level by level (the tree is small and shallow).
        loop {
            let before = within.len();
            for org in &all {
                if org.parent_id.is_some_and(|p| within.contains(&p)) {
                    within.insert(org.id);
                }
            }
            if within.len() == before {
                break;
            }
        }
        Ok(Reach::Within(within))
    }

    /// Where `user_id`'s `scope` reaches: the organizations of the organization roles
    /// through which the user holds it, and their descendants.
    pub async fn of_user(db: &impl ConnectionTrait, user_id: Uuid, scope: &str) -> Result<Self> {
        let held = crate::roles::held(db, user_id).await?;
        Self::of(db, &held.organizations_granting(scope)).await
    }
}

/// Every organization, root first then by name.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<organization::Model>> {
    let mut all = organization::Entity::find()
        .order_by_asc(organization::Column::Name)
        .all(db)
        .await?;
    all.sort_by_key(|o| o.parent_id.is_some());
    Ok(all)
}

/// An organization by id.
pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<organization::Model>> {
    Ok(organization::Entity::find_by_id(id).one(db).await?)
}

/// An organization's name (empty when there is no such organization), kept while nothing
/// changes (`crate::store::cache`).
pub async fn name_cached(
    reads: &crate::store::cache::Reads<'_>,
    organization_id: Uuid,
) -> Result<String> {
    struct Names;
    impl crate::store::cache::Kind for Names {
        type Key = Uuid;
        type Value = String;
    }
    let load = async move {
        let found = find(reads.db(), organization_id).await?;
        Ok(found.map(|o| o.name).unwrap_or_default())
    };
    reads.remembered::<Names>(organization_id, load).await
}

/// Creates a sub-organization of `parent_id`.
pub async fn create(
    db: &impl ConnectionTrait,
    parent_id: Uuid,
    name: &str,
) -> Result<std::result::Result<organization::Model, OrgError>> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(Err(OrgError::NoName));
    }
    if find(db, parent_id).await?.is_none() {
        return Ok(Err(OrgError::UnknownParent));
    }
    let taken = organization::Entity::find()
        .filter(organization::Column::ParentId.eq(parent_id))
        .filter(organization::Column::Name.eq(name))
        .count(db)
        .await?;
    if taken > 0 {
        return Ok(Err(OrgError::Duplicate(name.to_owned())));
    }
    Ok(Ok(organization::ActiveModel {
        id: Set(Uuid::new_v4()),
        parent_id: Set(Some(parent_id)),
        name: Set(name.to_owned()),
        created_at: Set(clock::now()),
    }
    .insert(db)
    .await?))
}

/// The ids of `id` and its ancestors, nearest first.
async fn lineage(db: &impl ConnectionTrait, id: Uuid) -> Result<Vec<Uuid>> {
    let mut chain = Vec::new();
    let mut next = Some(id);
    while let Some(current) = next {
        if chain.contains(&current) {
            break;
        }
        chain.push(current);
        next = find(db, current).await?.and_then(|o| o.parent_id);
    }
    Ok(chain)
}

/// Invites a user of an ancestor organization into `organization_id`.
pub async fn invite(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    user: &user::Model,
) -> Result<std::result::Result<(), OrgError>> {
    let ancestors = lineage(db, organization_id).await?;
    if !ancestors.iter().skip(1).any(|a| *a == user.organization_id) {
        return Ok(Err(OrgError::NotAncestor));
    }
    if is_member(db, organization_id, user).await? {
        return Ok(Err(OrgError::AlreadyMember));
    }
    organization_member::Entity::insert(organization_member::ActiveModel {
        organization_id: Set(organization_id),
        user_id: Set(user.id),
        invited_at: Set(clock::now()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(Ok(()))
}

/// Whether `user` belongs to `organization_id`: as its own organization, or invited.
pub async fn is_member(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    user: &user::Model,
) -> Result<bool> {
    if user.organization_id == organization_id {
        return Ok(true);
    }
    Ok(
        organization_member::Entity::find_by_id((organization_id, user.id))
            .one(db)
            .await?
            .is_some(),
    )
}

/// The users invited into an organization.
pub async fn members(db: &impl ConnectionTrait, organization_id: Uuid) -> Result<Vec<user::Model>> {
    let ids: Vec<Uuid> = organization_member::Entity::find()
        .filter(organization_member::Column::OrganizationId.eq(organization_id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .order_by_asc(user::Column::Username)
        .all(db)
        .await?)
}

/// The organizations `user_id` was invited into, by name.
pub async fn invited_into(
    db: &impl ConnectionTrait,
    user_id: Uuid,
) -> Result<Vec<organization::Model>> {
    let ids: Vec<Uuid> = organization_member::Entity::find()
        .filter(organization_member::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.organization_id)
        .collect();
    Ok(organization::Entity::find()
        .filter(organization::Column::Id.is_in(ids))
        .order_by_asc(organization::Column::Name)
        .all(db)
        .await?)
}
