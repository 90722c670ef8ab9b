//! Mail: templates with placeholders, and the outbox. A mail is written to the outbox in
//! the transaction of the event that causes it, so it is never lost and never sent for an
//! event that did not happen; a worker (in the server) sends it and retries with backoff.

use crate::entities::{email_template, outbox_mail};
use crate::{Result, clock};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};
use uuid::Uuid;

/// WSO2's template type of the impersonation notification.
pub const IMPERSONATION_NOTIFICATION: &str = "ImpersonationEmailNotification";
/// The template type of the mail asking a user to decide an impersonation request.
pub const IMPERSONATION_REQUEST: &str = "ImpersonationRequestEmailNotification";
/// Every template type, with its display name.
pub const KINDS: &[(&str, &str)] = &[
    (
        IMPERSONATION_NOTIFICATION,
        "Impersonation Email Notification",
    ),
    (
        IMPERSONATION_REQUEST,
        "Impersonation Request Email Notification",
    ),
];
/// The locale used when none is asked for.
pub const DEFAULT_LOCALE: &str = "en_US";

/// A template: subject, HTML and text bodies with `{{placeholder}}`s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// The built-in impersonation notification.
pub fn default_impersonation_template() -> Template {
    Template {
        subject: "User Impersonation Session Started".to_owned(),
        html: "<p>Hi {{user-name}},</p>\
               <p>At {{login-time}}, <strong>{{impersonator-user-name}}</strong> started a session \
               acting as you (user impersonation).</p>\
               <p>If you did not expect this, contact your administrator. You can see every access \
               to your account under Access history in My Account.</p>"
            .to_owned(),
        text:
            "Hi {{user-name}},\n\nAt {{login-time}}, {{impersonator-user-name}} started a session \
               acting as you (user impersonation).\n\nIf you did not expect this, contact your \
               administrator. You can see every access to your account under Access history in My \
               Account.\n"
                .to_owned(),
    }
}

/// The built-in request for a decision on an impersonation request.
pub fn default_request_template() -> Template {
    Template {
        subject: "Someone asks to access your account".to_owned(),
        html: "<p>Hi {{user-name}},</p>\
               <p><strong>{{impersonator-user-name}}</strong> asks to act as you (user \
               impersonation), {{mode}}, for up to {{duration-minutes}} minutes.</p>\
               <p>Reason: {{reason}}<br>Ticket: {{ticket}}</p>\
               <p>Approve or deny it in My Account, under Access requests, before {{decide-by}}: \
               <a href=\"{{access-requests-url}}\">{{access-requests-url}}</a></p>\
               <p>Nothing happens unless you approve it.</p>"
            .to_owned(),
        text: "Hi {{user-name}},\n\n{{impersonator-user-name}} asks to act as you (user \
               impersonation), {{mode}}, for up to {{duration-minutes}} minutes.\n\n\
               Reason: {{reason}}\nTicket: {{ticket}}\n\n\
               Approve or deny it in My Account, under Access requests, before {{decide-by}}:\n\
               {{access-requests-url}}\n\nNothing happens unless you approve it.\n"
            .to_owned(),
    }
}

/// The built-in template of a type.
pub fn default_template(kind: &str) -> Template {
    match kind {
        IMPERSONATION_REQUEST => default_request_template(),
        _ => default_impersonation_template(),
    }
}

/// [`template`], kept while nothing changes (`crate::store::cache`).
pub async fn template_cached(
    reads: &crate::store::cache::Reads<'_>,
    organization_id: Uuid,
    kind: &str,
    locale: &str,
) -> Result<Template> {
    struct Templates;
    impl crate::store::cache::Kind for Templates {
        type Key = (Uuid, String, String);
        type Value = Template;
    }
    let key = (organization_id, kind.to_owned(), locale.to_owned());
    let load = template(reads.db(), organization_id, kind, locale);
    reads.remembered::<Templates>(key, load).await
}

/// The template an organization uses (its own, or the built-in one).
pub async fn template(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    kind: &str,
    locale: &str,
) -> Result<Template> {
    let stored =
        email_template::Entity::find_by_id((organization_id, kind.to_owned(), locale.to_owned()))
            .one(db)
            .await?;
    Ok(match stored {
        Some(t) => Template {
            subject: t.subject,
            html: t.html,
            text: t.text,
        },
        None => default_template(kind),
    })
}

/// Fills `{{name}}` placeholders. Values are HTML-escaped in the HTML body only.
pub fn render(template: &Template, values: &[(&str, &str)]) -> Template {
    let fill = |text: &str, escape: bool| {
        let mut out = text.to_owned();
        for (name, value) in values {
            let value = if escape {
                crate::html::escape(value)
            } else {
                (*value).to_owned()
            };
            out = out.replace(&format!("{{{{{name}}}}}"), &value);
        }
        out
    };
    Template {
        subject: fill(&template.subject, false),
        html: fill(&template.html, true),
        text: fill(&template.text, false),
    }
}

/// Puts a mail in the outbox, as part of a batch of writes (run it in the event's
/// transaction).
pub fn enqueue_in(batch: &mut crate::store::db::Batch, recipient: &str, mail: &Template) -> Uuid {
    let id = crate::store::db::new_record_id();
    let now = clock::now();
    batch.push(&outbox_mail::Entity::insert(outbox_mail::ActiveModel {
        id: Set(id),
        recipient: Set(recipient.to_owned()),
        subject: Set(mail.subject.clone()),
        html: Set(mail.html.clone()),
        text: Set(mail.text.clone()),
        created_at: Set(now),
        attempts: Set(0),
        next_attempt_at: Set(now),
        sent_at: Set(None),
        last_error: Set(None),
    }));
    id
}

