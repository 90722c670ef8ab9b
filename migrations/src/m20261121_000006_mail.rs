//! Mail: the outbox (written in the transaction of the event that causes the mail, sent by
//! a worker with retries) and editable email templates per organization and locale.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000006_mail"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .col(pk_uuid(Outbox::Id))
                    .col(string(Outbox::Recipient))
                    .col(text(Outbox::Subject))
                    .col(text(Outbox::Html))
                    .col(text(Outbox::Text))
                    .col(big_integer(Outbox::CreatedAt))
                    .col(integer(Outbox::Attempts).default(0))
                    .col(big_integer(Outbox::NextAttemptAt))
                    .col(big_integer_null(Outbox::SentAt))
                    .col(text_null(Outbox::LastError))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_outbox_due")
                    .table(Outbox::Table)
                    .col(Outbox::SentAt)
                    .col(Outbox::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EmailTemplates::Table)
                    .col(uuid(EmailTemplates::OrganizationId))
                    .col(string(EmailTemplates::TemplateType))
                    .col(string(EmailTemplates::Locale))
                    .col(text(EmailTemplates::Subject))
                    .col(text(EmailTemplates::Html))
                    .col(text(EmailTemplates::Text))
                    .col(big_integer(EmailTemplates::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(EmailTemplates::OrganizationId)
                            .col(EmailTemplates::TemplateType)
                            .col(EmailTemplates::Locale),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EmailTemplates::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Outbox::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    Recipient,
    Subject,
    Html,
    Text,
    CreatedAt,
    Attempts,
    NextAttemptAt,
    SentAt,
    LastError,
}

#[derive(DeriveIden)]
enum EmailTemplates {
    Table,
    OrganizationId,
    TemplateType,
    Locale,
    Subject,
    Html,
    Text,
    UpdatedAt,
}
