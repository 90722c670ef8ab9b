//! API resources and their scopes, and which scopes each application is authorized for
//! (WSO2's "authorized APIs", policy RBAC).

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000003_api_resources"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiResources::Table)
                    .col(pk_uuid(ApiResources::Id))
                    .col(string(ApiResources::Name))
                    .col(string(ApiResources::Identifier))
                    .col(string(ApiResources::Description).default(""))
                    .col(boolean(ApiResources::System).default(false))
                    .col(big_integer(ApiResources::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_api_resources_identifier")
                    .table(ApiResources::Table)
                    .col(ApiResources::Identifier)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiScopes::Table)
                    .col(string(ApiScopes::Name).primary_key())
                    .col(uuid(ApiScopes::ResourceId))
                    .col(string(ApiScopes::DisplayName))
                    .col(string(ApiScopes::Description).default(""))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiScopes::Table, ApiScopes::ResourceId)
                            .to(ApiResources::Table, ApiResources::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuthorizedScopes::Table)
                    .col(uuid(AuthorizedScopes::ApplicationId))
                    .col(uuid(AuthorizedScopes::ResourceId))
                    .col(string(AuthorizedScopes::Scope))
                    .col(big_integer(AuthorizedScopes::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(AuthorizedScopes::ApplicationId)
                            .col(AuthorizedScopes::Scope),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AuthorizedScopes::Table, AuthorizedScopes::ApplicationId)
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AuthorizedScopes::Table, AuthorizedScopes::ResourceId)
                            .to(ApiResources::Table, ApiResources::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuthorizedScopes::Table.into_iden(),
            ApiScopes::Table.into_iden(),
            ApiResources::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ApiResources {
    Table,
    Id,
    Name,
    Identifier,
    Description,
    System,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiScopes {
    Table,
    Name,
    ResourceId,
    DisplayName,
    Description,
}

#[derive(DeriveIden)]
enum AuthorizedScopes {
    Table,
    ApplicationId,
    ResourceId,
    Scope,
    CreatedAt,
}
