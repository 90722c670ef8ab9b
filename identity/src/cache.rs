//! Read-mostly data kept in memory between changes: applications by client id, users,
//! the outcome of the impersonation checks for a pair of users, impersonation settings,
//! mail templates, organization names, and whether an application would grant a user a scope.
//!
//! The database counts its own changes: triggers add one to `change_counter` in the
//! transaction of every insert, update and delete on `migrations::COUNTED_TABLES`. A
//! request reads the counter once ([`ReadCache::reads`]); while it holds the value the
//! cache was filled at, the cached answers stand, and as soon as it moves (on any instance
//! sharing the database) everything cached is dropped. So one statement replaces the
//! dozen the token exchange would otherwise read before it writes, and a role taken away,
//! a user disabled or an application turned off counts from the next request on, as
//! without the cache.
//!
//! A lookup added here may only read counted tables.

use crate::db::direct;
use crate::entities::{application, change_counter, user};
use crate::impersonation::Denied;
use crate::{Result, mail, settings};
use sea_orm::{DatabaseConnection, DbBackend, EntityTrait, Statement};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use uuid::Uuid;

/// At most this many answers of one kind are kept; a full kind starts over.
const CAPACITY: usize = 4096;

/// The cache of one database, shared by every request of the process.
#[derive(Default)]
pub struct ReadCache {
    filled: Mutex<Filled>,
    hits: AtomicU64,
    /// On an SQLite file, a direct connection for reading the counter on the request's
    /// own thread (a few microseconds; see `crate::db::direct`), opened at the first read.
    counter_reader: OnceLock<Option<Mutex<direct::Connection>>>,
}

/// The answers cached while the counter stands at `version`.
#[derive(Default)]
struct Filled {
    version: i64,
    clients: HashMap<String, Option<application::Model>>,
    users: HashMap<Uuid, Option<user::Model>>,
    pairs: HashMap<(Uuid, Uuid, String), std::result::Result<user::Model, Denied>>,
    impersonation_settings: HashMap<Uuid, settings::Impersonation>,
    templates: HashMap<(Uuid, String, String), mail::Template>,
    organization_names: HashMap<Uuid, String>,
    granted_scopes: HashMap<(Uuid, Uuid, String), bool>,
}

impl ReadCache {
    /// Lookups as of now: reads the change counter (one statement).
    pub async fn reads<'a>(&'a self, db: &'a DatabaseConnection) -> Result<Reads<'a>> {
        let version = match self.counter_reader(db) {
            Some(reader) => {
                let read = Statement::from_string(
                    DbBackend::Sqlite,
                    r#"SELECT "value" FROM "change_counter" WHERE "id" = 1"#,
                );
                let mut reader = reader.lock().unwrap_or_else(PoisonError::into_inner);
                reader.query_i64(&read)?
            }
            None => change_counter::Entity::find_by_id(1)
                .one(db)
                .await?
                .map(|row| row.value),
        }
        .ok_or_else(|| anyhow::anyhow!("the change_counter row is missing"))?;
        Ok(Reads {
            cache: self,
            db,
            version,
        })
    }

    fn counter_reader(&self, db: &DatabaseConnection) -> Option<&Mutex<direct::Connection>> {
        self.counter_reader
            .get_or_init(|| direct::beside(db, "reading through the pool").map(Mutex::new))
            .as_ref()
    }

    /// How many lookups were answered from memory so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

/// Lookups answered from the cache while the database has not changed since
/// [`ReadCache::reads`], from the database otherwise.
pub struct Reads<'a> {
    cache: &'a ReadCache,
    db: &'a DatabaseConnection,
    version: i64,
}

