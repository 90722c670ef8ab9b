//! The event outbox: fan-out of each event into one delivery per receiver, and the
//! bookkeeping of the attempts (claims that two instances never share, backoff, the day
//! after which a delivery is given up, Redeliver). Sending is the server's
//! (`server::deliverer`): this module never touches the network.

use super::{backchannel_logout, kind, shared_signals, webhooks};
use crate::entities::{delivery, event};
use crate::{Result, clock};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, sea_query::Expr,
};
use serde_json::Value;
use uuid::Uuid;

/// How a delivery reaches its receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// A webhook subscription: the Standard Webhooks format.
    Webhook,
    /// A Shared Signals stream: a Security Event Token pushed as in RFC 8935.
    SharedSignals,
    /// An application's back-channel logout endpoint: a logout token.
    BackchannelLogout,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::SharedSignals => "ssf",
            Self::BackchannelLogout => "backchannel-logout",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Webhook, Self::SharedSignals, Self::BackchannelLogout]
            .into_iter()
            .find(|c| c.as_str() == text)
    }
}

/// A delivery the fan-out creates.
#[derive(Clone, Debug)]
pub struct Planned {
    pub channel: Channel,
    pub destination_id: Uuid,
    pub url: String,
    pub payload: Value,
    /// Kept until its receiver resumes (a paused stream), not sent now.
    pub held: bool,
}

/// A held delivery's `next_attempt_at`: never due until released.
const HELD: i64 = i64::MAX / 2;
/// How long a worker holds a claimed delivery before another may try it (above the 10 s
/// request timeout).
const LEASE_SECS: i64 = 60;
/// After this long without success, a delivery is given up (`failed_at`).
pub const GIVE_UP_AFTER_SECS: i64 = 24 * 3600;
/// The longest wait between two attempts.
const MAX_BACKOFF_SECS: i64 = 3600;

