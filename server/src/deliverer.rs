//! The event delivery worker: fans new events out (`identity::events::outbox`) and sends
//! the deliveries that are due, each in its receiver's format:
//!
//! - webhooks: the Standard Webhooks headers and JSON body, signed with the subscription's
//!   secret;
//! - Shared Signals streams: the Security Event Token, signed with our keys, pushed as in
//!   RFC 8935 (`application/secevent+jwt`);
//! - back-channel logout: the logout token, signed at each attempt (it lives two
//!   minutes), posted as `logout_token`.
//!
//! Every request goes only where `Outbound` allows (checked on the URL, and on every
//! address its name resolves to, so a name cannot be pointed inside later), follows no
//! redirect, and gives up after 10 s. A failure is retried with backoff for a day.

use identity::DatabaseConnection;
use identity::entities::delivery;
use identity::entities::{ssf_stream, webhook};
use identity::events::outbox::{self, Channel, Outcome};
use identity::events::webhooks::Outbound;
use identity::events::{backchannel_logout, shared_signals, webhooks};
use identity::keys::KeyStore;
use sea_orm::EntityTrait;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How many deliveries are on their way at once.
const IN_FLIGHT: usize = 32;
/// How long a receiver has to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What the worker needs.
#[derive(Clone)]
pub struct Deliverer {
    pub db: DatabaseConnection,
    pub keys: Arc<KeyStore>,
    pub issuer: String,
    pub outbound: Outbound,
    pub retry_secs: i64,
    client: reqwest::Client,
}

/// Resolves names for the HTTP client, keeping only the addresses `Outbound` allows.
struct CheckedResolver(Outbound);

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let outbound = self.0;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| outbound.address_allowed(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(
                    format!("{} has no address the server may send to", name.as_str()).into(),
                );
            }
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

impl Deliverer {
    pub fn new(
        db: DatabaseConnection,
        keys: Arc<KeyStore>,
        issuer: String,
        outbound: Outbound,
        retry_secs: i64,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            // A proxy from the environment would resolve names itself, past the check.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .dns_resolver(Arc::new(CheckedResolver(outbound)))
            .user_agent("identity-server-events/1")
            .build()?;
        Ok(Self {
            db,
            keys,
            issuer,
            outbound,
            retry_secs,
            client,
        })
    }

