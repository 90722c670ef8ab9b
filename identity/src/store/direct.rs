//! Direct SQLite connections: statements run on the calling thread.
//!
//! sqlx gives every SQLite connection a thread of its own and hands each statement to it
//! and the answer back, two thread wake-ups per round trip. For the two things every token
//! exchange does (read the change counter, commit its writes) that hand-off cost more than
//! SQLite's own work, so those two hold a connection of their own, opened here on the
//! same file with the same settings as the pool's (WAL, `synchronous=FULL`, foreign keys,
//! busy timeout), and run SeaORM-built statements on it directly. Values are bound as sqlx
//! binds them (UUIDs as 16-byte blobs, JSON as text), so both kinds of connection read
//! and write the same rows.
//!
//! A connection is used by one thread at a time (the owner holds it, or a mutex does).
//! It is safe beside the pool's connections because both use the one SQLite library
//! linked into the process (`libsqlite3-sys` links it once, for sqlx and for us): SQLite
//! coordinates its connections' POSIX file locks only within one copy of itself.

use libsqlite3_sys as ffi;
use sea_orm::sea_query::Value;
use sea_orm::{DatabaseConnection, DbBackend, Statement};
use std::collections::HashMap;
use std::ffi::{CStr, CString, c_int};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

/// At most this many prepared statements are kept per connection; a full cache starts over.
const STATEMENT_CACHE: usize = 128;

/// The file behind `db`, when it is an SQLite database in a file (not in memory).
pub fn sqlite_file(db: &DatabaseConnection) -> Option<PathBuf> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return None;
    }
    let options = db.get_sqlite_connection_pool().connect_options();
    let file = options.get_filename();
    let in_memory = file.as_os_str().is_empty() || file.to_string_lossy().contains(":memory:");
    (!in_memory).then(|| file.to_owned())
}

/// A direct connection beside `db`'s pool, when `db` is an SQLite file and the connection
/// opens. `None` otherwise: the caller goes `otherwise` (through the pool), and a failure
/// to open is logged as a warning saying so.
pub fn beside(db: &DatabaseConnection, otherwise: &str) -> Option<Connection> {
    let file = sqlite_file(db)?;
    Connection::open(&file)
        .inspect_err(|error| tracing::warn!(%error, "no direct SQLite connection; {otherwise}"))
        .ok()
}

/// One open SQLite connection, with its prepared statements.
pub struct Connection {
    handle: NonNull<ffi::sqlite3>,
    statements: HashMap<String, NonNull<ffi::sqlite3_stmt>>,
}

// SAFETY: SQLite connections in multi-thread mode may move between threads as long as
// only one thread uses a connection (and its statements) at a time; `&mut self` on every
// use ensures that.
unsafe impl Send for Connection {}

impl Connection {
    /// Opens the database file `path` (it must exist; the pool created it and set WAL).
    pub fn open(path: &Path) -> crate::Result<Self> {
        let name = CString::new(path.to_string_lossy().as_bytes())
            .map_err(|_| anyhow::anyhow!("the database path contains a NUL byte"))?;
        let mut handle = std::ptr::null_mut();
        // SAFETY: `name` is NUL-terminated and outlives the call; `handle` receives the
        // connection (or a handle carrying the error, closed below).
        let rc = unsafe {
            ffi::sqlite3_open_v2(
                name.as_ptr(),
                &mut handle,
                ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_NOMUTEX,
                std::ptr::null(),
            )
        };
        let Some(handle) = NonNull::new(handle) else {
            return Err(anyhow::anyhow!("SQLite could not allocate a connection").into());
        };
        let mut connection = Self {
            handle,
            statements: HashMap::new(),
        };
        connection.check(rc)?;
        // SAFETY: an open connection.
        connection.check(unsafe { ffi::sqlite3_busy_timeout(handle.as_ptr(), 10_000) })?;
        connection.execute_plain("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")?;
        Ok(connection)
    }

