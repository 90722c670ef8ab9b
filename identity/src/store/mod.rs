//! The storage floor under every feature: opening the database and its transactions
//! ([`db`]), the direct SQLite path beside sqlx's pool ([`direct`]), committing single-use
//! tokens with what depends on them in groups ([`group_commit`]), and the memo of
//! read-mostly answers kept while the database does not change ([`cache`]).
//!
//! Features depend on the store, never the other way round: nothing here names a user,
//! an application or an impersonation.

pub mod cache;
pub mod db;
pub mod direct;
pub mod group_commit;
