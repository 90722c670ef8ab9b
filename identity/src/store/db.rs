//! Opening the database and bringing its schema up to date.

use migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};
use std::time::Duration;

/// Connects to `url`. SQLite gets WAL, foreign keys and `synchronous=FULL` on every pooled
/// connection, and a busy timeout so that concurrent writers wait instead of failing.
pub async fn connect(url: &str) -> crate::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
        });
    if url.starts_with("sqlite:") {
        // A connection to a local file cannot go away behind our back: no ping (a round
        // trip to the connection's worker thread) before every use.
        options
            .max_connections(8)
            .test_before_acquire(false)
            .map_sqlx_sqlite_pool_opts(|pool| {
                pool.after_connect(|conn, _| Box::pin(planner_ignores_bound_values(conn)))
            });
    }
    Ok(Database::connect(options).await?)
}

/// Turns on SQLite's query planner stability guarantee for a new connection: plans no
/// longer depend on the values bound to parameters. Without it, a statement with `LIMIT ?`
/// (every `.one()` query) is marked expired whenever its parameters are bound again, and
/// SQLite compiles it anew on every execution although sqlx keeps it prepared.
async fn planner_ignores_bound_values(
    conn: &mut sea_orm::sqlx::SqliteConnection,
) -> Result<(), sea_orm::sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: `db` is the open connection that `handle` keeps locked (no other thread uses
    // it meanwhile); SQLITE_DBCONFIG_ENABLE_QPSG takes an int and an optional int pointer.
    let rc = unsafe {
        libsqlite3_sys::sqlite3_db_config(
            db,
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as std::ffi::c_int,
            std::ptr::null_mut::<std::ffi::c_int>(),
        )
    };
    if rc != libsqlite3_sys::SQLITE_OK {
        return Err(sea_orm::sqlx::Error::Configuration(
            format!("SQLite refused SQLITE_DBCONFIG_ENABLE_QPSG (code {rc})").into(),
        ));
    }
    Ok(())
}

/// A new identifier for a record written on every sign-in, exchange or token: a UUIDv7
/// (RFC 9562), which starts with the time in milliseconds. A burst of such inserts lands
/// on the last page of each index on the identifier instead of a random page per row, so
/// a commit writes (and fsyncs) a few pages instead of one per row and index. Records
/// created rarely (users, applications, organizations) keep random UUIDv4 identifiers.
pub fn new_record_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

/// Applies pending migrations. Refuses, touching nothing, when the database holds
/// migrations that this binary does not know (it was written by a newer version).
pub async fn migrate(db: &DatabaseConnection) -> crate::Result<()> {
    let unknown = unknown_migrations(db).await?;
    if !unknown.is_empty() {
        return Err(crate::Error::SchemaTooNew(unknown.join(", ")));
    }
    Migrator::up(db, None).await?;
    Ok(())
}

/// Names of applied migrations that this binary does not have, read without creating
/// the migrations table when it is missing.
async fn unknown_migrations(db: &DatabaseConnection) -> crate::Result<Vec<String>> {
    Ok(schema_state(db).await?.unknown)
}

/// Where a database's schema stands against this binary's migrations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchemaState {
    /// How many migrations were applied.
    pub applied: usize,
    /// This binary's migrations not applied yet (the server applies them at start).
    pub pending: Vec<String>,
    /// Applied migrations this binary does not know: a newer version wrote the database.
    pub unknown: Vec<String>,
}

/// Reads the schema's state without changing anything (no migrations table is created).
pub async fn schema_state(db: &DatabaseConnection) -> crate::Result<SchemaState> {
    let table_exists = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'seaql_migrations'"
        }
        _ => {
            "SELECT COUNT(*) AS n FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'seaql_migrations'"
        }
    };
    let backend = db.get_database_backend();
    let exists = db
        .query_one_raw(Statement::from_string(backend, table_exists))
        .await?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0)
        > 0;
    let known: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let mut applied = Vec::new();
    if exists {
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT version FROM seaql_migrations ORDER BY version",
            ))
            .await?;
        for row in rows {
            applied.push(row.try_get::<String>("", "version")?);
        }
    }
    Ok(SchemaState {
        applied: applied.len(),
        pending: known
            .iter()
            .filter(|k| !applied.contains(k))
            .cloned()
            .collect(),
        unknown: applied.into_iter().filter(|a| !known.contains(a)).collect(),
    })
}

