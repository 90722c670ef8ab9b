//! The OpenID Provider: signing keys, authorization codes and pending authorization
//! requests, consents, refresh token families, and a record of every access token issued
//! (for introspection and revocation). Also the one-time reveal of a new client secret.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000002_oauth"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    .col(string(SigningKeys::Kid).primary_key())
                    .col(string(SigningKeys::Algorithm))
                    // base64 of the PKCS#8 DER private key.
                    .col(text(SigningKeys::PrivateKey))
                    .col(json(SigningKeys::PublicJwk))
                    // "next", "active" or "retired"; removed keys are deleted.
                    .col(string(SigningKeys::Status))
                    .col(big_integer(SigningKeys::CreatedAt))
                    .col(big_integer_null(SigningKeys::ActivatedAt))
                    .col(big_integer_null(SigningKeys::RetiredAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuthorizationRequests::Table)
                    .col(pk_uuid(AuthorizationRequests::Id))
                    .col(string(AuthorizationRequests::HandleHash))
                    .col(uuid(AuthorizationRequests::UserId))
                    .col(uuid(AuthorizationRequests::IdpSessionId))
                    .col(uuid(AuthorizationRequests::ApplicationId))
                    .col(json(AuthorizationRequests::Params))
                    .col(big_integer(AuthorizationRequests::CreatedAt))
                    .col(big_integer(AuthorizationRequests::ExpiresAt))
                    .col(big_integer_null(AuthorizationRequests::ConsumedAt))
                    .foreign_key(&mut fk(
                        AuthorizationRequests::Table,
                        AuthorizationRequests::UserId,
                        Users::Table,
                        Users::Id,
                    ))
                    .foreign_key(&mut fk(
                        AuthorizationRequests::Table,
                        AuthorizationRequests::ApplicationId,
                        Applications::Table,
                        Applications::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "ux_authorization_requests_handle",
            AuthorizationRequests::Table,
            AuthorizationRequests::HandleHash,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuthorizationCodes::Table)
                    .col(pk_uuid(AuthorizationCodes::Id))
                    .col(string(AuthorizationCodes::CodeHash))
                    .col(uuid(AuthorizationCodes::ApplicationId))
                    .col(uuid(AuthorizationCodes::UserId))
                    .col(uuid_null(AuthorizationCodes::IdpSessionId))
                    .col(string(AuthorizationCodes::RedirectUri))
                    .col(string(AuthorizationCodes::Scope))
                    .col(string_null(AuthorizationCodes::Nonce))
                    .col(string_null(AuthorizationCodes::CodeChallenge))
                    .col(big_integer(AuthorizationCodes::AuthTime))
                    .col(big_integer(AuthorizationCodes::CreatedAt))
                    .col(big_integer(AuthorizationCodes::ExpiresAt))
                    .col(big_integer_null(AuthorizationCodes::ConsumedAt))
                    .foreign_key(&mut fk(
                        AuthorizationCodes::Table,
                        AuthorizationCodes::UserId,
                        Users::Table,
                        Users::Id,
                    ))
                    .foreign_key(&mut fk(
                        AuthorizationCodes::Table,
                        AuthorizationCodes::ApplicationId,
                        Applications::Table,
                        Applications::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "ux_authorization_codes_hash",
            AuthorizationCodes::Table,
            AuthorizationCodes::CodeHash,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Consents::Table)
                    .col(uuid(Consents::UserId))
                    .col(uuid(Consents::ApplicationId))
                    .col(string(Consents::Scope))
                    .col(big_integer(Consents::GrantedAt))
                    .primary_key(
                        Index::create()
                            .col(Consents::UserId)
                            .col(Consents::ApplicationId),
                    )
                    .foreign_key(&mut fk(
                        Consents::Table,
                        Consents::UserId,
                        Users::Table,
                        Users::Id,
                    ))
                    .foreign_key(&mut fk(
                        Consents::Table,
                        Consents::ApplicationId,
                        Applications::Table,
                        Applications::Id,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(pk_uuid(RefreshTokens::Id))
                    .col(string(RefreshTokens::TokenHash))
                    // Every token of one grant shares a family; reuse of a rotated token
                    // revokes the whole family.
                    .col(uuid(RefreshTokens::FamilyId))
                    .col(uuid(RefreshTokens::ApplicationId))
                    .col(uuid(RefreshTokens::UserId))
                    .col(uuid_null(RefreshTokens::IdpSessionId))
                    .col(uuid_null(RefreshTokens::CodeId))
                    .col(string(RefreshTokens::Scope))
                    .col(big_integer(RefreshTokens::AuthTime))
                    .col(big_integer(RefreshTokens::CreatedAt))
                    .col(big_integer(RefreshTokens::ExpiresAt))
                    .col(big_integer_null(RefreshTokens::UsedAt))
                    .col(big_integer_null(RefreshTokens::RevokedAt))
                    .foreign_key(&mut fk(
                        RefreshTokens::Table,
                        RefreshTokens::UserId,
                        Users::Table,
                        Users::Id,
                    ))
                    .foreign_key(&mut fk(
                        RefreshTokens::Table,
                        RefreshTokens::ApplicationId,
                        Applications::Table,
                        Applications::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "ux_refresh_tokens_hash",
            RefreshTokens::Table,
            RefreshTokens::TokenHash,
        )
        .await?;
        index(
            manager,
            "ix_refresh_tokens_family",
            RefreshTokens::Table,
            RefreshTokens::FamilyId,
        )
        .await?;
        index(
            manager,
            "ix_refresh_tokens_code",
            RefreshTokens::Table,
            RefreshTokens::CodeId,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(AccessTokens::Table)
                    .col(string(AccessTokens::Jti).primary_key())
                    .col(uuid(AccessTokens::ApplicationId))
                    // None for client credentials.
                    .col(uuid_null(AccessTokens::UserId))
                    .col(uuid_null(AccessTokens::IdpSessionId))
                    .col(uuid_null(AccessTokens::CodeId))
                    .col(uuid_null(AccessTokens::FamilyId))
                    .col(string(AccessTokens::Scope))
                    .col(big_integer(AccessTokens::CreatedAt))
                    .col(big_integer(AccessTokens::ExpiresAt))
                    .col(big_integer_null(AccessTokens::RevokedAt))
                    .foreign_key(&mut fk(
                        AccessTokens::Table,
                        AccessTokens::ApplicationId,
                        Applications::Table,
                        Applications::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_access_tokens_code",
            AccessTokens::Table,
            AccessTokens::CodeId,
        )
        .await?;
        index(
            manager,
            "ix_access_tokens_family",
            AccessTokens::Table,
            AccessTokens::FamilyId,
        )
        .await?;
        index(
            manager,
            "ix_access_tokens_user",
            AccessTokens::Table,
            AccessTokens::UserId,
        )
        .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    // A new client secret, kept only until it is shown once.
                    .add_column(string_null(Applications::ClientSecretReveal))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .drop_column(Applications::ClientSecretReveal)
                    .to_owned(),
            )
            .await?;
        for table in [
            AccessTokens::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            Consents::Table.into_iden(),
            AuthorizationCodes::Table.into_iden(),
            AuthorizationRequests::Table.into_iden(),
            SigningKeys::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

fn fk<T: IntoIden + Copy, C: IntoIden + Copy, R: IntoIden + Copy, RC: IntoIden + Copy>(
    table: T,
    column: C,
    to_table: R,
    to_column: RC,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(to_table, to_column)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

async fn unique<T: IntoIden + Copy, C: IntoIden + Copy>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    column: C,
) -> Result<(), DbErr> {
    manager
        .create_index(
            Index::create()
                .name(name)
                .table(table)
                .col(column)
                .unique()
                .to_owned(),
        )
        .await
}

async fn index<T: IntoIden + Copy, C: IntoIden + Copy>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    column: C,
) -> Result<(), DbErr> {
    manager
        .create_index(
            Index::create()
                .name(name)
                .table(table)
                .col(column)
                .to_owned(),
        )
        .await
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Applications {
    Table,
    Id,
    ClientSecretReveal,
}

#[derive(DeriveIden, Clone, Copy)]
enum SigningKeys {
    Table,
    Kid,
    Algorithm,
    PrivateKey,
    PublicJwk,
    Status,
    CreatedAt,
    ActivatedAt,
    RetiredAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuthorizationRequests {
    Table,
    Id,
    HandleHash,
    UserId,
    IdpSessionId,
    ApplicationId,
    Params,
    CreatedAt,
    ExpiresAt,
    ConsumedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuthorizationCodes {
    Table,
    Id,
    CodeHash,
    ApplicationId,
    UserId,
    IdpSessionId,
    RedirectUri,
    Scope,
    Nonce,
    CodeChallenge,
    AuthTime,
    CreatedAt,
    ExpiresAt,
    ConsumedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Consents {
    Table,
    UserId,
    ApplicationId,
    Scope,
    GrantedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RefreshTokens {
    Table,
    Id,
    TokenHash,
    FamilyId,
    ApplicationId,
    UserId,
    IdpSessionId,
    CodeId,
    Scope,
    AuthTime,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AccessTokens {
    Table,
    Jti,
    ApplicationId,
    UserId,
    IdpSessionId,
    CodeId,
    FamilyId,
    Scope,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}
