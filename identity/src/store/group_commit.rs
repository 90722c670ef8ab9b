//! Using up single-use tokens (subject tokens) together with the writes that depend on
//! them, committed in groups.
//!
//! Every token exchange ends with a short write transaction: use the subject token up, and
//! record what the exchange issued. Writers of one database take turns, and each turn
//! costs a `BEGIN`, a `COMMIT` and a flush to disk. [`Committer`] runs the turns of
//! requests that arrive while another is committing as one: one transaction uses up all
//! their tokens in one statement, writes the records of those whose token was fresh (a
//! round trip each), and commits once. Each request still learns its own outcome, and
//! nothing is answered before its group is durable. A group that fails (or panics) fails
//! its own requests only.
//!
//! Under load a group also waits a little for more: while every worker of the Tokio runtime
//! stays busy (exchanges are on their way, and waiting leaves no core idle), for at most
//! [`MAX_WAIT`]. Most of a commit's cost is per transaction (a page per table and index,
//! the flush), so bigger groups make each exchange cheaper. As soon as a worker has
//! nothing to do, the group commits; a lone exchange does not wait.
//!
//! Single use holds across requests, groups and server instances: the primary key of
//! `consumed_tokens` decides, and within one group the first request naming a token wins.

use crate::entities::consumed_token;
use crate::store::db::Batch;
use crate::{Result, clock};
use sea_orm::sea_query::{InsertStatement, OnConflict, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tracing::Instrument;

/// At most this many requests share one transaction.
const MAX_GROUP: usize = 64;

/// The longest a group waits for exchanges under way.
pub const MAX_WAIT: Duration = Duration::from_millis(5);

/// While waiting, how often to look again whether enough exchanges are still under way
/// (a request arriving ends each look at once).
const WAIT_STEP: Duration = Duration::from_micros(500);

/// What became of a token and its writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The token was fresh: it is used up now, and the writes are made.
    Written,
    /// The token had been used already; nothing was written.
    AlreadyUsed,
    /// The token was fresh and is used up now, but the condition of the writes was not met
    /// (`Batch::only_if`); nothing else was written.
    Unmet,
}

/// A token to use up.
#[derive(Clone, Debug)]
pub struct Token {
    pub jti: String,
    /// What kind of token it is (`subject_token`).
    pub kind: &'static str,
    /// When the token expires anyway (the record can go after that).
    pub expires_at: i64,
}

struct Request {
    token: Token,
    writes: Batch,
    answer: oneshot::Sender<std::result::Result<Outcome, String>>,
}

/// Commits single-use tokens and their writes, in groups; one per database, shared.
pub struct Committer {
    requests: flume::Sender<Request>,
}

/// How the committer commits: on an SQLite file, with a direct connection on its own
/// thread (`crate::store::direct`: no hand-offs to sqlx's connection thread); otherwise
/// through the pool, in a task on the Tokio runtime it was started on.
enum Writer {
    Direct(crate::store::direct::Connection),
    Pool(DatabaseConnection, tokio::runtime::Handle),
}

impl Committer {
    /// Starts committing for `db` on a thread of its own (which ends when the committer
    /// is dropped). Call it inside a Tokio runtime.
    pub fn start(db: DatabaseConnection) -> Self {
        let (requests, queue) = flume::unbounded();
        let writer = match crate::store::direct::beside(&db, "committing through the pool") {
            Some(connection) => Writer::Direct(connection),
            None => Writer::Pool(db, tokio::runtime::Handle::current()),
        };
        let gathering = Gathering {
            runtime: tokio::runtime::Handle::current().metrics(),
        };
        std::thread::Builder::new()
            .name("single-use".into())
            .spawn(move || commit_groups(writer, &queue, &gathering))
            .expect("a thread for the single-use committer");
        Self { requests }
    }

