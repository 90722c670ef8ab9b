//! ES256 and EdDSA beside RS256 (issue 16). An application chooses what signs its ID tokens
//! and its access tokens; existing applications keep RS256. The keys of the new algorithms
//! are made by the server at its first start on this schema (`identity::keys`), not here.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000016_signing_algorithms"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [
            Applications::IdTokenSignedResponseAlg,
            Applications::AccessTokenSignedResponseAlg,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Applications::Table)
                        .add_column(string(column).default("RS256"))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Applications::AccessTokenSignedResponseAlg,
            Applications::IdTokenSignedResponseAlg,
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
        // The version before knows RSA keys only, and would not start beside others. What
        // they signed stops verifying, as a removed key's tokens do.
        manager
            .get_connection()
            .execute_unprepared(r#"DELETE FROM "signing_keys" WHERE "algorithm" <> 'RS256'"#)
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    IdTokenSignedResponseAlg,
    AccessTokenSignedResponseAlg,
}
