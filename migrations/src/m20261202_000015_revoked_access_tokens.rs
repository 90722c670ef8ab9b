//! Client-credentials access tokens are no longer recorded one row each (issue 16): such a
//! token is live while its signature and `exp` hold, its application is enabled and may
//! still use the grant, and its `jti` is not on `revoked_access_tokens`. The list holds a
//! revoked token only until it would have expired anyway.
//!
//! Existing data: the revoked, unexpired client-credentials tokens move to the list, and
//! every client-credentials row of `access_tokens` goes.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000015_revoked_access_tokens"
    }
}

#[derive(DeriveIden)]
enum RevokedAccessTokens {
    Table,
    Jti,
    ApplicationId,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RevokedAccessTokens::Table)
                    .col(string(RevokedAccessTokens::Jti).primary_key())
                    .col(uuid(RevokedAccessTokens::ApplicationId))
                    .col(big_integer(RevokedAccessTokens::ExpiresAt))
                    .col(big_integer(RevokedAccessTokens::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                RevokedAccessTokens::Table,
                                RevokedAccessTokens::ApplicationId,
                            )
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_revoked_access_tokens_expiry")
                    .table(RevokedAccessTokens::Table)
                    .col(RevokedAccessTokens::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            r#"INSERT INTO "revoked_access_tokens" ("jti", "application_id", "expires_at", "revoked_at")
               SELECT "jti", "application_id", "expires_at", "revoked_at" FROM "access_tokens"
               WHERE "user_id" IS NULL AND "revoked_at" IS NOT NULL AND "expires_at" > {now}"#
        ))
        .await?;
        db.execute_unprepared(r#"DELETE FROM "access_tokens" WHERE "user_id" IS NULL"#)
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The live client-credentials tokens were never recorded: after the way back they
        // are inactive (introspection finds no row), which is safe.
        manager
            .drop_table(Table::drop().table(RevokedAccessTokens::Table).to_owned())
            .await
    }
}
