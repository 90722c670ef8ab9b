//! The database counts changes to its read-mostly tables, so that every instance can keep
//! them in memory and know, with one read, when its copy is out of date
//! (`identity::store::cache`). Triggers add one to `change_counter.value` in the transaction of
//! every insert, update and delete on [`COUNTED_TABLES`]: the new value becomes visible
//! exactly when the change does.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000009_change_counter"
    }
}

/// The tables whose every change moves the counter: what applications are and may do,
/// users, roles and what they grant, organizations, settings and mail templates.
pub const COUNTED_TABLES: &[&str] = &[
    "applications",
    "authorized_scopes",
    "api_resources",
    "api_scopes",
    "users",
    "roles",
    "role_users",
    "role_scopes",
    "organizations",
    "organization_members",
    "settings",
    "email_templates",
];

const OPERATIONS: &[&str] = &["INSERT", "UPDATE", "DELETE"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ChangeCounter::Table)
                    .col(
                        ColumnDef::new(ChangeCounter::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ChangeCounter::Value)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared("INSERT INTO change_counter (id, value) VALUES (1, 0)")
            .await?;
        let count = "UPDATE change_counter SET value = value + 1 WHERE id = 1";
        match manager.get_database_backend() {
            DbBackend::Sqlite => {
                // SQLite has row triggers only; an UPDATE or DELETE that touches no row
                // changes nothing and counts nothing.
                for table in COUNTED_TABLES {
                    for operation in OPERATIONS {
                        let name = trigger_name(table, operation);
                        db.execute_unprepared(&format!(
                            "CREATE TRIGGER {name} AFTER {operation} ON {table} \
                             BEGIN {count}; END"
                        ))
                        .await?;
                    }
                }
            }
            _ => {
                db.execute_unprepared(&format!(
                    "CREATE FUNCTION count_change() RETURNS trigger LANGUAGE plpgsql AS \
                     $$ BEGIN {count}; RETURN NULL; END $$"
                ))
                .await?;
                for table in COUNTED_TABLES {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {table}_count_changes \
                         AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} \
                         FOR EACH STATEMENT EXECUTE FUNCTION count_change()"
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Sqlite => {
                for table in COUNTED_TABLES {
                    for operation in OPERATIONS {
                        let name = trigger_name(table, operation);
                        db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {name}"))
                            .await?;
                    }
                }
            }
            _ => {
                for table in COUNTED_TABLES {
                    db.execute_unprepared(&format!(
                        "DROP TRIGGER IF EXISTS {table}_count_changes ON {table}"
                    ))
                    .await?;
                }
                db.execute_unprepared("DROP FUNCTION IF EXISTS count_change()")
                    .await?;
            }
        }
        manager
            .drop_table(Table::drop().table(ChangeCounter::Table).to_owned())
            .await
    }
}

fn trigger_name(table: &str, operation: &str) -> String {
    format!("{table}_count_{}", operation.to_lowercase())
}

#[derive(DeriveIden)]
enum ChangeCounter {
    Table,
    Id,
    Value,
}
