//! The mail worker: sends what the outbox holds, through SMTP (`IDP_SMTP_URL`, e.g.
//! `smtp://user:pw@host:587?tls=required`, `smtps://…`) or, without one, as `.eml` files in
//! `<data dir>/mail`. A failed send is retried with exponential backoff; nothing is lost
//! while the SMTP server is down.

use crate::config::Config;
use anyhow::Context;
use identity::DatabaseConnection;
use identity::entities::outbox_mail;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// Where mail goes.
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

impl Transport {
    /// From the configuration: SMTP when `IDP_SMTP_URL` is set, files otherwise.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        match &config.smtp_url {
            Some(url) => Ok(Self::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .context("IDP_SMTP_URL is not a valid SMTP URL")?
                    .timeout(Some(Duration::from_secs(10)))
                    .build(),
            )),
            None => {
                let dir = config.data_dir.join("mail");
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                Ok(Self::Files(AsyncFileTransport::new(dir)))
            }
        }
    }

    async fn send(&self, message: Message) -> Result<(), String> {
        match self {
            Self::Smtp(smtp) => smtp
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Self::Files(files) => files
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        }
    }
}

/// Whether the SMTP server at `url` answers (connects and greets; `server check`).
pub async fn reachable(url: &str) -> Result<(), String> {
    let transport: AsyncSmtpTransport<Tokio1Executor> =
        AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("not a valid SMTP URL: {e}"))?
            .timeout(Some(Duration::from_secs(10)))
            .build();
    match transport.test_connection().await {
        Ok(true) => Ok(()),
        Ok(false) => Err("it did not answer".to_owned()),
        Err(error) => Err(error.to_string()),
    }
}

fn message(from: &Mailbox, mail: &outbox_mail::Model) -> Result<Message, String> {
    let to: Mailbox = mail
        .recipient
        .parse()
        .map_err(|e| format!("recipient: {e}"))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| e.to_string())
}

/// Sends due mail every second until the task is aborted.
pub async fn run(db: DatabaseConnection, transport: Transport, from: Mailbox, retry_secs: i64) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        every.tick().await;
        let due = match identity::mail::claim_due(&db, 20).await {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!("reading the outbox failed: {error}");
                continue;
            }
        };
        for mail in due {
            let sent = match message(&from, &mail) {
                Ok(message) => transport.send(message).await,
                Err(error) => Err(error),
            };
            let recorded = record_outcome(&db, &mail, &sent, retry_secs).await;
            match (sent, recorded) {
                (Ok(()), Ok(())) => tracing::info!(mail_id = %mail.id, "mail sent"),
                (Err(error), _) => {
                    tracing::warn!(mail_id = %mail.id, attempt = mail.attempts + 1, "mail not sent, will retry: {error}")
                }
                (_, Err(error)) => {
                    tracing::error!(mail_id = %mail.id, "recording a mail's outcome failed: {error}")
                }
            }
        }
    }
}

/// Records how sending went, as a write transaction queued with the process's others.
async fn record_outcome(
    db: &DatabaseConnection,
    mail: &outbox_mail::Model,
    sent: &Result<(), String>,
    retry_secs: i64,
) -> identity::Result<()> {
    let txn = identity::store::db::begin_write(db).await?;
    match sent {
        Ok(()) => identity::mail::mark_sent(&txn, mail.id).await?,
        Err(error) => identity::mail::mark_failed(&txn, mail, error, retry_secs).await?,
    }
    txn.commit().await?;
    Ok(())
}