/// Fans out up to `limit` events not yet fanned out, oldest first. Each event is claimed
/// and its deliveries written in one transaction, so that two instances never fan out the
/// same event twice. Returns how many events were fanned out.
pub async fn fan_out_due(db: &DatabaseConnection, issuer: &str, limit: u64) -> Result<usize> {
    let due = event::Entity::find()
        .filter(event::Column::DispatchedAt.is_null())
        .order_by_asc(event::Column::OccurredAt)
        .order_by_asc(event::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let mut done = 0;
    for event in due {
        let txn = crate::store::db::begin_write(db).await?;
        let now = clock::now();
        let claimed = event::Entity::update_many()
            .col_expr(event::Column::DispatchedAt, Expr::value(now))
            .filter(event::Column::Id.eq(event.id))
            .filter(event::Column::DispatchedAt.is_null())
            .exec(&txn)
            .await?;
        if claimed.rows_affected != 1 {
            continue;
        }
        for planned in plan(&txn, issuer, &event).await? {
            delivery::Entity::insert(delivery::ActiveModel {
                id: Set(crate::store::db::new_record_id()),
                event_id: Set(event.id),
                channel: Set(planned.channel.as_str().to_owned()),
                destination_id: Set(planned.destination_id),
                url: Set(planned.url),
                payload: Set(planned.payload),
                created_at: Set(now),
                attempts: Set(0),
                next_attempt_at: Set(if planned.held { HELD } else { now }),
                last_attempt_at: Set(None),
                last_status: Set(None),
                last_error: Set(None),
                delivered_at: Set(None),
                failed_at: Set(None),
            })
            .exec_without_returning(&txn)
            .await?;
        }
        txn.commit().await?;
        done += 1;
    }
    Ok(done)
}

/// Every delivery an event makes.
async fn plan(
    db: &impl ConnectionTrait,
    issuer: &str,
    event: &event::Model,
) -> Result<Vec<Planned>> {
    let organization_id = match event.organization_id {
        Some(id) => id,
        None => crate::seed::root_organization_id(db).await?,
    };
    let mut planned = Vec::new();
    if kind::SUBSCRIBABLE.contains(&event.event_type.as_str()) {
        let body = webhooks::body(event);
        for hook in webhooks::wanting(db, organization_id, &event.event_type).await? {
            planned.push(Planned {
                channel: Channel::Webhook,
                destination_id: hook.id,
                url: hook.url,
                payload: body.clone(),
                held: false,
            });
        }
    }
    planned.extend(shared_signals::plan(db, issuer, organization_id, event).await?);
    planned.extend(backchannel_logout::plan(db, issuer, event).await?);
    Ok(planned)
}

/// Claims up to `limit` deliveries that are due, each with a conditional update (two
/// workers never send the same one at once), in one write transaction.
pub async fn claim_due(db: &DatabaseConnection, limit: u64) -> Result<Vec<delivery::Model>> {
    let now = clock::now();
    let due = delivery::Entity::find()
        .filter(delivery::Column::DeliveredAt.is_null())
        .filter(delivery::Column::FailedAt.is_null())
        .filter(delivery::Column::NextAttemptAt.lte(now))
        .order_by_asc(delivery::Column::NextAttemptAt)
        .order_by_asc(delivery::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let txn = crate::store::db::begin_write(db).await?;
    let mut claimed = Vec::new();
    for d in due {
        let taken = delivery::Entity::update_many()
            .col_expr(
                delivery::Column::NextAttemptAt,
                Expr::value(now + LEASE_SECS),
            )
            .filter(delivery::Column::Id.eq(d.id))
            .filter(delivery::Column::NextAttemptAt.eq(d.next_attempt_at))
            .filter(delivery::Column::DeliveredAt.is_null())
            .filter(delivery::Column::FailedAt.is_null())
            .exec(&txn)
            .await?;
        if taken.rows_affected == 1 {
            claimed.push(d);
        }
    }
    txn.commit().await?;
    Ok(claimed)
}

/// How an attempt went.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// The receiver accepted it.
    Delivered { status: u16 },
    /// Try again later: the receiver's answer (none: no answer) and what went wrong.
    Retry { status: Option<u16>, error: String },
    /// Not worth trying again (the receiver is gone).
    GiveUp { error: String },
    /// Kept for later without counting an attempt (the stream is paused).
    Hold,
}

/// Records an attempt. A failed one is tried again after `base_secs` · 2^attempts (at
/// most an hour), until a day after the delivery was made; then it is given up.
pub async fn record(
    db: &impl ConnectionTrait,
    d: &delivery::Model,
    outcome: Outcome,
    base_secs: i64,
) -> Result<()> {
    let now = clock::now();
    let attempts = d.attempts + 1;
    let mut update = delivery::Entity::update_many()
        .filter(delivery::Column::Id.eq(d.id))
        .filter(delivery::Column::DeliveredAt.is_null());
    update = match outcome {
        Outcome::Hold => update.col_expr(delivery::Column::NextAttemptAt, Expr::value(HELD)),
        Outcome::Delivered { status } => update
            .col_expr(delivery::Column::Attempts, Expr::value(attempts))
            .col_expr(delivery::Column::LastAttemptAt, Expr::value(now))
            .col_expr(delivery::Column::LastStatus, Expr::value(i32::from(status)))
            .col_expr(
                delivery::Column::LastError,
                Expr::value(Option::<String>::None),
            )
            .col_expr(delivery::Column::DeliveredAt, Expr::value(now)),
        Outcome::Retry { status, error } => {
            let mut error = error;
            crate::text::bound(&mut error, crate::text::ECHO_LIMIT);
            let update = update
                .col_expr(delivery::Column::Attempts, Expr::value(attempts))
                .col_expr(delivery::Column::LastAttemptAt, Expr::value(now))
                .col_expr(
                    delivery::Column::LastStatus,
                    Expr::value(status.map(i32::from)),
                )
                .col_expr(delivery::Column::LastError, Expr::value(Some(error)));
            if now - d.created_at >= GIVE_UP_AFTER_SECS {
                update.col_expr(delivery::Column::FailedAt, Expr::value(now))
            } else {
                let delay = (base_secs.max(1) << attempts.clamp(0, 20)).min(MAX_BACKOFF_SECS);
                update.col_expr(delivery::Column::NextAttemptAt, Expr::value(now + delay))
            }
        }
        Outcome::GiveUp { error } => update
            .col_expr(delivery::Column::Attempts, Expr::value(attempts))
            .col_expr(delivery::Column::LastAttemptAt, Expr::value(now))
            .col_expr(delivery::Column::LastError, Expr::value(Some(error)))
            .col_expr(delivery::Column::FailedAt, Expr::value(now)),
    };
    update.exec(db).await?;
    Ok(())
}

/// Sends a delivery of `destination_id` again, now (the Console's Redeliver): it counts
/// as new, with a day of retries. Returns whether there was such a delivery.
pub async fn redeliver(db: &impl ConnectionTrait, destination_id: Uuid, id: Uuid) -> Result<bool> {
    let now = clock::now();
    let done = delivery::Entity::update_many()
        .col_expr(
            delivery::Column::DeliveredAt,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(delivery::Column::FailedAt, Expr::value(Option::<i64>::None))
        .col_expr(delivery::Column::NextAttemptAt, Expr::value(now))
        .col_expr(delivery::Column::CreatedAt, Expr::value(now))
        .filter(delivery::Column::Id.eq(id))
        .filter(delivery::Column::DestinationId.eq(destination_id))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Gives up what is still on its way to a receiver that is gone.
pub async fn give_up_pending(
    db: &impl ConnectionTrait,
    destination_id: Uuid,
    why: &str,
) -> Result<()> {
    delivery::Entity::update_many()
        .col_expr(delivery::Column::FailedAt, Expr::value(clock::now()))
        .col_expr(
            delivery::Column::LastError,
            Expr::value(Some(why.to_owned())),
        )
        .filter(delivery::Column::DestinationId.eq(destination_id))
        .filter(delivery::Column::DeliveredAt.is_null())
        .filter(delivery::Column::FailedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Sends what was held for a receiver that resumes, in the order it was made.
pub async fn release_held(db: &impl ConnectionTrait, destination_id: Uuid) -> Result<()> {
    delivery::Entity::update_many()
        .col_expr(delivery::Column::NextAttemptAt, Expr::value(clock::now()))
        .filter(delivery::Column::DestinationId.eq(destination_id))
        .filter(delivery::Column::NextAttemptAt.eq(HELD))
        .exec(db)
        .await?;
    Ok(())
}

/// How long fanned-out events and finished deliveries (delivered or given up) are kept.
pub const RETENTION_SECS: i64 = 30 * 24 * 3600;

/// Removes fanned-out events and finished deliveries older than [`RETENTION_SECS`], so
/// that the outbox does not grow without end. Returns how many rows went.
pub async fn prune(db: &DatabaseConnection) -> Result<u64> {
    let before = clock::now() - RETENTION_SECS;
    let txn = crate::store::db::begin_write(db).await?;
    let events = event::Entity::delete_many()
        .filter(event::Column::DispatchedAt.lt(before))
        .exec(&txn)
        .await?;
    let finished = sea_orm::Condition::any()
        .add(delivery::Column::DeliveredAt.lt(before))
        .add(delivery::Column::FailedAt.lt(before));
    let deliveries = delivery::Entity::delete_many()
        .filter(finished)
        .exec(&txn)
        .await?;
    // Kept for a paused stream for a day at most, like any other delivery.
    delivery::Entity::update_many()
        .col_expr(delivery::Column::FailedAt, Expr::value(clock::now()))
        .col_expr(
            delivery::Column::LastError,
            Expr::value(Some("The stream stayed paused for a day.".to_owned())),
        )
        .filter(delivery::Column::NextAttemptAt.eq(HELD))
        .filter(delivery::Column::CreatedAt.lt(clock::now() - GIVE_UP_AFTER_SECS))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(events.rows_affected + deliveries.rows_affected)
}

/// A delivery's state, as the delivery log shows it.
pub fn status(d: &delivery::Model) -> &'static str {
    match (d.delivered_at, d.failed_at, d.next_attempt_at) {
        (Some(_), _, _) => "delivered",
        (None, Some(_), _) => "failed",
        (None, None, HELD) => "held",
        (None, None, _) if d.attempts > 0 => "retrying",
        _ => "pending",
    }
}
