//! An impersonation session outlives its impersonator: deleting the administrator keeps the
//! target's Access history, with the impersonator's username kept on the record
//! (`impersonator_name`). The foreign key that deleted the sessions with the impersonator
//! goes; the target's stays (a deleted user has no history to read).
//!
//! SQLite cannot drop a foreign key, so the table is rebuilt (the same on PostgreSQL, to
//! keep one path): a new table, the rows copied with their impersonator's name, the old
//! one dropped, the new one renamed and indexed. Nothing references the table by a
//! foreign key, and it is not among the counted tables (no triggers to carry over).

use sea_orm_migration::sea_query::ExprTrait;
use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000011_impersonation_history"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on every backend: the rebuild happens whole or not at all, on one
    /// connection (a pooled SQLite connection still reading the old schema would miss the
    /// drop otherwise).
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild(manager, Shape::KeepsHistory).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild(manager, Shape::GoesWithImpersonator).await
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// No foreign key to the impersonator; their name on the record.
    KeepsHistory,
    /// The schema before: deleted with the impersonator, no name.
    GoesWithImpersonator,
}

async fn rebuild(manager: &SchemaManager<'_>, shape: Shape) -> Result<(), DbErr> {
    use ImpersonationSessions as S;
    let mut table = Table::create();
    table
        .table(Rebuilt::Table)
        .col(pk_uuid(S::Id))
        .col(uuid(S::OrganizationId))
        .col(uuid(S::ImpersonatorId))
        .col(uuid(S::TargetId))
        .col(uuid(S::ApplicationId))
        .col(uuid_null(S::IdpSessionId))
        .col(string(S::Reason).default(""))
        .col(big_integer(S::StartedAt))
        .col(big_integer(S::ExpiresAt))
        .col(big_integer_null(S::EndedAt))
        .col(uuid_null(S::EndedBy))
        .col(string_null(S::EndReason))
        .foreign_key(
            ForeignKey::create()
                .from(Rebuilt::Table, S::TargetId)
                .to(Users::Table, Users::Id)
                .on_delete(ForeignKeyAction::Cascade),
        );
    match shape {
        Shape::KeepsHistory => {
            table.col(string(S::ImpersonatorName).default(""));
        }
        Shape::GoesWithImpersonator => {
            table.foreign_key(
                ForeignKey::create()
                    .from(Rebuilt::Table, S::ImpersonatorId)
                    .to(Users::Table, Users::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            );
        }
    }
    manager.create_table(table.to_owned()).await?;

    let kept = [
        S::Id,
        S::OrganizationId,
        S::ImpersonatorId,
        S::TargetId,
        S::ApplicationId,
        S::IdpSessionId,
        S::Reason,
        S::StartedAt,
        S::ExpiresAt,
        S::EndedAt,
        S::EndedBy,
        S::EndReason,
    ];
    let mut copy = Query::select();
    copy.columns(kept).from(S::Table);
    let mut columns: Vec<S> = kept.to_vec();
    match shape {
        Shape::KeepsHistory => {
            // The impersonator's name as it is now.
            let name = Query::select()
                .column(Users::Username)
                .from(Users::Table)
                .and_where(
                    Expr::col((Users::Table, Users::Id)).equals((S::Table, S::ImpersonatorId)),
                )
                .to_owned();
            copy.expr(Func::coalesce([
                SimpleExpr::SubQuery(None, Box::new(name.into_sub_query_statement())),
                Expr::val(""),
            ]));
            columns.push(S::ImpersonatorName);
        }
        Shape::GoesWithImpersonator => {
            // The foreign key takes only sessions whose impersonator still exists.
            let existing = Query::select()
                .column(Users::Id)
                .from(Users::Table)
                .to_owned();
            copy.and_where(Expr::col(S::ImpersonatorId).in_subquery(existing));
        }
    }
    let insert = Query::insert()
        .into_table(Rebuilt::Table)
        .columns(columns)
        .select_from(copy)
        .map_err(|e| DbErr::Migration(e.to_string()))?
        .to_owned();
    manager.exec_stmt(insert).await?;
    manager
        .drop_table(Table::drop().table(S::Table).to_owned())
        .await?;
    manager
        .rename_table(Table::rename().table(Rebuilt::Table, S::Table).to_owned())
        .await?;
    for (name, col) in [
        ("ix_impersonation_sessions_impersonator", S::ImpersonatorId),
        ("ix_impersonation_sessions_target", S::TargetId),
    ] {
        manager
            .create_index(
                Index::create()
                    .name(name)
                    .table(S::Table)
                    .col(col)
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
}

#[derive(DeriveIden)]
enum Rebuilt {
    #[sea_orm(iden = "impersonation_sessions_rebuilt")]
    Table,
}

#[derive(DeriveIden, Clone, Copy)]
enum ImpersonationSessions {
    Table,
    Id,
    OrganizationId,
    ImpersonatorId,
    ImpersonatorName,
    TargetId,
    ApplicationId,
    IdpSessionId,
    Reason,
    StartedAt,
    ExpiresAt,
    EndedAt,
    EndedBy,
    EndReason,
}