/// Writers of this process on SQLite wait for each other here, in order, instead of in
/// SQLite's busy handler (which sleeps in steps of up to 100 ms). Other processes on the
/// same file still meet the busy timeout.
pub(crate) static SQLITE_WRITER: std::sync::LazyLock<std::sync::Arc<tokio::sync::Mutex<()>>> =
    std::sync::LazyLock::new(Default::default);

/// A transaction that writes; see [`begin_write`]. It is a connection like the
/// transaction it wraps.
pub struct WriteTxn {
    txn: sea_orm::DatabaseTransaction,
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
    /// `db.transaction`, from `BEGIN` (its wait for the writer's turn included) to the
    /// commit or rollback, below the request or group that began it.
    _span: tracing::Span,
}

impl std::ops::Deref for WriteTxn {
    type Target = sea_orm::DatabaseTransaction;

    fn deref(&self) -> &sea_orm::DatabaseTransaction {
        &self.txn
    }
}

#[async_trait::async_trait]
impl sea_orm::ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> sea_orm::DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> std::result::Result<sea_orm::ExecResult, sea_orm::DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(
        &self,
        sql: &str,
    ) -> std::result::Result<sea_orm::ExecResult, sea_orm::DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> std::result::Result<Option<sea_orm::QueryResult>, sea_orm::DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> std::result::Result<Vec<sea_orm::QueryResult>, sea_orm::DbErr> {
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}

impl WriteTxn {
    /// Commits, then lets the next writer in. Dropping it instead rolls back.
    pub async fn commit(self) -> std::result::Result<(), sea_orm::DbErr> {
        self.txn.commit().await
    }
}

/// Begins a transaction that will write. On SQLite it first waits its turn among this
/// process's writers, then takes the write lock at `BEGIN` (`IMMEDIATE`), so that a read
/// lock never has to be upgraded (which fails instead of waiting); elsewhere it is an
/// ordinary transaction.
pub async fn begin_write(db: &DatabaseConnection) -> crate::Result<WriteTxn> {
    use sea_orm::{DbBackend, SqliteTransactionMode, TransactionOptions, TransactionTrait};
    let span = tracing::info_span!(
        "db.transaction",
        otel.kind = "client",
        db.system.name = match db.get_database_backend() {
            DbBackend::Sqlite => "sqlite",
            DbBackend::Postgres => "postgresql",
            _ => "other_sql",
        },
    );
    let writer = match db.get_database_backend() {
        DbBackend::Sqlite => Some(SQLITE_WRITER.clone().lock_owned().await),
        _ => None,
    };
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await?;
    Ok(WriteTxn {
        txn,
        _writer: writer,
        _span: span,
    })
}

/// The conditions of a batch ([`Batch::only_if`]), run before its writes.
pub(crate) struct Conditions(Vec<Statement>);

/// The savepoint that undoes the conditions met when a later one is not.
const CONDITIONS_SAVEPOINT: &str = "batch_conditions";

impl Conditions {
    /// Runs the conditions on `db` (inside the batch's transaction), in order, until one
    /// is unmet; then undoes what the others changed. With one condition there is nothing
    /// to undo (an unmet condition changed nothing), and no savepoint.
    pub(crate) async fn met(self, db: &impl ConnectionTrait) -> crate::Result<bool> {
        let guarded = self.0.len() > 1;
        if guarded {
            db.execute_unprepared(&format!("SAVEPOINT {CONDITIONS_SAVEPOINT}"))
                .await?;
        }
        let mut met = true;
        for condition in self.0 {
            if db.query_all_raw(condition).await?.is_empty() {
                met = false;
                break;
            }
        }
        if guarded {
            if !met {
                db.execute_unprepared(&format!("ROLLBACK TO SAVEPOINT {CONDITIONS_SAVEPOINT}"))
                    .await?;
            }
            db.execute_unprepared(&format!("RELEASE SAVEPOINT {CONDITIONS_SAVEPOINT}"))
                .await?;
        }
        Ok(met)
    }

