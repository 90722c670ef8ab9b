//! The domain's error type. Expected failures are variants; anything else is `Unexpected`
//! and carries context for the log, never for the user.

/// Everything a domain service can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Unknown user, wrong password, or an account that may not sign in. One message for
    /// all of them, so that a caller cannot learn which one it was.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Too many password checks are running and waiting: answer "try again in a moment"
    /// (503 with `Retry-After`) at once instead of queueing without bound.
    #[error("the server is busy checking passwords; try again in a moment")]
    Busy,
    /// The schema in the database is newer than this binary knows.
    #[error(
        "the database has migrations this server does not know ({0}); it was written by a newer \
         version. Run that version, or restore a backup made for this one. Nothing was changed."
    )]
    SchemaTooNew(String),
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
