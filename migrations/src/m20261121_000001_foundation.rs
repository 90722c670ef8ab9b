//! Organizations, users, applications, roles and IdP sessions.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000001_foundation"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .col(pk_uuid(Organizations::Id))
                    .col(uuid_null(Organizations::ParentId))
                    .col(string(Organizations::Name))
                    .col(big_integer(Organizations::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Organizations::Table, Organizations::ParentId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_organizations_parent_name")
                    .table(Organizations::Table)
                    .col(Organizations::ParentId)
                    .col(Organizations::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_uuid(Users::Id))
                    .col(uuid(Users::OrganizationId))
                    .col(string(Users::Username))
                    .col(string(Users::Email))
                    .col(string(Users::GivenName).default(""))
                    .col(string(Users::FamilyName).default(""))
                    .col(string(Users::PasswordHash))
                    .col(string(Users::Status).default("active"))
                    .col(integer(Users::FailedLogins).default(0))
                    .col(big_integer(Users::CreatedAt))
                    .col(big_integer(Users::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Users::Table, Users::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_users_username")
                    .table(Users::Table)
                    .col(Users::Username)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Applications::Table)
                    .col(pk_uuid(Applications::Id))
                    .col(uuid(Applications::OrganizationId))
                    .col(string(Applications::Name))
                    .col(string(Applications::Description).default(""))
                    .col(string(Applications::ClientId))
                    .col(string_null(Applications::ClientSecretHash))
                    .col(boolean(Applications::PublicClient).default(false))
                    .col(boolean(Applications::System).default(false))
                    .col(boolean(Applications::Enabled).default(true))
                    .col(json(Applications::RedirectUris))
                    .col(json(Applications::PostLogoutRedirectUris))
                    .col(json(Applications::GrantTypes))
                    .col(boolean(Applications::Discoverable).default(false))
                    .col(string_null(Applications::AccessUrl))
                    .col(boolean(Applications::SubjectTokenEnabled).default(false))
                    .col(integer(Applications::SubjectTokenExpirySecs).default(180))
                    .col(boolean(Applications::SkipLoginConsent).default(false))
                    .col(boolean(Applications::SkipLogoutConsent).default(false))
                    .col(integer(Applications::AccessTokenLifetimeSecs).default(3600))
                    .col(integer(Applications::IdTokenLifetimeSecs).default(3600))
                    .col(integer(Applications::RefreshTokenLifetimeSecs).default(86400))
                    .col(boolean(Applications::RefreshForImpersonation).default(false))
                    .col(big_integer(Applications::CreatedAt))
                    .col(big_integer(Applications::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Applications::Table, Applications::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("ux_applications_client_id", Applications::ClientId),
            ("ux_applications_name", Applications::Name),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Applications::Table)
                        .col(col)
                        .unique()
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Roles::Table)
                    .col(pk_uuid(Roles::Id))
                    .col(uuid(Roles::OrganizationId))
                    .col(string(Roles::Name))
                    // "organization" or "application"; the value is the organization's or
                    // the application's id, so that the pair is never NULL in a unique index.
                    .col(string(Roles::AudienceType))
                    .col(uuid(Roles::AudienceId))
                    .col(boolean(Roles::Builtin).default(false))
                    .col(big_integer(Roles::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Roles::Table, Roles::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_roles_audience_name")
                    .table(Roles::Table)
                    .col(Roles::AudienceType)
                    .col(Roles::AudienceId)
                    .col(Roles::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RoleScopes::Table)
                    .col(uuid(RoleScopes::RoleId))
                    .col(string(RoleScopes::Scope))
                    .primary_key(
                        Index::create()
                            .col(RoleScopes::RoleId)
                            .col(RoleScopes::Scope),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(RoleScopes::Table, RoleScopes::RoleId)
                            .to(Roles::Table, Roles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RoleUsers::Table)
                    .col(uuid(RoleUsers::RoleId))
                    .col(uuid(RoleUsers::UserId))
                    .primary_key(
                        Index::create()
                            .col(RoleUsers::RoleId)
                            .col(RoleUsers::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(RoleUsers::Table, RoleUsers::RoleId)
                            .to(Roles::Table, Roles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(RoleUsers::Table, RoleUsers::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdpSessions::Table)
                    .col(pk_uuid(IdpSessions::Id))
                    // SHA-256 of the cookie value; the value itself is never stored.
                    .col(string(IdpSessions::TokenHash))
                    .col(uuid(IdpSessions::UserId))
                    .col(big_integer(IdpSessions::AuthTime))
                    .col(big_integer(IdpSessions::CreatedAt))
                    .col(big_integer(IdpSessions::LastSeenAt))
                    .col(big_integer(IdpSessions::ExpiresAt))
                    .col(big_integer_null(IdpSessions::EndedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(IdpSessions::Table, IdpSessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_idp_sessions_token_hash")
                    .table(IdpSessions::Table)
                    .col(IdpSessions::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_idp_sessions_user")
                    .table(IdpSessions::Table)
                    .col(IdpSessions::UserId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IdpSessions::Table.into_iden(),
            RoleUsers::Table.into_iden(),
            RoleScopes::Table.into_iden(),
            Roles::Table.into_iden(),
            Applications::Table.into_iden(),
            Users::Table.into_iden(),
            Organizations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    ParentId,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    OrganizationId,
    Username,
    Email,
    GivenName,
    FamilyName,
    PasswordHash,
    Status,
    FailedLogins,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
    OrganizationId,
    Name,
    Description,
    ClientId,
    ClientSecretHash,
    PublicClient,
    System,
    Enabled,
    RedirectUris,
    PostLogoutRedirectUris,
    GrantTypes,
    Discoverable,
    AccessUrl,
    SubjectTokenEnabled,
    SubjectTokenExpirySecs,
    SkipLoginConsent,
    SkipLogoutConsent,
    AccessTokenLifetimeSecs,
    IdTokenLifetimeSecs,
    RefreshTokenLifetimeSecs,
    RefreshForImpersonation,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Roles {
    Table,
    Id,
    OrganizationId,
    Name,
    AudienceType,
    AudienceId,
    Builtin,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RoleScopes {
    Table,
    RoleId,
    Scope,
}

#[derive(DeriveIden)]
enum RoleUsers {
    Table,
    RoleId,
    UserId,
}

#[derive(DeriveIden)]
enum IdpSessions {
    Table,
    Id,
    TokenHash,
    UserId,
    AuthTime,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
    EndedAt,
}
