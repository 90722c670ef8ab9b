//! What an organization may ask of an impersonation (issue 14), kept where it applies: the
//! help-desk ticket the impersonator gave and whether the session is read-only, on the
//! session; the scopes an application grants to read-only sessions, on the application.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000012_impersonation_requirements"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [
            string(ImpersonationSessions::Ticket).default("").to_owned(),
            boolean(ImpersonationSessions::ReadOnly)
                .default(false)
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ImpersonationSessions::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .add_column(json(Applications::ReadOnlyScopes).default("[]"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .drop_column(Applications::ReadOnlyScopes)
                    .to_owned(),
            )
            .await?;
        for column in [
            ImpersonationSessions::ReadOnly,
            ImpersonationSessions::Ticket,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ImpersonationSessions::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ImpersonationSessions {
    Table,
    Ticket,
    ReadOnly,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    ReadOnlyScopes,
}