    /// Uses `token` up and, if it was fresh and the condition of `writes` (if any) is met,
    /// makes `writes`, in one transaction.
    pub async fn use_up(&self, token: Token, writes: Batch) -> Result<Outcome> {
        let (answer, outcome) = oneshot::channel();
        self.requests
            .send(Request {
                token,
                writes,
                answer,
            })
            .map_err(|_| anyhow::anyhow!("the single-use committer has stopped"))?;
        let outcome = outcome
            .await
            .map_err(|_| anyhow::anyhow!("the single-use commit was abandoned"))?;
        outcome.map_err(|error| anyhow::anyhow!("committing a single-use token: {error}").into())
    }
}

/// When a group has gathered enough.
struct Gathering {
    /// The runtime the exchanges run on: while all its workers are busy, more exchanges
    /// are on their way (and waiting for them costs no idle core).
    runtime: tokio::runtime::RuntimeMetrics,
}

impl Gathering {
    /// The next group: the first request to arrive, those queued behind it, and those that
    /// arrive while waiting is worth it. `None` once the committer is dropped.
    fn next_group(&self, queue: &flume::Receiver<Request>) -> Option<Vec<Request>> {
        let mut group = vec![queue.recv().ok()?];
        let started = Instant::now();
        let parks = self.parks();
        loop {
            let room = MAX_GROUP - group.len();
            group.extend(queue.try_iter().take(room));
            let Some(wait) = self.wait(group.len(), started, &parks) else {
                return Some(group);
            };
            match queue.recv_timeout(wait) {
                Ok(request) => group.push(request),
                Err(flume::RecvTimeoutError::Timeout) => {}
                Err(flume::RecvTimeoutError::Disconnected) => return Some(group),
            }
        }
    }

    /// How long to wait for more: while the group has room, the wait is short, and every
    /// worker of the runtime has stayed busy since it began (a worker with nothing to do
    /// means nothing more is coming soon, and the group had better commit).
    fn wait(&self, size: usize, started: Instant, parks: &[u64]) -> Option<Duration> {
        let left = MAX_WAIT.checked_sub(started.elapsed())?;
        let busy = parks.iter().enumerate().all(|(worker, parks)| {
            let now = self.runtime.worker_park_unpark_count(worker);
            // Even: working now; unchanged: has not parked since the wait began.
            now.is_multiple_of(2) && now == *parks
        });
        (size < MAX_GROUP && busy && !left.is_zero()).then(|| left.min(WAIT_STEP))
    }

    fn parks(&self) -> Vec<u64> {
        (0..self.runtime.num_workers())
            .map(|worker| self.runtime.worker_park_unpark_count(worker))
            .collect()
    }
}

fn commit_groups(mut writer: Writer, queue: &flume::Receiver<Request>, gathering: &Gathering) {
    while let Some(requests) = gathering.next_group(queue) {
        metrics::histogram!("group_commit_size").record(requests.len() as f64);
        let span = tracing::info_span!("db.group_commit", size = requests.len());
        let _entered = span.enter();
        match &mut writer {
            Writer::Direct(connection) => {
                // A panic abandons this group's requests (their answers are dropped with
                // them) and its transaction; the next group goes on.
                let committed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    commit_and_answer_directly(connection, requests)
                }));
                if committed.is_err() {
                    tracing::error!("a single-use group was abandoned");
                    let _ = connection.execute_plain("ROLLBACK");
                }
            }
            Writer::Pool(db, runtime) => {
                // A task of its own, for the same reason.
                let group = commit_and_answer(db.clone(), requests).instrument(span.clone());
                let committed = runtime.block_on(runtime.spawn(group));
                if let Err(error) = committed {
                    tracing::error!(%error, "a single-use group was abandoned");
                }
            }
        }
    }
}

async fn commit_and_answer(db: DatabaseConnection, mut requests: Vec<Request>) {
    let committed = commit(&db, &mut requests).await;
    answer(requests, committed);
}