impl Reads<'_> {
    /// The cached answer for `key`, or `load`'s, kept for the next request. An answer
    /// loaded after the counter was read is at least as new as that count, so it may stand
    /// for it.
    async fn remembered<K, V>(
        &self,
        kind: fn(&mut Filled) -> &mut HashMap<K, V>,
        key: K,
        load: impl Future<Output = Result<V>>,
    ) -> Result<V>
    where
        K: Eq + Hash,
        V: Clone,
    {
        {
            let mut filled = self.cache.filled.lock().expect("cache lock");
            if filled.version == self.version
                && let Some(value) = kind(&mut filled).get(&key)
            {
                self.cache.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(value.clone());
            }
        }
        let value = load.await?;
        let mut filled = self.cache.filled.lock().expect("cache lock");
        if filled.version != self.version {
            *filled = Filled {
                version: self.version,
                ..Filled::default()
            };
        }
        let answers = kind(&mut filled);
        if answers.len() >= CAPACITY {
            answers.clear();
        }
        answers.insert(key, value.clone());
        Ok(value)
    }

    /// [`crate::oauth::clients::find`]: an enabled application by client id.
    pub async fn client(&self, client_id: &str) -> Result<Option<application::Model>> {
        self.remembered(
            |f| &mut f.clients,
            client_id.to_owned(),
            crate::oauth::clients::find(self.db, client_id),
        )
        .await
    }

    /// [`crate::users::find`].
    pub async fn user(&self, id: Uuid) -> Result<Option<user::Model>> {
        self.remembered(|f| &mut f.users, id, crate::users::find(self.db, id))
            .await
    }

    /// [`crate::impersonation::check_pair`], for `app`, `impersonator` and the target's id
    /// (all three read at this count).
    pub async fn impersonation_pair(
        &self,
        app: &application::Model,
        impersonator: &user::Model,
        target_id: &str,
    ) -> Result<std::result::Result<user::Model, Denied>> {
        self.remembered(
            |f| &mut f.pairs,
            (app.id, impersonator.id, target_id.to_owned()),
            crate::impersonation::check_pair(self.db, app, impersonator, target_id),
        )
        .await
    }

    /// [`settings::impersonation`] of an organization.
    pub async fn impersonation_settings(
        &self,
        organization_id: Uuid,
    ) -> Result<settings::Impersonation> {
        self.remembered(
            |f| &mut f.impersonation_settings,
            organization_id,
            settings::impersonation(self.db, organization_id),
        )
        .await
    }

    /// [`mail::template`].
    pub async fn mail_template(
        &self,
        organization_id: Uuid,
        kind: &str,
        locale: &str,
    ) -> Result<mail::Template> {
        self.remembered(
            |f| &mut f.templates,
            (organization_id, kind.to_owned(), locale.to_owned()),
            mail::template(self.db, organization_id, kind, locale),
        )
        .await
    }

    /// [`crate::oauth::scope::grantable`] for one scope: whether `app` would grant `scope`
    /// to the user now (the user holds it for the application, which is authorized for it).
    pub async fn grantable(
        &self,
        user_id: Uuid,
        app: &application::Model,
        scope: &str,
    ) -> Result<bool> {
        self.remembered(
            |f| &mut f.granted_scopes,
            (user_id, app.id, scope.to_owned()),
            async move {
                let wanted = [scope.to_owned()];
                let granted = crate::oauth::scope::grantable(self.db, user_id, app, &wanted);
                Ok(!granted.await?.is_empty())
            },
        )
        .await
    }

    /// An organization's name (empty when there is no such organization).
    pub async fn organization_name(&self, organization_id: Uuid) -> Result<String> {
        self.remembered(|f| &mut f.organization_names, organization_id, async move {
            let found = crate::organizations::find(self.db, organization_id).await?;
            Ok(found.map(|o| o.name).unwrap_or_default())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::{role, role_user};
    use crate::scopes::{IMPERSONATOR_ROLE, MY_ACCOUNT_CLIENT_ID};
    use sea_orm::{
        ActiveValue::Set, ColumnTrait, ConnectionTrait, QueryFilter, Statement, sea_query::Expr,
    };

    async fn database() -> (tempfile::TempDir, DatabaseConnection) {
        let (dir, db) = crate::db::test_database().await;
        let input = crate::seed::SeedInput {
            public_url: "http://localhost:1",
            admin_password: Some("Admin-password-1"),
        };
        crate::seed::seed(&db, input).await.unwrap();
        (dir, db)
    }

    async fn user(db: &DatabaseConnection, name: &'static str) -> user::Model {
        let organization_id = crate::seed::root_organization_id(db).await.unwrap();
        let new = crate::users::NewUser {
            organization_id,
            username: name,
            email: "",
            given_name: "",
            family_name: "",
            password: "a-password-1",
        };
        crate::users::create(db, new).await.unwrap()
    }

    #[tokio::test]
    async fn answers_stand_while_nothing_changes_and_follow_every_change() {
        let (_dir, db) = database().await;
        let cache = ReadCache::default();
        let impersonator = user(&db, "support").await;
        let target = user(&db, "customer").await;
        let impersonator_role = role::Entity::find()
            .filter(role::Column::Name.eq(IMPERSONATOR_ROLE))
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        role_user::Entity::insert(role_user::ActiveModel {
            role_id: Set(impersonator_role.id),
            user_id: Set(impersonator.id),
        })
        .exec_without_returning(&db)
        .await
        .unwrap();
        let pair = async |cache: &ReadCache| {
            let reads = cache.reads(&db).await.unwrap();
            let app = reads.client(MY_ACCOUNT_CLIENT_ID).await.unwrap().unwrap();
            let impersonator = reads.user(impersonator.id).await.unwrap().unwrap();
            reads
                .impersonation_pair(&app, &impersonator, &target.id.to_string())
                .await
                .unwrap()
                .map(|target| target.status)
        };

        assert_eq!(pair(&cache).await, Ok(user::UserStatus::Active));
        assert_eq!(cache.hits(), 0);
        assert_eq!(pair(&cache).await, Ok(user::UserStatus::Active));
        assert_eq!(cache.hits(), 3, "client, user and pair from memory");

        // The target is disabled: the next request sees it.
        user::Entity::update_many()
            .col_expr(
                user::Column::Status,
                Expr::value(user::UserStatus::Disabled),
            )
            .filter(user::Column::Id.eq(target.id))
            .exec(&db)
            .await
            .unwrap();
        assert_eq!(pair(&cache).await, Err(Denied::InactiveTarget));
        assert_eq!(cache.hits(), 3, "nothing from memory after a change");
        user::Entity::update_many()
            .col_expr(user::Column::Status, Expr::value(user::UserStatus::Active))
            .filter(user::Column::Id.eq(target.id))
            .exec(&db)
            .await
            .unwrap();
        assert_eq!(pair(&cache).await, Ok(user::UserStatus::Active));

        // The role is taken away, by a connection the cache knows nothing of (as another
        // instance would).
        role_user::Entity::delete_many()
            .filter(role_user::Column::UserId.eq(impersonator.id))
            .exec(&db)
            .await
            .unwrap();
        assert_eq!(pair(&cache).await, Err(Denied::NoPermission));
    }

    #[tokio::test]
    async fn every_counted_table_counts_inserts_updates_and_deletes() {
        let (_dir, db) = database().await;
        for table in migrations::COUNTED_TABLES {
            let triggers = db
                .query_all_raw(Statement::from_string(
                    db.get_database_backend(),
                    format!(
                        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = '{table}'"
                    ),
                ))
                .await
                .unwrap();
            let sql: Vec<String> = triggers
                .iter()
                .map(|row| row.try_get::<String>("", "sql").unwrap())
                .collect();
            for operation in ["INSERT", "UPDATE", "DELETE"] {
                assert!(
                    sql.iter()
                        .any(|s| s.contains(&format!("AFTER {operation} ON {table}"))
                            && s.contains("change_counter")),
                    "{operation} on {table}: {sql:?}"
                );
            }
        }
        // And the counter moves.
        let before = ReadCache::default().reads(&db).await.unwrap().version;
        user(&db, "somebody").await;
        let after = ReadCache::default().reads(&db).await.unwrap().version;
        assert!(after > before, "{before} -> {after}");
    }
}
