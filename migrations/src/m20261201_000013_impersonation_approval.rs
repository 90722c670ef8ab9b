//! Impersonation that asks first (issue 14): requests for access, decided by the user, an
//! approving administrator or both; a user's standing support access (access granted for
//! some hours without a request); and, on each session, what allowed it and how far it
//! may be extended.
//!
//! Requests keep the requester's name (like sessions: the target's history outlives the
//! administrator) and go with their target.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000013_impersonation_approval"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ImpersonationRequests as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(pk_uuid(R::Id))
                    .col(uuid(R::OrganizationId))
                    .col(uuid(R::RequesterId))
                    .col(string(R::RequesterName))
                    .col(uuid(R::TargetId))
                    .col(string(R::Reason).default(""))
                    .col(string(R::Ticket).default(""))
                    .col(boolean(R::ReadOnly))
                    .col(big_integer(R::DurationMinutes))
                    .col(boolean(R::NeedsUser))
                    .col(boolean(R::NeedsAdministrator))
                    .col(string(R::Status))
                    .col(big_integer(R::CreatedAt))
                    .col(big_integer(R::DecideBy))
                    .col(big_integer_null(R::UserApprovedAt))
                    .col(uuid_null(R::AdministratorId))
                    .col(big_integer_null(R::AdministratorApprovedAt))
                    .col(uuid_null(R::ClosedBy))
                    .col(big_integer_null(R::ClosedAt))
                    .col(string(R::Comment).default(""))
                    .col(big_integer_null(R::ValidUntil))
                    .col(uuid_null(R::SessionId))
                    .col(uuid_null(R::SupportAccessId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(R::Table, R::TargetId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "idx_impersonation_requests_target",
                [R::TargetId, R::Status],
            ),
            (
                "idx_impersonation_requests_requester",
                [R::RequesterId, R::Status],
            ),
            (
                "idx_impersonation_requests_organization",
                [R::OrganizationId, R::Status],
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(R::Table)
                        .col(columns[0].clone())
                        .col(columns[1].clone())
                        .to_owned(),
                )
                .await?;
        }

        use SupportAccess as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(pk_uuid(A::Id))
                    .col(uuid(A::UserId))
                    .col(uuid(A::OrganizationId))
                    .col(big_integer(A::GrantedAt))
                    .col(big_integer(A::ExpiresAt))
                    .col(big_integer_null(A::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(A::Table, A::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_support_access_user")
                    .table(A::Table)
                    .col(A::UserId)
                    .to_owned(),
            )
            .await?;

        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [
            uuid_null(ImpersonationSessions::RequestId),
            uuid_null(ImpersonationSessions::SupportAccessId),
            big_integer_null(ImpersonationSessions::LimitAt),
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
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            ImpersonationSessions::LimitAt,
            ImpersonationSessions::SupportAccessId,
            ImpersonationSessions::RequestId,
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
        manager
            .drop_table(Table::drop().table(SupportAccess::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ImpersonationRequests::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum ImpersonationRequests {
    Table,
    Id,
    OrganizationId,
    RequesterId,
    RequesterName,
    TargetId,
    Reason,
    Ticket,
    ReadOnly,
    DurationMinutes,
    NeedsUser,
    NeedsAdministrator,
    Status,
    CreatedAt,
    DecideBy,
    UserApprovedAt,
    AdministratorId,
    AdministratorApprovedAt,
    ClosedBy,
    ClosedAt,
    Comment,
    ValidUntil,
    SessionId,
    SupportAccessId,
}

#[derive(DeriveIden)]
enum SupportAccess {
    Table,
    Id,
    UserId,
    OrganizationId,
    GrantedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum ImpersonationSessions {
    Table,
    RequestId,
    SupportAccessId,
    LimitAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
