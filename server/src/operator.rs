//! The operator's command line, on the same configuration as the server:
//! `server backup|restore|users|keys|check`. Each returns what to print, or an error the
//! binary prints with a non-zero exit.

use crate::config::Config;
use anyhow::{Context, bail};
use identity::DatabaseConnection;
use identity::entities::user::UserStatus;
use sea_orm::ConnectionTrait;
use std::path::{Path, PathBuf};

/// The lock file in the data folder: a running server holds it shared, a restore
/// exclusively, so that nothing is restored under a running server.
pub const LOCK_FILE: &str = "server.lock";

/// Takes the data folder's lock for a server (shared: several servers may share a
/// folder). Fails while a restore holds it.
pub fn lock_for_serving(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    let file = lock_file(data_dir)?;
    file.try_lock_shared()
        .map_err(|_| anyhow::anyhow!("a restore into {} is under way", data_dir.display()))?;
    Ok(file)
}

fn lock_file(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data folder {}", data_dir.display()))?;
    let path = data_dir.join(LOCK_FILE);
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))
}

fn sqlite_file(config: &Config) -> anyhow::Result<PathBuf> {
    if config.database_url.is_some() && !config.database_url().starts_with("sqlite:") {
        bail!(
            "the database is not the embedded SQLite file (IDP_DATABASE_URL is set): back up \
             PostgreSQL with pg_dump (pg_dump --format=custom --file=FILE DATABASE) and \
             restore it with pg_restore"
        );
    }
    let url = config.database_url();
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    Ok(PathBuf::from(path))
}

/// The configured database, migrated (the commands that change data need the schema).
async fn open_migrated(config: &Config) -> anyhow::Result<DatabaseConnection> {
    let db = identity::store::db::connect(&config.database_url())
        .await
        .context("cannot open the database")?;
    identity::store::db::migrate(&db).await?;
    Ok(db)
}

/// `server backup FILE`: a consistent copy of the SQLite database, taken while the server
/// runs (`VACUUM INTO`: one read transaction, so every write committed before it began is
/// in the copy and none after). Returns the copy's size in bytes.
pub async fn backup(config: &Config, file: &Path) -> anyhow::Result<u64> {
    let database = sqlite_file(config)?;
    if !database.exists() {
        bail!("there is no database at {}", database.display());
    }
    if file.exists() {
        bail!("{} exists already: name a new file", file.display());
    }
    let target = std::path::absolute(file)?;
    let db = identity::store::db::connect(&config.database_url())
        .await
        .context("cannot open the database")?;
    let quoted = target.to_string_lossy().replace('\'', "''");
    db.execute_unprepared(&format!("VACUUM INTO '{quoted}'"))
        .await
        .with_context(|| format!("cannot write the backup to {}", target.display()))?;
    db.close().await?;
    Ok(std::fs::metadata(&target)?.len())
}

/// `server restore FILE`: the backup becomes the data folder's database. Refuses while a
/// server runs on the folder, a file that is not a sound SQLite database, and a backup of
/// a newer schema than this binary's.
pub async fn restore(config: &Config, file: &Path) -> anyhow::Result<()> {
    let database = sqlite_file(config)?;
    let mut header = [0u8; 16];
    {
        use std::io::Read;
        let mut opened =
            std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
        opened
            .read_exact(&mut header)
            .map_err(|_| anyhow::anyhow!("{} is not an SQLite database", file.display()))?;
    }
    if &header != b"SQLite format 3\0" {
        bail!("{} is not an SQLite database", file.display());
    }
    let backup_url = format!("sqlite://{}?mode=ro", std::path::absolute(file)?.display());
    let backup = sea_orm::Database::connect(backup_url.as_str())
        .await
        .with_context(|| format!("cannot open {}", file.display()))?;
    let check = backup
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "PRAGMA integrity_check",
        ))
        .await?
        .map(|row| row.try_get_by_index::<String>(0))
        .transpose()?;
    if check.as_deref() != Some("ok") {
        bail!(
            "{} is damaged: {}",
            file.display(),
            check.unwrap_or_default()
        );
    }
    let schema = identity::store::db::schema_state(&backup).await?;
    backup.close().await?;
    if schema.applied == 0 {
        bail!("{} holds no identity server database", file.display());
    }
    if !schema.unknown.is_empty() {
        bail!(
            "{} was written by a newer version (migrations {}): restore it with that version",
            file.display(),
            schema.unknown.join(", ")
        );
    }
    let lock = lock_file(&config.data_dir)?;
    lock.try_lock().map_err(|_| {
        anyhow::anyhow!(
            "a server is running on {}: stop it before restoring",
            config.data_dir.display()
        )
    })?;
    let staged = database.with_extension("sqlite.restoring");
    std::fs::copy(file, &staged)
        .with_context(|| format!("cannot copy {} into the data folder", file.display()))?;
    std::fs::File::open(&staged)?.sync_all()?;
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", database.display()));
        if side.exists() {
            std::fs::remove_file(&side)?;
        }
    }
    std::fs::rename(&staged, &database)?;
    drop(lock);
    Ok(())
}

