//! Indexes for searching users by the start of their username, email or names, case
//! insensitively, so that the Console's Users list stays fast with many users.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000008_user_search"
    }
}

/// (index, column) of each searchable attribute; the index is on `lower(column)`.
const INDEXES: &[(&str, &str)] = &[
    ("idx_users_lower_username", "username"),
    ("idx_users_lower_email", "email"),
    ("idx_users_lower_given_name", "given_name"),
    ("idx_users_lower_family_name", "family_name"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Expression indexes have the same syntax on SQLite and PostgreSQL.
        for (index, column) in INDEXES {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "CREATE INDEX IF NOT EXISTS {index} ON users (lower({column}))"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (index, _) in INDEXES {
            manager
                .get_connection()
                .execute_unprepared(&format!("DROP INDEX IF EXISTS {index}"))
                .await?;
        }
        Ok(())
    }
}