/// How long a worker holds a claimed mail before another may try it.
const LEASE_SECS: i64 = 60;

/// Claims up to `limit` mails that are due: each claim is a conditional update, so two
/// workers (two server instances) never send the same mail at once. The claims are one
/// write transaction that queues with the process's other writers (SQLite's busy handler
/// would leave the worker sleeping while exchanges keep writing).
pub async fn claim_due(
    db: &sea_orm::DatabaseConnection,
    limit: u64,
) -> Result<Vec<outbox_mail::Model>> {
    let now = clock::now();
    let due = outbox_mail::Entity::find()
        .filter(outbox_mail::Column::SentAt.is_null())
        .filter(outbox_mail::Column::NextAttemptAt.lte(now))
        .order_by_asc(outbox_mail::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let txn = crate::store::db::begin_write(db).await?;
    let mut claimed = Vec::new();
    for mail in due {
        let taken = outbox_mail::Entity::update_many()
            .col_expr(
                outbox_mail::Column::NextAttemptAt,
                Expr::value(now + LEASE_SECS),
            )
            .filter(outbox_mail::Column::Id.eq(mail.id))
            .filter(outbox_mail::Column::NextAttemptAt.eq(mail.next_attempt_at))
            .filter(outbox_mail::Column::SentAt.is_null())
            .exec(&txn)
            .await?;
        if taken.rows_affected == 1 {
            claimed.push(mail);
        }
    }
    txn.commit().await?;
    Ok(claimed)
}

/// Records a successful send.
pub async fn mark_sent(db: &impl ConnectionTrait, id: Uuid) -> Result<()> {
    outbox_mail::Entity::update_many()
        .col_expr(outbox_mail::Column::SentAt, Expr::value(clock::now()))
        .col_expr(
            outbox_mail::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .filter(outbox_mail::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Records a failed attempt; the next one comes after an exponential backoff
/// (`base_secs` · 2^attempts, at most five minutes).
pub async fn mark_failed(
    db: &impl ConnectionTrait,
    mail: &outbox_mail::Model,
    error: &str,
    base_secs: i64,
) -> Result<()> {
    let attempts = mail.attempts + 1;
    let delay = (base_secs << attempts.min(16)).min(300);
    outbox_mail::Entity::update_many()
        .col_expr(outbox_mail::Column::Attempts, Expr::value(attempts))
        .col_expr(
            outbox_mail::Column::NextAttemptAt,
            Expr::value(clock::now() + delay),
        )
        .col_expr(
            outbox_mail::Column::LastError,
            Expr::value(Some(error.to_owned())),
        )
        .filter(outbox_mail::Column::Id.eq(mail.id))
        .exec(db)
        .await?;
    Ok(())
}

/// Stores an organization's version of a template for a locale.
pub async fn set_template(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    kind: &str,
    locale: &str,
    template: &Template,
) -> Result<()> {
    use sea_orm::sea_query::OnConflict;
    email_template::Entity::insert(email_template::ActiveModel {
        organization_id: Set(organization_id),
        template_type: Set(kind.to_owned()),
        locale: Set(locale.to_owned()),
        subject: Set(template.subject.clone()),
        html: Set(template.html.clone()),
        text: Set(template.text.clone()),
        updated_at: Set(clock::now()),
    })
    .on_conflict(
        OnConflict::columns([
            email_template::Column::OrganizationId,
            email_template::Column::TemplateType,
            email_template::Column::Locale,
        ])
        .update_columns([
            email_template::Column::Subject,
            email_template::Column::Html,
            email_template::Column::Text,
            email_template::Column::UpdatedAt,
        ])
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Back to the built-in template. Returns whether there was a custom one.
pub async fn reset_template(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    kind: &str,
    locale: &str,
) -> Result<bool> {
    let removed =
        email_template::Entity::delete_by_id((organization_id, kind.to_owned(), locale.to_owned()))
            .exec(db)
            .await?;
    Ok(removed.rows_affected == 1)
}

/// The placeholders a template type offers.
pub fn placeholders(kind: &str) -> &'static [&'static str] {
    match kind {
        IMPERSONATION_NOTIFICATION => &["user-name", "login-time", "impersonator-user-name"],
        IMPERSONATION_REQUEST => &[
            "user-name",
            "impersonator-user-name",
            "reason",
            "ticket",
            "mode",
            "duration-minutes",
            "decide-by",
            "access-requests-url",
        ],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_escaped_in_html_only() {
        let mail = render(
            &default_impersonation_template(),
            &[
                ("user-name", "Kim"),
                ("login-time", "now"),
                ("impersonator-user-name", "<b>Eve</b>"),
            ],
        );
        assert_eq!(mail.subject, "User Impersonation Session Started");
        assert!(mail.html.contains("&lt;b&gt;Eve&lt;/b&gt;"));
        assert!(!mail.html.contains("<b>Eve</b>"));
        assert!(mail.text.contains("<b>Eve</b> started"));
        assert!(!mail.html.contains("{{"));
    }
}