/// Tells each request of a group its outcome: fresh or not, or the group's error.
fn answer(requests: Vec<Request>, committed: Result<Vec<Outcome>>) {
    match committed {
        Ok(fresh) => {
            for (request, fresh) in requests.into_iter().zip(fresh) {
                let _ = request.answer.send(Ok(fresh));
            }
        }
        Err(error) => {
            tracing::error!(%error, size = requests.len(), "a single-use group failed");
            for request in requests {
                let _ = request.answer.send(Err(error.to_string()));
            }
        }
    }
}

/// One transaction for a group: which requests had a fresh token, in order.
async fn commit(db: &DatabaseConnection, requests: &mut [Request]) -> Result<Vec<Outcome>> {
    let txn = crate::store::db::begin_write(db).await?;
    let mut inserted: HashSet<String> = HashSet::new();
    for row in txn.query_all(&use_up_all(requests)).await? {
        inserted.insert(row.try_get::<String>("", "jti")?);
    }
    let mut outcomes = first_namings(requests, inserted);
    // Each request's writes in a round trip of their own: their text is one of a few, so
    // the connection keeps it prepared (the whole group's would rarely repeat).
    for (request, outcome) in requests.iter_mut().zip(&mut outcomes) {
        if *outcome == Outcome::Written {
            if !request.writes.take_conditions().met(&*txn).await? {
                *outcome = Outcome::Unmet;
                continue;
            }
            std::mem::replace(&mut request.writes, Batch::new(&txn))
                .run(&txn)
                .await?;
        }
    }
    txn.commit().await?;
    Ok(outcomes)
}

fn commit_and_answer_directly(
    connection: &mut crate::store::direct::Connection,
    mut requests: Vec<Request>,
) {
    let _turn = crate::store::db::SQLITE_WRITER.blocking_lock();
    let committed = commit_directly(connection, &mut requests);
    if committed.is_err() {
        let _ = connection.execute_plain("ROLLBACK");
    }
    answer(requests, committed);
}

fn commit_directly(
    connection: &mut crate::store::direct::Connection,
    requests: &mut [Request],
) -> Result<Vec<Outcome>> {
    connection.execute_plain("BEGIN IMMEDIATE")?;
    let mut inserted: HashSet<String> = HashSet::new();
    let use_up = DbBackend::Sqlite.build(&use_up_all(requests));
    connection.run(&use_up, |row| {
        inserted.insert(row.text(0));
    })?;
    let mut outcomes = first_namings(requests, inserted);
    for (request, outcome) in requests.iter_mut().zip(&mut outcomes) {
        if *outcome == Outcome::Written {
            if !request.writes.take_conditions().met_directly(connection)? {
                *outcome = Outcome::Unmet;
                continue;
            }
            let writes =
                std::mem::replace(&mut request.writes, Batch::for_backend(DbBackend::Sqlite));
            let (statements, after_run) = writes.into_parts();
            for statement in &statements {
                connection.run(statement, |_| {})?;
            }
            for then in after_run {
                then();
            }
        }
    }
    connection.execute_plain("COMMIT")?;
    Ok(outcomes)
}

/// One statement using up every request's token: `jti` of those it inserted.
fn use_up_all(requests: &[Request]) -> InsertStatement {
    let now = clock::now();
    let mut insert = Query::insert();
    insert.into_table(consumed_token::Entity).columns([
        consumed_token::Column::Jti,
        consumed_token::Column::Kind,
        consumed_token::Column::ConsumedAt,
        consumed_token::Column::ExpiresAt,
    ]);
    // In the order of the tokens, not of the requests: two instances committing groups
    // that share tokens then take their keys in the same order on PostgreSQL, and neither
    // waits for the other in a cycle (a deadlock would fail both groups). Who wins within
    // the group is decided by [`first_namings`], in the order of the requests.
    let mut tokens: Vec<&Token> = requests.iter().map(|r| &r.token).collect();
    tokens.sort_by(|a, b| a.jti.cmp(&b.jti));
    for token in tokens {
        insert.values_panic([
            token.jti.clone().into(),
            token.kind.into(),
            now.into(),
            token.expires_at.into(),
        ]);
    }
    insert
        .on_conflict(
            OnConflict::column(consumed_token::Column::Jti)
                .do_nothing()
                .to_owned(),
        )
        .returning_col(consumed_token::Column::Jti);
    insert
}

