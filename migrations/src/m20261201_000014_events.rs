//! Events for the world outside (issue 15): what happened (an impersonation started or
//! ended, a user locked, a key rotated, a session revoked) written once in the transaction
//! that made it happen, then fanned out to deliveries, one per receiver: webhook
//! subscriptions, Shared Signals streams, and the back-channel logout endpoints of
//! applications. A delivery is retried with backoff until its receiver answers, or for a
//! day; its last answer is kept for the delivery log.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000014_events"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(pk_uuid(Events::Id))
                    .col(uuid_null(Events::OrganizationId))
                    .col(string(Events::EventType))
                    .col(string_null(Events::SubjectId))
                    .col(big_integer(Events::OccurredAt))
                    .col(json(Events::Data))
                    .col(big_integer_null(Events::DispatchedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_events_undispatched")
                    .table(Events::Table)
                    .col(Events::DispatchedAt)
                    .col(Events::OccurredAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .col(pk_uuid(Webhooks::Id))
                    .col(uuid(Webhooks::OrganizationId))
                    .col(string(Webhooks::Url))
                    .col(string(Webhooks::Description).default(""))
                    .col(json(Webhooks::EventTypes))
                    .col(boolean(Webhooks::Enabled))
                    .col(string(Webhooks::Secret))
                    .col(string_null(Webhooks::PreviousSecret))
                    .col(big_integer_null(Webhooks::PreviousSecretUntil))
                    .col(uuid_null(Webhooks::RevealSecretTo))
                    .col(big_integer(Webhooks::CreatedAt))
                    .col(big_integer(Webhooks::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SsfStreams::Table)
                    .col(pk_uuid(SsfStreams::Id))
                    .col(uuid(SsfStreams::OrganizationId))
                    .col(uuid(SsfStreams::ApplicationId))
                    .col(string(SsfStreams::Audience))
                    .col(string(SsfStreams::EndpointUrl))
                    .col(text_null(SsfStreams::AuthorizationHeader))
                    .col(json(SsfStreams::EventsRequested))
                    .col(string(SsfStreams::Description).default(""))
                    .col(string(SsfStreams::Status))
                    .col(string(SsfStreams::StatusReason).default(""))
                    .col(big_integer_null(SsfStreams::VerifiedAt))
                    .col(big_integer(SsfStreams::CreatedAt))
                    .col(big_integer(SsfStreams::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_ssf_streams_application")
                    .table(SsfStreams::Table)
                    .col(SsfStreams::ApplicationId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Back-channel logout finds the applications a session signed someone in to by
        // the codes issued through it.
        for (name, column) in [
            ("ix_codes_idp_session", AuthorizationCodes::IdpSessionId),
            (
                "ix_codes_impersonation_session",
                AuthorizationCodes::ImpersonationSessionId,
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuthorizationCodes::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Deliveries::Table)
                    .col(pk_uuid(Deliveries::Id))
                    .col(uuid(Deliveries::EventId))
                    .col(string(Deliveries::Channel))
                    .col(uuid(Deliveries::DestinationId))
                    .col(string(Deliveries::Url))
                    .col(json(Deliveries::Payload))
                    .col(big_integer(Deliveries::CreatedAt))
                    .col(integer(Deliveries::Attempts).default(0))
                    .col(big_integer(Deliveries::NextAttemptAt))
                    .col(big_integer_null(Deliveries::LastAttemptAt))
                    .col(integer_null(Deliveries::LastStatus))
                    .col(text_null(Deliveries::LastError))
                    .col(big_integer_null(Deliveries::DeliveredAt))
                    .col(big_integer_null(Deliveries::FailedAt))
                    .to_owned(),
            )
            .await?;
        for (name, unique, columns) in [
            (
                "ux_deliveries_event_destination",
                true,
                vec![
                    Deliveries::EventId,
                    Deliveries::Channel,
                    Deliveries::DestinationId,
                ],
            ),
            (
                "ix_deliveries_due",
                false,
                vec![
                    Deliveries::DeliveredAt,
                    Deliveries::FailedAt,
                    Deliveries::NextAttemptAt,
                ],
            ),
            (
                "ix_deliveries_destination",
                false,
                vec![Deliveries::DestinationId, Deliveries::CreatedAt],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Deliveries::Table);
            if unique {
                index.unique();
            }
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .add_column(string_null(Applications::BackchannelLogoutUri))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .add_column(
                        boolean(Applications::BackchannelLogoutSessionRequired).default(false),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["ix_codes_idp_session", "ix_codes_impersonation_session"] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(AuthorizationCodes::Table)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            Applications::BackchannelLogoutSessionRequired,
            Applications::BackchannelLogoutUri,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Applications::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for table in [
            Deliveries::Table.into_iden(),
            SsfStreams::Table.into_iden(),
            Webhooks::Table.into_iden(),
            Events::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    OrganizationId,
    EventType,
    SubjectId,
    OccurredAt,
    Data,
    DispatchedAt,
}

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    OrganizationId,
    Url,
    Description,
    EventTypes,
    Enabled,
    Secret,
    PreviousSecret,
    PreviousSecretUntil,
    RevealSecretTo,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SsfStreams {
    Table,
    Id,
    OrganizationId,
    ApplicationId,
    Audience,
    EndpointUrl,
    AuthorizationHeader,
    EventsRequested,
    Description,
    Status,
    StatusReason,
    VerifiedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    EventId,
    Channel,
    DestinationId,
    Url,
    Payload,
    CreatedAt,
    Attempts,
    NextAttemptAt,
    LastAttemptAt,
    LastStatus,
    LastError,
    DeliveredAt,
    FailedAt,
}

#[derive(DeriveIden)]
enum AuthorizationCodes {
    Table,
    IdpSessionId,
    ImpersonationSessionId,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    BackchannelLogoutUri,
    BackchannelLogoutSessionRequired,
}
