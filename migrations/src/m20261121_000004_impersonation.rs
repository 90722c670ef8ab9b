//! Impersonation: per-organization settings, impersonation sessions (first-class records
//! every derived artefact points at), single-use token ids, and the append-only audit trail.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000004_impersonation"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Settings::Table)
                    .col(uuid(Settings::OrganizationId))
                    .col(string(Settings::Key))
                    .col(json(Settings::Value))
                    .col(big_integer(Settings::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(Settings::OrganizationId)
                            .col(Settings::Key),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ImpersonationSessions::Table)
                    .col(pk_uuid(ImpersonationSessions::Id))
                    .col(uuid(ImpersonationSessions::OrganizationId))
                    .col(uuid(ImpersonationSessions::ImpersonatorId))
                    .col(uuid(ImpersonationSessions::TargetId))
                    .col(uuid(ImpersonationSessions::ApplicationId))
                    .col(uuid_null(ImpersonationSessions::IdpSessionId))
                    .col(string(ImpersonationSessions::Reason).default(""))
                    .col(big_integer(ImpersonationSessions::StartedAt))
                    .col(big_integer(ImpersonationSessions::ExpiresAt))
                    .col(big_integer_null(ImpersonationSessions::EndedAt))
                    .col(uuid_null(ImpersonationSessions::EndedBy))
                    .col(string_null(ImpersonationSessions::EndReason))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                ImpersonationSessions::Table,
                                ImpersonationSessions::ImpersonatorId,
                            )
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                ImpersonationSessions::Table,
                                ImpersonationSessions::TargetId,
                            )
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            (
                "ix_impersonation_sessions_impersonator",
                ImpersonationSessions::ImpersonatorId,
            ),
            (
                "ix_impersonation_sessions_target",
                ImpersonationSessions::TargetId,
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(ImpersonationSessions::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(ConsumedTokens::Table)
                    .col(string(ConsumedTokens::Jti).primary_key())
                    .col(string(ConsumedTokens::Kind))
                    .col(big_integer(ConsumedTokens::ConsumedAt))
                    .col(big_integer(ConsumedTokens::ExpiresAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(big_pk_auto(AuditEvents::Id))
                    .col(big_integer(AuditEvents::CreatedAt))
                    .col(string(AuditEvents::Action))
                    .col(string(AuditEvents::Outcome))
                    .col(string_null(AuditEvents::ActorId))
                    .col(string_null(AuditEvents::ImpersonatorId))
                    .col(string_null(AuditEvents::TargetId))
                    .col(string_null(AuditEvents::ClientId))
                    .col(uuid_null(AuditEvents::ImpersonationSessionId))
                    .col(string_null(AuditEvents::Scope))
                    .col(string_null(AuditEvents::Method))
                    .col(string_null(AuditEvents::Path))
                    .col(string(AuditEvents::Reason).default(""))
                    .col(json_null(AuditEvents::Detail))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("ix_audit_events_created", AuditEvents::CreatedAt),
            ("ix_audit_events_action", AuditEvents::Action),
            ("ix_audit_events_actor", AuditEvents::ActorId),
            ("ix_audit_events_target", AuditEvents::TargetId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuditEvents::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }

        // Everything derived from an impersonation session points at it, so that ending the
        // session revokes all of it in one statement per table.
        for (table, column) in [
            (Derived::IdpSessions, Derived::ImpersonationSessionId),
            (Derived::AuthorizationCodes, Derived::ImpersonationSessionId),
            (Derived::RefreshTokens, Derived::ImpersonationSessionId),
            (Derived::AccessTokens, Derived::ImpersonationSessionId),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(uuid_null(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Derived::IdpSessions,
            Derived::AuthorizationCodes,
            Derived::RefreshTokens,
            Derived::AccessTokens,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .drop_column(Derived::ImpersonationSessionId)
                        .to_owned(),
                )
                .await?;
        }
        for table in [
            AuditEvents::Table.into_iden(),
            ConsumedTokens::Table.into_iden(),
            ImpersonationSessions::Table.into_iden(),
            Settings::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Derived {
    IdpSessions,
    AuthorizationCodes,
    RefreshTokens,
    AccessTokens,
    ImpersonationSessionId,
}

#[derive(DeriveIden)]
enum Settings {
    Table,
    OrganizationId,
    Key,
    Value,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ImpersonationSessions {
    Table,
    Id,
    OrganizationId,
    ImpersonatorId,
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

#[derive(DeriveIden)]
enum ConsumedTokens {
    Table,
    Jti,
    Kind,
    ConsumedAt,
    ExpiresAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditEvents {
    Table,
    Id,
    CreatedAt,
    Action,
    Outcome,
    ActorId,
    ImpersonatorId,
    TargetId,
    ClientId,
    ImpersonationSessionId,
    Scope,
    Method,
    Path,
    Reason,
    Detail,
}