    /// [`Conditions::met`] on the committer's own SQLite connection.
    pub(crate) fn met_directly(
        self,
        connection: &mut crate::store::direct::Connection,
    ) -> crate::Result<bool> {
        let guarded = self.0.len() > 1;
        if guarded {
            connection.execute_plain(&format!("SAVEPOINT {CONDITIONS_SAVEPOINT}"))?;
        }
        let mut met = true;
        for condition in &self.0 {
            let mut returned = false;
            connection.run(condition, |_| returned = true)?;
            if !returned {
                met = false;
                break;
            }
        }
        if guarded {
            if !met {
                connection
                    .execute_plain(&format!("ROLLBACK TO SAVEPOINT {CONDITIONS_SAVEPOINT}"))?;
            }
            connection.execute_plain(&format!("RELEASE SAVEPOINT {CONDITIONS_SAVEPOINT}"))?;
        }
        Ok(met)
    }
}

/// Something to do once a batch's writes have run.
pub(crate) type AfterRun = Box<dyn FnOnce() + Send>;

/// Writes sent to the database together: on SQLite one multi-statement execution, so one
/// round trip to the connection's thread instead of one per statement; elsewhere one
/// statement after the other. Run it inside the transaction the writes belong to; the
/// first failing statement fails the whole run.
pub struct Batch {
    backend: DbBackend,
    /// Statements returning rows: the writes are made only if each returns one.
    conditions: Vec<Statement>,
    statements: Vec<Statement>,
    /// What to do once the statements have run (log lines of what they record).
    after_run: Vec<AfterRun>,
}

impl Batch {
    /// An empty batch for `db`'s backend.
    pub fn new(db: &impl ConnectionTrait) -> Self {
        Self::for_backend(db.get_database_backend())
    }

    /// An empty batch for `backend`.
    pub fn for_backend(backend: DbBackend) -> Self {
        Self {
            backend,
            conditions: Vec::new(),
            statements: Vec::new(),
            after_run: Vec::new(),
        }
    }

    /// Adds a write (an insert, update or delete built with SeaORM).
    pub fn push(&mut self, write: &impl sea_orm::QueryTrait) {
        self.statements.push(write.build(self.backend));
    }

    /// Makes the writes depend on `condition`, a write returning rows (`RETURNING`) that
    /// runs first: if it returns none, it changed nothing and no other write is made. With
    /// several conditions, all must be met, and the changes of those met are undone when a
    /// later one is not ([`Conditions`]). Only the single-use committer reports an unmet
    /// condition as such (`crate::store::group_commit`); [`Batch::run`] fails on one.
    pub fn only_if(&mut self, condition: &impl sea_orm::StatementBuilder) {
        self.conditions.push(self.backend.build(condition));
    }

    /// The conditions set by [`Batch::only_if`], to be run first.
    pub(crate) fn take_conditions(&mut self) -> Conditions {
        Conditions(std::mem::take(&mut self.conditions))
    }

    /// Adds something to do once the writes have run (not if they fail or never run).
    pub fn after_run(&mut self, then: impl FnOnce() + Send + 'static) {
        self.after_run.push(Box::new(then));
    }

    /// The statements, in order, and what to do once they have run (for a runner of its
    /// own, such as the single-use committer's direct connection).
    pub(crate) fn into_parts(self) -> (Vec<Statement>, Vec<AfterRun>) {
        (self.statements, self.after_run)
    }

    /// Runs the writes, in the order they were added (in a `db.batch` span).
    pub async fn run(self, db: &impl ConnectionTrait) -> crate::Result<()> {
        use tracing::Instrument;
        let span = tracing::info_span!(
            "db.batch",
            otel.kind = "client",
            statements = self.statements.len()
        );
        self.run_unobserved(db).instrument(span).await
    }