    /// Runs `sql` (one or more statements without parameters, such as `BEGIN IMMEDIATE`).
    pub fn execute_plain(&mut self, sql: &str) -> crate::Result<()> {
        let sql = CString::new(sql).map_err(|_| anyhow::anyhow!("SQL with a NUL byte"))?;
        // SAFETY: an open connection and a NUL-terminated text; no callback.
        let rc = unsafe {
            ffi::sqlite3_exec(
                self.handle.as_ptr(),
                sql.as_ptr(),
                None,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        self.check(rc)
    }

    /// Runs one statement built for SQLite, calling `row` for each row it returns.
    pub fn run(
        &mut self,
        statement: &Statement,
        mut row: impl FnMut(Row<'_>),
    ) -> crate::Result<()> {
        let prepared = self.prepared(&statement.sql)?;
        let values = statement
            .values
            .as_ref()
            .map(|v| v.0.as_slice())
            .unwrap_or(&[]);
        let result = self.bind(prepared, values).and_then(|()| {
            loop {
                // SAFETY: a statement of this connection, parameters bound.
                match unsafe { ffi::sqlite3_step(prepared.as_ptr()) } {
                    ffi::SQLITE_ROW => row(Row {
                        statement: prepared,
                        _connection: std::marker::PhantomData,
                    }),
                    ffi::SQLITE_DONE => break Ok(()),
                    rc => break self.check(rc),
                }
            }
        });
        // SAFETY: as above; a reset statement (and cleared bindings) can be reused.
        unsafe {
            ffi::sqlite3_reset(prepared.as_ptr());
            ffi::sqlite3_clear_bindings(prepared.as_ptr());
        }
        result
    }

    /// The single value of the first row of `statement`, as an integer.
    pub fn query_i64(&mut self, statement: &Statement) -> crate::Result<Option<i64>> {
        let mut value = None;
        self.run(statement, |row| {
            value = value.or(Some(row.i64(0)));
        })?;
        Ok(value)
    }

    fn prepared(&mut self, sql: &str) -> crate::Result<NonNull<ffi::sqlite3_stmt>> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(*statement);
        }
        if self.statements.len() >= STATEMENT_CACHE {
            self.finalize_all();
        }
        let mut statement = std::ptr::null_mut();
        // SAFETY: `sql` is valid for `sql.len()` bytes (no NUL needed with a length).
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                self.handle.as_ptr(),
                sql.as_ptr().cast(),
                c_int::try_from(sql.len()).map_err(|_| anyhow::anyhow!("SQL too long"))?,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut statement,
                std::ptr::null_mut(),
            )
        };
        self.check(rc)?;
        let statement =
            NonNull::new(statement).ok_or_else(|| anyhow::anyhow!("no statement in {sql:?}"))?;
        self.statements.insert(sql.to_owned(), statement);
        Ok(statement)
    }

    fn bind(&self, statement: NonNull<ffi::sqlite3_stmt>, values: &[Value]) -> crate::Result<()> {
        let s = statement.as_ptr();
        for (i, value) in values.iter().enumerate() {
            let i = c_int::try_from(i + 1).map_err(|_| anyhow::anyhow!("too many values"))?;
            // SAFETY: a statement of this connection; SQLITE_TRANSIENT makes SQLite copy
            // texts and blobs before the call returns.
            let rc = unsafe {
                match value {
                    Value::Bool(Some(b)) => ffi::sqlite3_bind_int64(s, i, i64::from(*b)),
                    Value::TinyInt(Some(n)) => ffi::sqlite3_bind_int64(s, i, i64::from(*n)),
                    Value::SmallInt(Some(n)) => ffi::sqlite3_bind_int64(s, i, i64::from(*n)),
                    Value::Int(Some(n)) => ffi::sqlite3_bind_int64(s, i, i64::from(*n)),
                    Value::BigInt(Some(n)) => ffi::sqlite3_bind_int64(s, i, *n),
                    Value::TinyUnsigned(Some(n)) => ffi::sqlite3_bind_int64(s, i, i64::from(*n)),
                    Value::SmallUnsigned(Some(n)) => ffi::sqlite3_bind_int64(s, i, i64::from(*n)),
                    Value::Unsigned(Some(n)) => ffi::sqlite3_bind_int64(s, i, i64::from(*n)),
                    Value::BigUnsigned(Some(n)) => ffi::sqlite3_bind_int64(
                        s,
                        i,
                        i64::try_from(*n).map_err(|_| anyhow::anyhow!("{n} exceeds i64"))?,
                    ),
                    Value::Float(Some(x)) => ffi::sqlite3_bind_double(s, i, f64::from(*x)),
                    Value::Double(Some(x)) => ffi::sqlite3_bind_double(s, i, *x),
                    Value::String(Some(text)) => bind_text(s, i, text)?,
                    Value::Char(Some(c)) => bind_text(s, i, &c.to_string())?,
                    Value::Json(Some(json)) => bind_text(s, i, &json.to_string())?,
                    Value::Bytes(Some(bytes)) => bind_blob(s, i, bytes)?,
                    Value::Uuid(Some(uuid)) => bind_blob(s, i, uuid.as_bytes())?,
                    Value::Bool(None)
                    | Value::TinyInt(None)
                    | Value::SmallInt(None)
                    | Value::Int(None)
                    | Value::BigInt(None)
                    | Value::TinyUnsigned(None)
                    | Value::SmallUnsigned(None)
                    | Value::Unsigned(None)
                    | Value::BigUnsigned(None)
                    | Value::Float(None)
                    | Value::Double(None)
                    | Value::String(None)
                    | Value::Char(None)
                    | Value::Json(None)
                    | Value::Bytes(None)
                    | Value::Uuid(None) => ffi::sqlite3_bind_null(s, i),
                    other => {
                        return Err(anyhow::anyhow!(
                            "a direct SQLite connection cannot bind {other:?}"
                        )
                        .into());
                    }
                }
            };
            self.check(rc)?;
        }
        Ok(())
    }

    fn check(&self, rc: c_int) -> crate::Result<()> {
        if rc == ffi::SQLITE_OK {
            return Ok(());
        }
        // SAFETY: an open connection; the message is NUL-terminated and copied at once.
        let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.handle.as_ptr())) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: an open connection.
        let code = unsafe { ffi::sqlite3_extended_errcode(self.handle.as_ptr()) };
        Err(anyhow::anyhow!("SQLite error {code}: {message}").into())
    }

    fn finalize_all(&mut self) {
        for (_, statement) in self.statements.drain() {
            // SAFETY: each statement was prepared on this connection and is dropped here.
            unsafe { ffi::sqlite3_finalize(statement.as_ptr()) };
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.finalize_all();
        // SAFETY: every statement is finalized; the handle is not used after this.
        unsafe { ffi::sqlite3_close(self.handle.as_ptr()) };
    }
}