/// Removes the record of the single-use tokens that have expired: none of them can be
/// presented again (each is refused as expired before it is used up). Returns how many.
pub async fn prune_expired(db: &DatabaseConnection) -> Result<u64> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let txn = crate::store::db::begin_write(db).await?;
    let removed = consumed_token::Entity::delete_many()
        .filter(consumed_token::Column::ExpiresAt.lt(clock::now()))
        .exec(&*txn)
        .await?;
    txn.commit().await?;
    Ok(removed.rows_affected)
}

/// The first request naming a token that was inserted now has it; any other did not.
fn first_namings(requests: &[Request], mut inserted: HashSet<String>) -> Vec<Outcome> {
    requests
        .iter()
        .map(|request| match inserted.remove(&request.token.jti) {
            true => Outcome::Written,
            false => Outcome::AlreadyUsed,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::audit_event;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait};

    fn token(jti: &str) -> Token {
        Token {
            jti: jti.to_owned(),
            kind: "subject_token",
            expires_at: clock::now() + 60,
        }
    }

    /// A batch recording one audit event whose reason is `reason`.
    fn writes(db: &DatabaseConnection, reason: &str) -> Batch {
        let mut batch = Batch::new(db);
        let event = crate::audit::Event {
            action: "test",
            reason: reason.to_owned(),
            ..Default::default()
        };
        crate::audit::record_in(&mut batch, event);
        batch
    }

    async fn reasons(db: &DatabaseConnection) -> Vec<String> {
        let mut reasons: Vec<String> = audit_event::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.reason)
            .collect();
        reasons.sort();
        reasons
    }

    #[tokio::test]
    async fn of_twenty_simultaneous_uses_of_one_token_exactly_one_writes() {
        let (_dir, db) = crate::store::db::test_database().await;
        let committer = Committer::start(db.clone());
        let attempts =
            (0..20).map(|i| committer.use_up(token("once"), writes(&db, &i.to_string())));
        let outcomes: Vec<Outcome> = futures::future::join_all(attempts)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            outcomes.iter().filter(|o| **o == Outcome::Written).count(),
            1,
            "{outcomes:?}"
        );
        let winner = outcomes
            .iter()
            .position(|o| *o == Outcome::Written)
            .unwrap();
        assert_eq!(reasons(&db).await, vec![winner.to_string()]);
        // Later, too.
        assert_eq!(
            committer
                .use_up(token("once"), writes(&db, "late"))
                .await
                .unwrap(),
            Outcome::AlreadyUsed
        );
        assert_eq!(reasons(&db).await.len(), 1);
    }

    #[tokio::test]
    async fn requests_in_one_group_keep_their_own_outcomes() {
        let (_dir, db) = crate::store::db::test_database().await;
        let committer = Committer::start(db.clone());
        assert_eq!(
            committer
                .use_up(token("used"), writes(&db, "first"))
                .await
                .unwrap(),
            Outcome::Written
        );
        let (a, b, c) = tokio::join!(
            committer.use_up(token("a"), writes(&db, "a")),
            committer.use_up(token("used"), writes(&db, "again")),
            committer.use_up(token("c"), writes(&db, "c")),
        );
        assert_eq!(
            (a.unwrap(), b.unwrap(), c.unwrap()),
            (Outcome::Written, Outcome::AlreadyUsed, Outcome::Written)
        );
        assert_eq!(reasons(&db).await, ["a", "c", "first"]);
        assert_eq!(
            crate::entities::consumed_token::Entity::find()
                .count(&db)
                .await
                .unwrap(),
            3
        );
    }

    #[tokio::test]
    async fn the_records_of_expired_tokens_go_and_the_others_still_refuse_a_second_use() {
        let (_dir, db) = crate::store::db::test_database().await;
        let committer = Committer::start(db.clone());
        let expired = Token {
            expires_at: clock::now() - 1,
            ..token("expired")
        };
        // Named in reverse order in one group: the insert takes them sorted.
        let (live, old) = tokio::join!(
            committer.use_up(token("z-live"), writes(&db, "live")),
            committer.use_up(expired, writes(&db, "old")),
        );
        assert_eq!(
            (live.unwrap(), old.unwrap()),
            (Outcome::Written, Outcome::Written)
        );
        assert_eq!(prune_expired(&db).await.unwrap(), 1);
        assert_eq!(
            crate::entities::consumed_token::Entity::find()
                .count(&db)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            committer
                .use_up(token("z-live"), writes(&db, "again"))
                .await
                .unwrap(),
            Outcome::AlreadyUsed
        );
        assert_eq!(reasons(&db).await, ["live", "old"]);
    }

    #[tokio::test]
    async fn writes_whose_condition_is_unmet_are_not_made_and_others_of_the_group_are() {
        use crate::entities::consumed_token;
        use sea_orm::sea_query::Query;
        let (_dir, db) = crate::store::db::test_database().await;
        let committer = Committer::start(db.clone());
        // A condition met while the token "gate" has not been used up (an update that
        // returns the row it touched).
        let unless_gate_used = || {
            let mut batch = Batch::new(&db);
            batch.only_if(
                &Query::update()
                    .table(consumed_token::Entity)
                    .value(consumed_token::Column::Kind, "touched")
                    .and_where(consumed_token::Column::Jti.eq("gate"))
                    .returning_col(consumed_token::Column::Jti)
                    .to_owned(),
            );
            batch
        };
        let mut first = unless_gate_used();
        crate::audit::record_in(
            &mut first,
            crate::audit::Event {
                action: "test",
                reason: "never".into(),
                ..Default::default()
            },
        );
        assert_eq!(
            committer.use_up(token("t1"), first).await.unwrap(),
            Outcome::Unmet
        );
        assert_eq!(reasons(&db).await, Vec::<String>::new());
        // The token is used up all the same.
        assert_eq!(
            committer
                .use_up(token("t1"), writes(&db, "again"))
                .await
                .unwrap(),
            Outcome::AlreadyUsed
        );
        assert_eq!(
            committer
                .use_up(token("gate"), writes(&db, "gate"))
                .await
                .unwrap(),
            Outcome::Written
        );
        let mut met = unless_gate_used();
        crate::audit::record_in(
            &mut met,
            crate::audit::Event {
                action: "test",
                reason: "met".into(),
                ..Default::default()
            },
        );
        let (met, other) = tokio::join!(
            committer.use_up(token("t2"), met),
            committer.use_up(token("t3"), writes(&db, "t3")),
        );
        assert_eq!(
            (met.unwrap(), other.unwrap()),
            (Outcome::Written, Outcome::Written)
        );
        assert_eq!(reasons(&db).await, ["gate", "met", "t3"]);
    }

    #[tokio::test]
    async fn a_group_that_fails_writes_nothing_and_uses_no_token_up() {
        let (_dir, db) = crate::store::db::test_database().await;
        let committer = Committer::start(db.clone());
        // A write that cannot succeed: an audit event whose id is taken.
        assert_eq!(
            committer
                .use_up(token("x"), writes(&db, "x"))
                .await
                .unwrap(),
            Outcome::Written
        );
        let taken = audit_event::Entity::find()
            .one(&db)
            .await
            .unwrap()
            .unwrap()
            .id;
        let mut failing = Batch::new(&db);
        failing.push(&audit_event::Entity::insert(audit_event::ActiveModel {
            id: sea_orm::ActiveValue::Set(taken),
            created_at: sea_orm::ActiveValue::Set(0),
            action: sea_orm::ActiveValue::Set("test".into()),
            outcome: sea_orm::ActiveValue::Set("success".into()),
            reason: sea_orm::ActiveValue::Set("duplicate".into()),
            ..Default::default()
        }));
        let (ok, failed) = tokio::join!(
            committer.use_up(token("y"), writes(&db, "y")),
            committer.use_up(token("z"), failing),
        );
        assert!(failed.is_err());
        // "y" shared z's transaction or not: either it committed alone, or it failed with
        // z's group and its token stays fresh.
        match ok {
            Ok(Outcome::Written) => assert_eq!(reasons(&db).await, ["x", "y"]),
            Err(_) => {
                assert_eq!(reasons(&db).await, ["x"]);
                assert_eq!(
                    committer
                        .use_up(token("y"), writes(&db, "y"))
                        .await
                        .unwrap(),
                    Outcome::Written
                );
            }
            Ok(other) => panic!("y was never used: {other:?}"),
        }
        // z's token was not used up: it can still be.
        assert_eq!(
            committer
                .use_up(token("z"), writes(&db, "z"))
                .await
                .unwrap(),
            Outcome::Written
        );
    }

    #[tokio::test]
    async fn a_group_that_panics_abandons_its_own_requests_only() {
        let (_dir, db) = crate::store::db::test_database().await;
        let committer = Committer::start(db.clone());
        let mut panicking = writes(&db, "p");
        panicking.after_run(|| panic!("a bug after a write (expected by this test)"));
        let abandoned = committer.use_up(token("p"), panicking).await;
        assert!(format!("{:?}", abandoned.unwrap_err()).contains("abandoned"));
        // The next group commits, and nothing of the abandoned one was kept.
        assert_eq!(
            committer
                .use_up(token("q"), writes(&db, "q"))
                .await
                .unwrap(),
            Outcome::Written
        );
        assert_eq!(reasons(&db).await, ["q"]);
        assert_eq!(
            committer
                .use_up(token("p"), writes(&db, "p"))
                .await
                .unwrap(),
            Outcome::Written
        );
    }

    #[test]
    fn a_group_waits_only_while_every_worker_is_busy() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let gathering = Gathering {
            runtime: runtime.metrics(),
        };
        let settle = || std::thread::sleep(Duration::from_millis(100));
        // Idle workers: nothing more is coming, the group commits at once.
        settle();
        let parks = gathering.parks();
        assert_eq!(gathering.wait(1, Instant::now(), &parks), None);

        // Both workers busy: the group waits, a step at a time.
        let stop = Arc::new(AtomicBool::new(false));
        let running = Arc::new(AtomicUsize::new(0));
        for _ in 0..2 {
            let (stop, running) = (stop.clone(), running.clone());
            runtime.spawn(async move {
                running.fetch_add(1, Ordering::SeqCst);
                while !stop.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
            });
        }
        while running.load(Ordering::SeqCst) < 2 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let parks = gathering.parks();
        let wait = gathering.wait(1, Instant::now(), &parks);
        assert!(wait.is_some_and(|wait| wait <= WAIT_STEP), "{wait:?}");
        // Not when the group is full, nor after the longest wait.
        assert_eq!(gathering.wait(MAX_GROUP, Instant::now(), &parks), None);
        let long_ago = Instant::now().checked_sub(MAX_WAIT).unwrap();
        assert_eq!(gathering.wait(1, long_ago, &parks), None);

        // A worker that ran out of work ends the wait.
        stop.store(true, Ordering::SeqCst);
        settle();
        assert_eq!(gathering.wait(1, Instant::now(), &parks), None);
    }
}