    async fn run_unobserved(mut self, db: &impl ConnectionTrait) -> crate::Result<()> {
        if !self.take_conditions().met(db).await? {
            return Err(anyhow::anyhow!("the condition of a batch of writes was not met").into());
        }
        if self.backend != DbBackend::Sqlite {
            for statement in self.statements {
                db.execute_raw(statement).await?;
            }
        } else if !self.statements.is_empty() {
            // sqlx binds `?` parameters in order across the statements of one query.
            let mut sql = String::new();
            let mut values = Vec::new();
            for statement in self.statements {
                sql.push_str(&statement.sql);
                sql.push_str(";\n");
                values.extend(statement.values.map(|v| v.0).unwrap_or_default());
            }
            db.execute_raw(Statement::from_sql_and_values(self.backend, sql, values))
                .await?;
        }
        for then in self.after_run {
            then();
        }
        Ok(())
    }
}

/// A migrated SQLite database in a temporary folder, for the crate's tests (the folder
/// goes when the returned guard is dropped).
#[cfg(test)]
pub(crate) async fn test_database() -> (tempfile::TempDir, DatabaseConnection) {
    let dir = tempfile::TempDir::new().expect("a temporary folder");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
    let db = connect(&url).await.expect("the test database");
    migrate(&db).await.expect("the schema");
    (dir, db)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads SQLITE_DBCONFIG_ENABLE_QPSG of one pooled connection (a negative value asks
    /// without changing it).
    async fn qpsg_of(conn: &mut sea_orm::sqlx::SqliteConnection) -> std::ffi::c_int {
        let mut handle = conn.lock_handle().await.unwrap();
        let mut on: std::ffi::c_int = -1;
        // SAFETY: as in `planner_ignores_bound_values`; `on` outlives the call.
        let rc = unsafe {
            libsqlite3_sys::sqlite3_db_config(
                handle.as_raw_handle().as_ptr(),
                libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
                -1 as std::ffi::c_int,
                &mut on as *mut std::ffi::c_int,
            )
        };
        assert_eq!(rc, libsqlite3_sys::SQLITE_OK);
        on
    }

    #[tokio::test]
    async fn every_sqlite_connection_plans_without_looking_at_bound_values() {
        let (_dir, db) = test_database().await;
        let pool = db.get_sqlite_connection_pool();
        // Several connections at once, so that the pool opens more than one.
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(pool.acquire().await.unwrap());
        }
        for conn in &mut held {
            assert_eq!(qpsg_of(conn).await, 1);
        }
    }

    #[tokio::test]
    async fn a_batch_writes_everything_in_order_or_fails_at_the_first_error() {
        use crate::entities::consumed_token;
        use sea_orm::{ActiveValue::Set, EntityTrait, PaginatorTrait};
        let (_dir, db) = test_database().await;
        let token = |jti: &str| {
            consumed_token::Entity::insert(consumed_token::ActiveModel {
                jti: Set(jti.to_owned()),
                kind: Set("subject_token".to_owned()),
                consumed_at: Set(1),
                expires_at: Set(2),
            })
        };
        let count = async || consumed_token::Entity::find().count(&db).await.unwrap();

        let txn = begin_write(&db).await.unwrap();
        let mut batch = Batch::new(&txn);
        for jti in ["a", "b", "c"] {
            batch.push(&token(jti));
        }
        batch.run(&txn).await.unwrap();
        txn.commit().await.unwrap();
        assert_eq!(count().await, 3);

        // "b" again: the batch stops there, and its transaction keeps nothing of it.
        let txn = begin_write(&db).await.unwrap();
        let mut batch = Batch::new(&txn);
        for jti in ["d", "b", "e"] {
            batch.push(&token(jti));
        }
        let error = batch.run(&txn).await.unwrap_err();
        assert!(format!("{error:?}").contains("UNIQUE"), "{error:?}");
        drop(txn);
        assert_eq!(count().await, 3);
    }
}
