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
        options.max_connections(8);
    }
    Ok(Database::connect(options).await?)
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

/// Begins a transaction that will write. On SQLite it takes the write lock at `BEGIN`
/// (`IMMEDIATE`), so that concurrent writers queue on the busy timeout instead of failing
/// when a read lock cannot be upgraded; elsewhere it is an ordinary transaction.
pub async fn begin_write(db: &DatabaseConnection) -> crate::Result<sea_orm::DatabaseTransaction> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    Ok(db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await?)
}