/// What `server users …` does to a user.
pub enum UserChange {
    Unlock,
    /// A new password: the one given, or a generated one (returned to be printed).
    ResetPassword(Option<String>),
    Disable,
}

/// `server users unlock|reset-password|disable USERNAME`, as the operator (no
/// administrator needed). Returns what to tell the operator.
pub async fn change_user(
    config: &Config,
    username: &str,
    change: UserChange,
) -> anyhow::Result<String> {
    let db = open_migrated(config).await?;
    let operator = identity::delegation::Authority::operator();
    if let UserChange::Unlock = change {
        return match identity::users::unlock(&db, username, &operator).await? {
            true => Ok(format!("{username} is unlocked and may sign in again")),
            false => bail!("there is no user {username}"),
        };
    }
    let Some(user) = identity::users::find_by_username(&db, username).await? else {
        bail!("there is no user {username}");
    };
    let (changes, told) = match change {
        UserChange::ResetPassword(given) => {
            let generated = given.is_none();
            let password = given.unwrap_or_else(|| {
                use rand::distr::{Alphanumeric, SampleString};
                Alphanumeric.sample_string(&mut rand::rng(), 20)
            });
            let told = match generated {
                true => format!("the new password of {username} is: {password}"),
                false => format!("the password of {username} is set"),
            };
            let changes = identity::users::Changes {
                password: Some(password),
                ..Default::default()
            };
            (changes, told)
        }
        UserChange::Disable => (
            identity::users::Changes {
                status: Some(UserStatus::Disabled),
                ..Default::default()
            },
            format!("{username} is disabled: their tokens and sessions stop counting"),
        ),
        UserChange::Unlock => unreachable!("handled above"),
    };
    let txn = identity::store::db::begin_write(&db).await?;
    match identity::users::update(&txn, &operator, user, changes).await? {
        Ok(_) => {}
        Err(error) => bail!("{error}"),
    }
    txn.commit().await?;
    Ok(told)
}

/// `server keys rotate`: rotates the keys in the configured database; returns the new
/// active key id.
pub async fn rotate_keys(config: &Config) -> anyhow::Result<String> {
    let db = open_migrated(config).await?;
    let keys = identity::keys::KeyStore::open(db)
        .await
        .context("cannot load the signing keys")?;
    Ok(keys.rotate().await?)
}

/// One line of `server check`.
pub struct Checked {
    pub ok: bool,
    pub what: String,
}

/// `server check`: the configuration (loaded already), the database reachable, the
/// migrations' state, and the SMTP server when one is configured. Changes nothing.
pub async fn check(config: &Config) -> Vec<Checked> {
    let mut lines = vec![Checked {
        ok: true,
        what: format!(
            "configuration read; data folder {}",
            config.data_dir.display()
        ),
    }];
    let mut line = |ok: bool, what: String| lines.push(Checked { ok, what });
    let url = config.database_url();
    let kind = if url.starts_with("sqlite:") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    let opened = match url.starts_with("sqlite:") {
        // Checking must not create a database where there is none.
        true => url.replace("mode=rwc", "mode=rw"),
        false => url,
    };
    let missing = match sqlite_file(config) {
        Ok(file) if kind == "SQLite" && !file.exists() => Some(file),
        _ => None,
    };
    if let Some(file) = missing {
        line(
            false,
            format!(
                "no database at {} (the server creates it at its first start)",
                file.display()
            ),
        );
    } else {
        match identity::store::db::connect(&opened).await {
            Err(error) => line(false, format!("database ({kind}) unreachable: {error}")),
            Ok(db) => {
                line(true, format!("database ({kind}) reachable"));
                match identity::store::db::schema_state(&db).await {
                    Err(error) => line(false, format!("migrations unreadable: {error}")),
                    Ok(s) if !s.unknown.is_empty() => line(
                        false,
                        format!(
                            "the schema is newer than this server: {}",
                            s.unknown.join(", ")
                        ),
                    ),
                    Ok(s) if !s.pending.is_empty() => line(
                        true,
                        format!(
                            "{} migrations applied, {} pending (applied at the next start)",
                            s.applied,
                            s.pending.len()
                        ),
                    ),
                    Ok(s) => line(
                        true,
                        format!("{} migrations applied, none pending", s.applied),
                    ),
                }
                let _ = db.close().await;
            }
        }
    }
    match &config.smtp_url {
        None => line(
            true,
            format!(
                "mail is written to {}",
                config.data_dir.join("mail").display()
            ),
        ),
        Some(smtp) => match crate::mailer::reachable(smtp.expose()).await {
            Ok(()) => line(true, "SMTP server reachable".to_owned()),
            Err(error) => line(false, format!("SMTP server unreachable: {error}")),
        },
    }
    lines
}