/// SAFETY: `s` is a prepared statement of a connection the caller holds.
unsafe fn bind_text(s: *mut ffi::sqlite3_stmt, i: c_int, text: &str) -> crate::Result<c_int> {
    let len = c_int::try_from(text.len()).map_err(|_| anyhow::anyhow!("text too long"))?;
    // SAFETY: see the function; SQLite copies `len` bytes at once (SQLITE_TRANSIENT).
    Ok(unsafe { ffi::sqlite3_bind_text(s, i, text.as_ptr().cast(), len, ffi::SQLITE_TRANSIENT()) })
}

/// SAFETY: `s` is a prepared statement of a connection the caller holds.
unsafe fn bind_blob(s: *mut ffi::sqlite3_stmt, i: c_int, bytes: &[u8]) -> crate::Result<c_int> {
    let len = c_int::try_from(bytes.len()).map_err(|_| anyhow::anyhow!("blob too long"))?;
    // SAFETY: see the function; SQLite copies `len` bytes at once (SQLITE_TRANSIENT).
    Ok(
        unsafe {
            ffi::sqlite3_bind_blob(s, i, bytes.as_ptr().cast(), len, ffi::SQLITE_TRANSIENT())
        },
    )
}

/// A row a statement returned, readable while the statement stands on it.
pub struct Row<'a> {
    statement: NonNull<ffi::sqlite3_stmt>,
    _connection: std::marker::PhantomData<&'a mut Connection>,
}