    /// Fans out and sends every second until the task is aborted; prunes what is older
    /// than the retention once an hour, and the records of used-up tokens that expired.
    pub async fn run(self) {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        let mut pruned_at = tokio::time::Instant::now();
        let mut sending = tokio::task::JoinSet::new();
        loop {
            every.tick().await;
            if pruned_at.elapsed() >= Duration::from_secs(3600) {
                pruned_at = tokio::time::Instant::now();
                match outbox::prune(&self.db).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(rows = n, "old events and deliveries removed"),
                    Err(error) => tracing::warn!("pruning the event outbox failed: {error}"),
                }
                match identity::store::group_commit::prune_expired(&self.db).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(rows = n, "expired single-use token records removed"),
                    Err(error) => tracing::warn!("pruning used-up tokens failed: {error}"),
                }
            }
            if let Err(error) = outbox::fan_out_due(&self.db, &self.issuer, 100).await {
                tracing::warn!("fanning out events failed: {error}");
            }
            // Sending goes on across ticks: a receiver that hangs holds one of the
            // places for its 10 s, never the others' turn.
            while sending.try_join_next().is_some() {}
            let free = IN_FLIGHT.saturating_sub(sending.len());
            if free == 0 {
                continue;
            }
            let due = match outbox::claim_due(&self.db, free as u64).await {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!("reading the event outbox failed: {error}");
                    continue;
                }
            };
            for d in due {
                let this = self.clone();
                sending.spawn(async move { this.deliver(d).await });
            }
        }
    }

    async fn deliver(&self, d: delivery::Model) {
        let outcome = match self.attempt(&d).await {
            Ok(outcome) => outcome,
            Err(error) => Outcome::Retry {
                status: None,
                error: format!("{error:#}"),
            },
        };
        match &outcome {
            Outcome::Delivered { status } => {
                tracing::info!(delivery_id = %d.id, channel = %d.channel, status, "event delivered")
            }
            Outcome::Retry { error, .. } | Outcome::GiveUp { error } => {
                tracing::warn!(delivery_id = %d.id, channel = %d.channel, attempt = d.attempts + 1, "event not delivered: {error}")
            }
            Outcome::Hold => {}
        }
        if let Err(error) = self.record(&d, outcome).await {
            tracing::error!(delivery_id = %d.id, "recording a delivery's outcome failed: {error}");
        }
    }

    /// Where a delivery goes now: its webhook's, stream's or application's current
    /// address; `Err` when its receiver is gone (or no longer allowed to receive).
    async fn current_url(&self, d: &delivery::Model) -> anyhow::Result<Result<String, Outcome>> {
        let id = d.destination_id;
        Ok(match Channel::parse(&d.channel) {
            Some(Channel::Webhook) => match webhook::Entity::find_by_id(id).one(&self.db).await? {
                Some(hook) => Ok(hook.url),
                None => Err(gone("The webhook was deleted.")),
            },
            Some(Channel::SharedSignals) => {
                match ssf_stream::Entity::find_by_id(id).one(&self.db).await? {
                    Some(stream) if shared_signals::receiver_allowed(&self.db, &stream).await? => {
                        Ok(stream.endpoint_url)
                    }
                    Some(_) => Err(gone(
                        "The receiver application is gone or no longer authorized.",
                    )),
                    None => Err(gone("The stream was deleted.")),
                }
            }
            Some(Channel::BackchannelLogout) => {
                match identity::applications::find(&self.db, id).await? {
                    Some(app) if app.enabled => match app.backchannel_logout_uri {
                        Some(url) => Ok(url),
                        None => Err(gone("The application no longer takes logout tokens.")),
                    },
                    _ => Err(gone("The application is gone or disabled.")),
                }
            }
            None => Err(gone("Unknown channel.")),
        })
    }

    /// Records an attempt, as a write transaction queued with the process's others.
    async fn record(&self, d: &delivery::Model, outcome: Outcome) -> identity::Result<()> {
        let txn = identity::store::db::begin_write(&self.db).await?;
        outbox::record(&txn, d, outcome, self.retry_secs).await?;
        txn.commit().await?;
        Ok(())
    }

    /// One attempt: the request in the receiver's format, sent.
    /// Each goes to its receiver's current address (a receiver that moved gets what was
    /// still on its way there, not at its old address).
    async fn attempt(&self, d: &delivery::Model) -> anyhow::Result<Outcome> {
        let now = identity::clock::now();
        let url = match self.current_url(d).await? {
            Ok(url) => url,
            Err(gone) => return Ok(gone),
        };
        if let Err(why) = self.outbound.check_url(&url) {
            return Ok(Outcome::GiveUp { error: why });
        }
        let request = match Channel::parse(&d.channel) {
            Some(Channel::Webhook) => {
                let Some(hook) = webhook::Entity::find_by_id(d.destination_id)
                    .one(&self.db)
                    .await?
                else {
                    return Ok(gone("The webhook was deleted."));
                };
                if !hook.enabled {
                    return Ok(gone("The webhook is disabled."));
                }
                let body = serde_json::to_string(&d.payload)?;
                let id = d.event_id.to_string();
                let signature =
                    webhooks::signature(&webhooks::signing_secrets(&hook, now), &id, now, &body);
                self.client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("webhook-id", id)
                    .header("webhook-timestamp", now.to_string())
                    .header("webhook-signature", signature)
                    .body(body)
            }
            Some(Channel::SharedSignals) => {
                let Some(stream) = ssf_stream::Entity::find_by_id(d.destination_id)
                    .one(&self.db)
                    .await?
                else {
                    return Ok(gone("The stream was deleted."));
                };
                match stream.status.as_str() {
                    shared_signals::status::PAUSED => return Ok(Outcome::Hold),
                    shared_signals::status::DISABLED => return Ok(gone("The stream is disabled.")),
                    _ => {}
                }
                let token = self.keys.sign(shared_signals::TOKEN_TYPE, &d.payload)?;
                let mut request = self
                    .client
                    .post(&url)
                    .header("content-type", "application/secevent+jwt")
                    .header("accept", "application/json")
                    .body(token);
                if let Some(authorization) = &stream.authorization_header {
                    request = request.header("authorization", authorization);
                }
                request
            }
            Some(Channel::BackchannelLogout) => {
                let claims = backchannel_logout::claims_at(&d.payload, now);
                // Signed like the application's ID tokens (Back-Channel Logout 1.0 §2.4).
                let alg = identity::applications::find(&self.db, d.destination_id)
                    .await?
                    .map_or(identity::keys::SigningAlg::DEFAULT, |app| {
                        app.id_token_alg()
                    });
                let token = self
                    .keys
                    .sign_with(alg, backchannel_logout::TOKEN_TYPE, &claims)?;
                let body = form_urlencoded::Serializer::new(String::new())
                    .append_pair("logout_token", &token)
                    .finish();
                self.client
                    .post(&url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("cache-control", "no-store")
                    .body(body)
            }
            None => return Ok(gone("Unknown channel.")),
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                return Ok(Outcome::Retry {
                    status: None,
                    error: describe(&error),
                });
            }
        };
        let status = response.status();
        Ok(if status.is_success() {
            Outcome::Delivered {
                status: status.as_u16(),
            }
        } else {
            let error = if status.is_redirection() {
                format!("HTTP {status}: redirects are not followed")
            } else {
                format!("HTTP {status}")
            };
            Outcome::Retry {
                status: Some(status.as_u16()),
                error,
            }
        })
    }
}

fn gone(why: &str) -> Outcome {
    Outcome::GiveUp {
        error: why.to_owned(),
    }
}

/// A send error in a line: a timeout, or the innermost cause (a refused connection, a
/// name with no address the server may send to).
fn describe(error: &reqwest::Error) -> String {
    use std::error::Error;
    if error.is_timeout() {
        return "no answer within 10 s".to_owned();
    }
    let mut innermost: &dyn Error = error;
    while let Some(inner) = innermost.source() {
        innermost = inner;
    }
    match error.is_connect() {
        true => format!("could not connect: {innermost}"),
        false => format!("could not send: {innermost}"),
    }
}
