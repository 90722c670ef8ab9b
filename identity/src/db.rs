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
    if !exists {
        return Ok(Vec::new());
    }
    let known: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let applied = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT version FROM seaql_migrations ORDER BY version",
        ))
        .await?;
    let mut unknown = Vec::new();
    for row in applied {
        let version: String = row.try_get("", "version")?;
        if !known.contains(&version) {
            unknown.push(version);
        }
    }
    Ok(unknown)
}

/// Writers of this process on SQLite wait for each other here, in order, instead of in
/// SQLite's busy handler (which sleeps in steps of up to 100 ms). Other processes on the
/// same file still meet the busy timeout.
static SQLITE_WRITER: std::sync::LazyLock<std::sync::Arc<tokio::sync::Mutex<()>>> =
    std::sync::LazyLock::new(Default::default);

/// A transaction that writes; see [`begin_write`]. It is a connection like the
/// transaction it wraps.
pub struct WriteTxn {
    txn: sea_orm::DatabaseTransaction,
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
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
    })
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
        let dir = tempfile::TempDir::new().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = connect(&url).await.unwrap();
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
}
