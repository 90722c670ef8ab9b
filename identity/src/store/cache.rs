//! Read-mostly answers kept in memory between changes, for any feature: a memo per kind of
//! lookup (applications by client id, users, the impersonation policy's answer for a
//! pair, settings, mail templates...). The kinds are declared by the features that own
//! them ([`Kind`]); the cache knows none of their types.
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
//! A kind may only be loaded from counted tables.

use crate::Result;
use crate::store::direct;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

/// At most this many answers of one kind are kept; a full kind starts over.
const CAPACITY: usize = 4096;

/// A kind of lookup the cache may keep: declared (as a marker type) by the feature that
/// loads it, so that its answers get a memo of their own.
pub trait Kind: 'static {
    type Key: Eq + Hash + Send + 'static;
    type Value: Clone + Send + 'static;
}

/// The cache of one database, shared by every request of the process.
#[derive(Default)]
pub struct ReadCache {
    filled: Mutex<Filled>,
    hits: AtomicU64,
    /// On an SQLite file, a direct connection for reading the counter on the request's
    /// own thread (a few microseconds; see `crate::store::direct`), opened at the first read.
    counter_reader: OnceLock<Option<Mutex<direct::Connection>>>,
}

/// The answers cached while the counter stands at `version`: per kind, a
/// `HashMap<K::Key, K::Value>`.
#[derive(Default)]
struct Filled {
    version: i64,
    memos: HashMap<TypeId, Box<dyn Any + Send>>,
}

impl Filled {
    fn memo<K: Kind>(&mut self) -> &mut HashMap<K::Key, K::Value> {
        self.memos
            .entry(TypeId::of::<K>())
            .or_insert_with(|| Box::new(HashMap::<K::Key, K::Value>::new()))
            .downcast_mut()
            .expect("a memo holds the types of its kind")
    }
}

impl ReadCache {
    /// Lookups as of now: reads the change counter (one statement).
    pub async fn reads<'a>(&'a self, db: &'a DatabaseConnection) -> Result<Reads<'a>> {
        let read = Statement::from_string(
            db.get_database_backend(),
            r#"SELECT "value" FROM "change_counter" WHERE "id" = 1"#,
        );
        let version = self
            .read_now(db, read)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the change_counter row is missing"))?;
        Ok(Reads {
            cache: self,
            db,
            version,
        })
    }

    /// The integer in the first column of the first row `statement` reads (a `BIGINT`:
    /// `COUNT(*)` rather than `1`), never cached: for what must see every committed change
    /// at once, on every instance. On an SQLite file it runs on the caller's thread
    /// (`crate::store::direct`), through the pool otherwise.
    pub async fn read_now(
        &self,
        db: &DatabaseConnection,
        statement: Statement,
    ) -> Result<Option<i64>> {
        let mut value = None;
        if let Some(read) = self.read_directly(db, &statement, |row| {
            value = value.or(Some(row.i64(0)));
        }) {
            return read.map(|()| value);
        }
        match db.query_one_raw(statement).await? {
            Some(row) => Ok(Some(row.try_get_by_index::<i64>(0)?)),
            None => Ok(None),
        }
    }

    /// Runs `statement` (built for SQLite) on the caller's thread, calling `row` for each
    /// row, where `db` is an SQLite file; `None` otherwise (read through the pool then).
    /// Never cached, like [`ReadCache::read_now`].
    pub fn read_directly(
        &self,
        db: &DatabaseConnection,
        statement: &Statement,
        row: impl FnMut(direct::Row<'_>),
    ) -> Option<Result<()>> {
        let reader = self.counter_reader(db)?;
        let mut reader = reader.lock().unwrap_or_else(PoisonError::into_inner);
        Some(reader.run(statement, row))
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
    /// The database the lookups load from.
    pub fn db(&self) -> &DatabaseConnection {
        self.db
    }

    /// The cached answer of kind `K` for `key`, or `load`'s, kept for the next request.
    /// An answer loaded after the counter was read is at least as new as that count, so it
    /// may stand for it.
    pub async fn remembered<K: Kind>(
        &self,
        key: K::Key,
        load: impl Future<Output = Result<K::Value>>,
    ) -> Result<K::Value> {
        {
            let mut filled = self.cache.filled.lock().expect("cache lock");
            if filled.version == self.version
                && let Some(value) = filled.memo::<K>().get(&key)
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
        let answers = filled.memo::<K>();
        if answers.len() >= CAPACITY {
            answers.clear();
        }
        answers.insert(key, value.clone());
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::user;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    use uuid::Uuid;

    async fn database() -> (tempfile::TempDir, DatabaseConnection) {
        let (dir, db) = crate::store::db::test_database().await;
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

    /// A kind of this test: a user's status by id.
    struct Status;
    impl Kind for Status {
        type Key = Uuid;
        type Value = Option<user::UserStatus>;
    }

    /// Another kind with the same key type, which must not share the first one's memo.
    struct Name;
    impl Kind for Name {
        type Key = Uuid;
        type Value = Option<String>;
    }

    async fn status(
        cache: &ReadCache,
        db: &DatabaseConnection,
        id: Uuid,
    ) -> Option<user::UserStatus> {
        let reads = cache.reads(db).await.unwrap();
        let load = async { Ok(crate::users::find(db, id).await?.map(|u| u.status)) };
        reads.remembered::<Status>(id, load).await.unwrap()
    }

    #[tokio::test]
    async fn answers_stand_while_nothing_changes_and_follow_every_change() {
        let (_dir, db) = database().await;
        let cache = ReadCache::default();
        let somebody = user(&db, "somebody").await;

        assert_eq!(
            status(&cache, &db, somebody.id).await,
            Some(user::UserStatus::Active)
        );
        assert_eq!(cache.hits(), 0);
        assert_eq!(
            status(&cache, &db, somebody.id).await,
            Some(user::UserStatus::Active)
        );
        assert_eq!(cache.hits(), 1, "the second answer from memory");
        let reads = cache.reads(&db).await.unwrap();
        let name = reads
            .remembered::<Name>(somebody.id, async { Ok(Some("by name".to_owned())) })
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("by name"), "kinds keep apart");
        assert_eq!(cache.hits(), 1);

        // Changed by a connection the cache knows nothing of (as another instance would).
        user::Entity::update_many()
            .col_expr(
                user::Column::Status,
                Expr::value(user::UserStatus::Disabled),
            )
            .filter(user::Column::Id.eq(somebody.id))
            .exec(&db)
            .await
            .unwrap();
        assert_eq!(
            status(&cache, &db, somebody.id).await,
            Some(user::UserStatus::Disabled)
        );
        assert_eq!(cache.hits(), 1, "nothing from memory after a change");
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
