//! The help-desk ticket an impersonator gives beside the reason, kept on the session
//! (empty: none).

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000012_impersonation_ticket"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ImpersonationSessions::Table)
                    .add_column(string(ImpersonationSessions::Ticket).default(""))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ImpersonationSessions::Table)
                    .drop_column(ImpersonationSessions::Ticket)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum ImpersonationSessions {
    Table,
    Ticket,
}