impl Row<'_> {
    /// Column `i` as an integer (0 for NULL).
    pub fn i64(&self, i: c_int) -> i64 {
        // SAFETY: the statement stands on a row; an out-of-range column reads as NULL.
        unsafe { ffi::sqlite3_column_int64(self.statement.as_ptr(), i) }
    }

    /// Whether column `i` is NULL.
    pub fn is_null(&self, i: c_int) -> bool {
        // SAFETY: the statement stands on a row.
        unsafe { ffi::sqlite3_column_type(self.statement.as_ptr(), i) == ffi::SQLITE_NULL }
    }

    /// Column `i` as a UUID, stored as sqlx stores one (16 bytes); `None` for NULL or
    /// anything else.
    pub fn uuid(&self, i: c_int) -> Option<uuid::Uuid> {
        // SAFETY: as above; the bytes are copied before the statement moves on.
        unsafe {
            let blob = ffi::sqlite3_column_blob(self.statement.as_ptr(), i);
            if blob.is_null() {
                return None;
            }
            let len = ffi::sqlite3_column_bytes(self.statement.as_ptr(), i);
            let bytes =
                std::slice::from_raw_parts(blob.cast::<u8>(), usize::try_from(len).unwrap_or(0));
            uuid::Uuid::from_slice(bytes).ok()
        }
    }

    /// Column `i` as text (empty for NULL).
    pub fn text(&self, i: c_int) -> String {
        // SAFETY: as above; the text is copied before the statement moves on.
        unsafe {
            let text = ffi::sqlite3_column_text(self.statement.as_ptr(), i);
            if text.is_null() {
                return String::new();
            }
            let len = ffi::sqlite3_column_bytes(self.statement.as_ptr(), i);
            let bytes = std::slice::from_raw_parts(text, usize::try_from(len).unwrap_or(0));
            String::from_utf8_lossy(bytes).into_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::audit_event;
    use sea_orm::{
        ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
    };

    #[tokio::test]
    async fn rows_written_directly_read_back_through_sea_orm_unchanged() {
        let (_dir, db) = crate::store::db::test_database().await;
        let mut direct = Connection::open(&sqlite_file(&db).unwrap()).unwrap();
        let written = audit_event::Model {
            id: 7,
            created_at: 1_700_000_000,
            action: "impersonation-started".into(),
            outcome: "success".into(),
            actor_id: Some("a\u{e9}'\"".into()),
            impersonator_id: None,
            target_id: Some(String::new()),
            client_id: None,
            impersonation_session_id: Some(crate::store::db::new_record_id()),
            scope: None,
            method: None,
            path: Some("/scim2/Me".into()),
            reason: "support ticket 42".into(),
            detail: Some(serde_json::json!({"changed": ["name"], "count": 1})),
        };
        let insert = audit_event::Entity::insert(audit_event::ActiveModel::from(written.clone()))
            .build(DbBackend::Sqlite);
        direct.run(&insert, |_| {}).unwrap();
        let read = audit_event::Entity::find_by_id(7).one(&db).await.unwrap();
        assert_eq!(read, Some(written));

        // And the other way: what sqlx wrote, the direct connection finds by the same value.
        let session = crate::store::db::new_record_id();
        audit_event::Entity::insert(audit_event::ActiveModel {
            created_at: Set(1),
            action: Set("x".into()),
            outcome: Set("success".into()),
            reason: Set(String::new()),
            impersonation_session_id: Set(Some(session)),
            ..Default::default()
        })
        .exec(&db)
        .await
        .unwrap();
        let count = audit_event::Entity::find()
            .select_only()
            .column_as(audit_event::Column::Id.count(), "n")
            .filter(audit_event::Column::ImpersonationSessionId.eq(session))
            .build(DbBackend::Sqlite);
        assert_eq!(direct.query_i64(&count).unwrap(), Some(1));
    }

    #[tokio::test]
    async fn a_failing_statement_is_an_error_and_the_connection_goes_on() {
        let (_dir, db) = crate::store::db::test_database().await;
        let mut direct = Connection::open(&sqlite_file(&db).unwrap()).unwrap();
        let bad = Statement::from_string(DbBackend::Sqlite, "INSERT INTO no_such_table VALUES (1)");
        let error = direct.run(&bad, |_| {}).unwrap_err();
        assert!(format!("{error:?}").contains("no_such_table"), "{error:?}");
        let one = Statement::from_string(DbBackend::Sqlite, "SELECT 1");
        assert_eq!(direct.query_i64(&one).unwrap(), Some(1));
    }
}
