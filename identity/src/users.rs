//! Users: lookup and sign-in.

use crate::delegation::{Authority, Refusal};
use crate::entities::user::{self, UserStatus};
use crate::organizations::Reach;
use crate::{Error, Result, password};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

/// Finds a user by id.
pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id).one(db).await?)
}

/// [`find`], kept while nothing changes (`crate::store::cache`).
pub async fn cached(
    reads: &crate::store::cache::Reads<'_>,
    id: Uuid,
) -> Result<Option<user::Model>> {
    struct ById;
    impl crate::store::cache::Kind for ById {
        type Key = Uuid;
        type Value = Option<user::Model>;
    }
    reads.remembered::<ById>(id, find(reads.db(), id)).await
}

/// Finds a user by username (exact match).
pub async fn find_by_username(
    db: &impl ConnectionTrait,
    username: &str,
) -> Result<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(db)
        .await?)
}

/// How failed-password streaks throttle password sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lockout {
    /// Failed passwords in a row that lock.
    pub threshold: i32,
    /// How long the first lock of a streak lasts, in seconds.
    pub duration_secs: i64,
    /// The longest lock, in seconds.
    pub max_secs: i64,
}

impl Default for Lockout {
    fn default() -> Self {
        Self {
            threshold: 5,
            duration_secs: 300,
            max_secs: 86_400,
        }
    }
}

impl Lockout {
    /// The length of the lock after `previous` locks in the same streak: the first
    /// duration, doubled for each, at most the maximum.
    pub fn length(&self, previous: i32) -> i64 {
        let doublings = u32::try_from(previous.clamp(0, 40)).unwrap_or(40);
        let length = self
            .duration_secs
            .saturating_mul(2_i64.saturating_pow(doublings));
        Ord::max(Ord::min(length, self.max_secs), 1)
    }
}

/// Whether password sign-in is locked for `user` at `now` (a failed-password streak).
pub fn is_throttled(user: &user::Model, now: i64) -> bool {
    user.locked_until.is_some_and(|until| until > now)
}

/// Checks a username and password. Every failure, including a disabled, locked or
/// throttled account, is [`Error::InvalidCredentials`], and an unknown username costs one
/// argon2 verification like any other attempt, so the answer never tells them apart. A
/// wrong password counts one failure (an atomic increment, exact under concurrent
/// attempts); at the threshold, password sign-in locks for [`Lockout::length`], and the
/// lock passes by itself. A success ends the streak.
#[tracing::instrument(skip(db, password))]
pub async fn authenticate(
    db: &impl ConnectionTrait,
    username: &str,
    password: String,
    lockout: &Lockout,
) -> Result<user::Model> {
    // A place among the password checks first: a refused flood costs no database read.
    let ticket = password::gate().admit()?;
    let found = find_by_username(db, username).await?;
    let stored = found.as_ref().map(|u| u.password_hash.clone());
    let verified = ticket.verify(password, stored).await?;
    let now = crate::clock::now();
    match found {
        Some(user) if user.status != UserStatus::Active || is_throttled(&user, now) => {
            Err(Error::InvalidCredentials)
        }
        Some(user) if verified => {
            if user.failed_logins != 0 || user.lock_count != 0 || user.locked_until.is_some() {
                user::Entity::update_many()
                    .col_expr(user::Column::FailedLogins, Expr::value(0))
                    .col_expr(user::Column::LockCount, Expr::value(0))
                    .col_expr(user::Column::LockedUntil, Expr::value(Option::<i64>::None))
                    .filter(user::Column::Id.eq(user.id))
                    .exec(db)
                    .await?;
            }
            Ok(user)
        }
        Some(user) => {
            record_failure(db, &user, lockout, now).await?;
            Err(Error::InvalidCredentials)
        }
        None => Err(Error::InvalidCredentials),
    }
}

/// Counts a failed password (not while locked) and locks at the threshold. Of concurrent
/// failures, exactly one locks: the lock is conditional on the streak's lock count.
async fn record_failure(
    db: &impl ConnectionTrait,
    user: &user::Model,
    lockout: &Lockout,
    now: i64,
) -> Result<()> {
    let unlocked = Expr::col(user::Column::LockedUntil)
        .is_null()
        .or(Expr::col(user::Column::LockedUntil).lte(now));
    user::Entity::update_many()
        .col_expr(
            user::Column::FailedLogins,
            Expr::col(user::Column::FailedLogins).add(1),
        )
        .filter(user::Column::Id.eq(user.id))
        .filter(unlocked.clone())
        .exec(db)
        .await?;
    let length = lockout.length(user.lock_count);
    let locked = user::Entity::update_many()
        .col_expr(user::Column::LockedUntil, Expr::value(now + length))
        .col_expr(user::Column::LockCount, Expr::value(user.lock_count + 1))
        .col_expr(user::Column::FailedLogins, Expr::value(0))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(user.id))
        .filter(user::Column::LockCount.eq(user.lock_count))
        .filter(user::Column::FailedLogins.gte(lockout.threshold))
        .filter(unlocked)
        .exec(db)
        .await?;
    if locked.rows_affected == 1 {
        tracing::warn!(user_id = %user.id, seconds = length, "password sign-in locked after repeated failures");
        crate::audit::record(
            db,
            crate::audit::Event {
                action: crate::audit::action::ACCOUNT_LOCKED,
                success: true,
                target_id: Some(user.id.to_string()),
                reason: format!(
                    "{} failed sign-ins in a row: password sign-in locked for {length} s",
                    lockout.threshold
                ),
                ..crate::audit::Event::default()
            },
        )
        .await?;
        let mut event = user_event(crate::events::kind::USER_LOCKED, user, None);
        event.data["cause"] = serde_json::json!("failed-sign-ins");
        event.data["lockedUntil"] = serde_json::json!(crate::clock::rfc3339(now + length));
        crate::events::publish(db, event).await?;
    }
    Ok(())
}

/// An event about `user`, by `by` (none: the server itself, or the operator).
fn user_event(kind: &'static str, user: &user::Model, by: Option<Uuid>) -> crate::events::Event {
    let mut event = crate::events::about_user(kind, user);
    if let Some(by) = by {
        event.data["by"] = serde_json::json!({ "id": by });
    }
    event
}

/// Ends a user's lock (`server users unlock`): a failed-password lock with its streak,
/// and an administrator's lock; a disabled user stays disabled. The same change as an
/// administrator's unlock ([`update`] to active), recorded once. Returns whether there was
/// such a user.
pub async fn unlock(db: &impl ConnectionTrait, username: &str, by: &Authority) -> Result<bool> {
    let Some(user) = find_by_username(db, username).await? else {
        return Ok(false);
    };
    if user.status == UserStatus::Disabled {
        return Ok(true);
    }
    let changes = Changes {
        status: Some(UserStatus::Active),
        ..Changes::default()
    };
    update(db, by, user, changes)
        .await?
        .map_err(|error| anyhow::anyhow!("unlocking: {error}"))?;
    Ok(true)
}

/// The name to show for a user: "Given Family", or the username when both are empty.
pub fn display_name(user: &user::Model) -> String {
    let full = format!("{} {}", user.given_name, user.family_name);
    let full = full.trim();
    if full.is_empty() {
        user.username.clone()
    } else {
        full.to_owned()
    }
}

/// What it takes to create a user.
pub struct NewUser<'a> {
    pub organization_id: Uuid,
    pub username: &'a str,
    pub email: &'a str,
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub password: &'a str,
}

/// Creates an active user with a hashed password.
pub async fn create(db: &impl ConnectionTrait, new: NewUser<'_>) -> Result<user::Model> {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let now = crate::clock::now();
    Ok(user::ActiveModel {
        id: Set(Uuid::new_v4()),
        organization_id: Set(new.organization_id),
        username: Set(new.username.to_owned()),
        email: Set(new.email.to_owned()),
        given_name: Set(new.given_name.to_owned()),
        family_name: Set(new.family_name.to_owned()),
        password_hash: Set(password::hash(new.password.to_owned()).await?),
        status: Set(UserStatus::Active),
        failed_logins: Set(0),
        locked_until: Set(None),
        lock_count: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// A user attribute that can be searched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attr {
    UserName,
    Email,
    GivenName,
    FamilyName,
}

/// A comparison of SCIM filters (RFC 7644 §3.4.2.2), case-insensitive as the attributes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Pr,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A filter over users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    Compare(Attr, Op, String),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

impl Filter {
    /// The SQL condition. `ranged`: express `sw` as a range on `lower(column)`, which the
    /// expression indexes answer (SQLite's `LIKE` cannot use them); only where strings
    /// compare by code point, as SQLite's default collation does.
    fn condition(&self, ranged: bool) -> sea_orm::Condition {
        use sea_orm::Condition;
        use sea_orm::sea_query::{Func, LikeExpr, SimpleExpr};
        match self {
            Filter::And(a, b) => Condition::all()
                .add(a.condition(ranged))
                .add(b.condition(ranged)),
            Filter::Or(a, b) => Condition::any()
                .add(a.condition(ranged))
                .add(b.condition(ranged)),
            Filter::Not(a) => a.condition(ranged).not(),
            Filter::Compare(attr, op, value) => {
                let column = match attr {
                    Attr::UserName => user::Column::Username,
                    Attr::Email => user::Column::Email,
                    Attr::GivenName => user::Column::GivenName,
                    Attr::FamilyName => user::Column::FamilyName,
                };
                let lowered: SimpleExpr = Func::lower(Expr::col(column)).into();
                let value = value.to_lowercase();
                let escaped = value
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                let like = |pattern: String| LikeExpr::new(pattern).escape('\\');
                let expr = match op {
                    Op::Eq => lowered.eq(value),
                    Op::Ne => lowered.ne(value),
                    Op::Co => lowered.like(like(format!("%{escaped}%"))),
                    // Under code-point order, "starts with v" is exactly v <= s < succ(v),
                    // which an index on lower(column) answers alone.
                    Op::Sw => match successor(&value).filter(|_| ranged) {
                        Some(next) => lowered.clone().gte(value.clone()).and(lowered.lt(next)),
                        None => lowered.like(like(format!("{escaped}%"))),
                    },
                    Op::Ew => lowered.like(like(format!("%{escaped}"))),
                    Op::Pr => Expr::col(column).ne(""),
                    Op::Gt => lowered.gt(value),
                    Op::Ge => lowered.gte(value),
                    Op::Lt => lowered.lt(value),
                    Op::Le => lowered.lte(value),
                };
                Condition::all().add(expr)
            }
        }
    }
}

/// The smallest string greater than every string starting with `prefix` (its last
/// character incremented), or `None` when there is none to give.
fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    let last = chars.pop()?;
    let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32)?;
    chars.push(next);
    Some(chars.into_iter().collect())
}

/// The users of organizations within `reach` matching `filter` (all of them without one).
fn matching(
    db: &impl ConnectionTrait,
    reach: &Reach,
    filter: Option<&Filter>,
) -> sea_orm::Select<user::Entity> {
    let query = match reach {
        Reach::Everywhere => user::Entity::find(),
        Reach::Within(organizations) => user::Entity::find()
            .filter(user::Column::OrganizationId.is_in(organizations.iter().copied())),
    };
    match filter {
        Some(filter) => {
            let ranged = db.get_database_backend() == sea_orm::DbBackend::Sqlite;
            query.filter(filter.condition(ranged))
        }
        None => query,
    }
}

/// A page of the users within `reach` matching `filter`, ordered by username, and the
/// total count.
pub async fn search(
    db: &impl ConnectionTrait,
    reach: &Reach,
    filter: Option<&Filter>,
    offset: u64,
    limit: u64,
) -> Result<(u64, Vec<user::Model>)> {
    use sea_orm::{PaginatorTrait, QueryOrder, QuerySelect};
    let query = matching(db, reach, filter).order_by_asc(user::Column::Username);
    let total = query.clone().count(db).await?;
    if offset == 0 {
        return Ok((total, query.limit(limit).all(db).await?));
    }
    // A deep page: find where it starts with the usernames alone (the unique index on
    // username answers that without reading a row), then read only the page's rows.
    let start: Option<String> = query
        .clone()
        .select_only()
        .column(user::Column::Username)
        .offset(offset)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    let page = match start {
        Some(start) => {
            query
                .filter(user::Column::Username.gte(start))
                .limit(limit)
                .all(db)
                .await?
        }
        None => Vec::new(),
    };
    Ok((total, page))
}

/// What the Users list is sorted by (then by username, which is unique).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortBy {
    Username,
    Email,
    FamilyName,
}

impl SortBy {
    fn column(self) -> user::Column {
        match self {
            SortBy::Username => user::Column::Username,
            SortBy::Email => user::Column::Email,
            SortBy::FamilyName => user::Column::FamilyName,
        }
    }

    /// The sort key of `user`.
    pub fn key(self, user: &user::Model) -> String {
        match self {
            SortBy::Username => user.username.clone(),
            SortBy::Email => user.email.clone(),
            SortBy::FamilyName => user.family_name.clone(),
        }
    }
}

/// A position in the sorted list: the sort key and the username of a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub key: String,
    pub username: String,
}

/// Where a page of [`browse`] starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// The first page.
    Start,
    /// The page after this position.
    After(Position),
    /// The page before this position.
    Before(Position),
}

/// How to sort and where to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    pub by: SortBy,
    pub descending: bool,
    pub cursor: Cursor,
}

/// A page of [`browse`].
#[derive(Clone, Debug)]
pub struct Browse {
    /// How many users match in all.
    pub total: u64,
    pub users: Vec<user::Model>,
    /// Whether there are pages before and after this one.
    pub has_previous: bool,
    pub has_next: bool,
}

/// A page of users matching `filter`, sorted as `order` says, found from a cursor (keyset
/// paging): every page costs the same however deep it is, unlike an offset.
pub async fn browse(
    db: &impl ConnectionTrait,
    reach: &Reach,
    filter: Option<&Filter>,
    order: &Order,
    limit: u64,
) -> Result<Browse> {
    use sea_orm::{Condition, PaginatorTrait, QueryOrder, QuerySelect, sea_query::Order as Dir};
    let mut query = matching(db, reach, filter);
    let total = query.clone().count(db).await?;
    let column = order.by.column();
    // Reading backwards (the page before a position) walks the order in reverse.
    let backwards = matches!(order.cursor, Cursor::Before(_));
    let ascending = order.descending == backwards;
    let dir = if ascending { Dir::Asc } else { Dir::Desc };
    // Strictly past `p` in the walking direction: (key, username) compared as a pair.
    let past = |p: &Position| {
        let (key, name) = (p.key.clone(), p.username.clone());
        let after_key = if ascending {
            Expr::col(column).gt(key.clone())
        } else {
            Expr::col(column).lt(key.clone())
        };
        let after_name = if ascending {
            user::Column::Username.gt(name)
        } else {
            user::Column::Username.lt(name)
        };
        let same_key = Expr::col(column).eq(key);
        if order.by == SortBy::Username {
            Condition::all().add(after_name)
        } else {
            Condition::any()
                .add(after_key)
                .add(Condition::all().add(same_key).add(after_name))
        }
    };
    query = match &order.cursor {
        Cursor::Start => query,
        Cursor::After(p) | Cursor::Before(p) => query.filter(past(p)),
    };
    query = query.order_by(column, dir.clone());
    if order.by != SortBy::Username {
        query = query.order_by(user::Column::Username, dir);
    }
    let mut users = query.limit(limit + 1).all(db).await?;
    let more = users.len() as u64 > limit;
    users.truncate(limit as usize);
    let (has_previous, has_next) = match order.cursor {
        Cursor::Start => (false, more),
        Cursor::After(_) => (true, more),
        Cursor::Before(_) => {
            users.reverse();
            (more, true)
        }
    };
    Ok(Browse {
        total,
        users,
        has_previous,
        has_next,
    })
}

/// Why a change to a user was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("the username {0} is taken")]
    DuplicateUsername(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Refused(#[from] crate::delegation::Refusal),
}

/// Changes to a user; `None` keeps the current value.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    pub username: Option<String>,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub password: Option<String>,
    pub status: Option<UserStatus>,
}

/// The shortest password we accept.
pub const MIN_PASSWORD_LENGTH: usize = 8;

fn check(changes: &Changes) -> std::result::Result<(), UserError> {
    if let Some(username) = &changes.username
        && (username.trim().is_empty()
            || username.len() > 255
            || username.chars().any(char::is_control))
    {
        return Err(UserError::Invalid(
            "The username must be 1 to 255 printable characters.".into(),
        ));
    }
    if let Some(password) = &changes.password
        && password.chars().count() < MIN_PASSWORD_LENGTH
    {
        return Err(UserError::Invalid(format!(
            "The password must have at least {MIN_PASSWORD_LENGTH} characters."
        )));
    }
    if let Some(email) = &changes.email
        && !email.is_empty()
        && !email.contains('@')
    {
        return Err(UserError::Invalid(format!(
            "{email} is not an email address."
        )));
    }
    Ok(())
}

fn unique_violation(error: &sea_orm::DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Creates a user after checking the input; a taken username is [`UserError::DuplicateUsername`]
/// (also when two requests race for it: the unique index decides).
pub async fn register(
    db: &impl ConnectionTrait,
    new: NewUser<'_>,
) -> Result<std::result::Result<user::Model, UserError>> {
    let changes = Changes {
        username: Some(new.username.to_owned()),
        email: Some(new.email.to_owned()),
        password: Some(new.password.to_owned()),
        ..Changes::default()
    };
    if let Err(error) = check(&changes) {
        return Ok(Err(error));
    }
    if find_by_username(db, new.username).await?.is_some() {
        return Ok(Err(UserError::DuplicateUsername(new.username.to_owned())));
    }
    let username = new.username.to_owned();
    match create(db, new).await {
        Ok(user) => Ok(Ok(user)),
        Err(Error::Database(error)) if unique_violation(&error) => {
            Ok(Err(UserError::DuplicateUsername(username)))
        }
        Err(error) => Err(error),
    }
}

/// Applies `changes` to `user`, which `by` must hold everything of (a helpdesk cannot
/// reset an administrator's password). Unlocking or enabling resets the failure count.
pub async fn update(
    db: &impl ConnectionTrait,
    by: &Authority,
    user: user::Model,
    changes: Changes,
) -> Result<std::result::Result<user::Model, UserError>> {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
    if let Err(error) = check(&changes) {
        return Ok(Err(error));
    }
    if let Err(refusal) = by.check_over_user(db, user.id).await? {
        return Ok(Err(refusal.into()));
    }
    if let Some(username) = &changes.username
        && username != &user.username
        && find_by_username(db, username).await?.is_some()
    {
        return Ok(Err(UserError::DuplicateUsername(username.clone())));
    }
    let user_status = user.status;
    let throttled = is_throttled(&user, crate::clock::now());
    let user_id = user.id;
    let mut model = user.into_active_model();
    if let Some(v) = changes.username.clone() {
        model.username = Set(v);
    }
    if let Some(v) = changes.email {
        model.email = Set(v);
    }
    if let Some(v) = changes.given_name {
        model.given_name = Set(v);
    }
    if let Some(v) = changes.family_name {
        model.family_name = Set(v);
    }
    let password_changed = changes.password.is_some();
    if let Some(v) = changes.password {
        model.password_hash = Set(password::hash(v).await?);
    }
    let now = crate::clock::now();
    let lock_change = match changes.status {
        Some(UserStatus::Locked) if user_status != UserStatus::Locked => {
            Some(crate::audit::action::ACCOUNT_LOCKED)
        }
        Some(UserStatus::Active) if user_status == UserStatus::Locked || throttled => {
            Some(crate::audit::action::ACCOUNT_UNLOCKED)
        }
        _ => None,
    };
    if let Some(status) = changes.status {
        model.status = Set(status);
        if status == UserStatus::Active {
            model.failed_logins = Set(0);
            model.lock_count = Set(0);
            model.locked_until = Set(None);
        }
    }
    model.updated_at = Set(now);
    if let Some(action) = lock_change {
        crate::audit::record(
            db,
            crate::audit::Event {
                action,
                success: true,
                actor_id: by.actor().map(|id| id.to_string()),
                target_id: Some(user_id.to_string()),
                reason: if by.is_operator() {
                    "by the operator".into()
                } else {
                    "by an administrator".into()
                },
                ..crate::audit::Event::default()
            },
        )
        .await?;
    }
    let disabled =
        changes.status == Some(UserStatus::Disabled) && user_status != UserStatus::Disabled;
    match model.update(db).await {
        Ok(user) => {
            let by_id = by.actor();
            let mut events = Vec::new();
            if lock_change == Some(crate::audit::action::ACCOUNT_LOCKED) {
                let mut event = user_event(crate::events::kind::USER_LOCKED, &user, by_id);
                event.data["cause"] = serde_json::json!("administrator");
                events.push(event);
            }
            if disabled {
                events.push(user_event(crate::events::kind::USER_DISABLED, &user, by_id));
            }
            if password_changed {
                let mut event =
                    user_event(crate::events::kind::USER_PASSWORD_CHANGED, &user, by_id);
                if let Some(by) = by_id {
                    event.data["changedBy"] = serde_json::json!({ "id": by });
                }
                events.push(event);
            }
            for event in events {
                crate::events::publish(db, event).await?;
            }
            Ok(Ok(user))
        }
        Err(error) if unique_violation(&error) => Ok(Err(UserError::DuplicateUsername(
            changes.username.unwrap_or_default(),
        ))),
        Err(error) => Err(error.into()),
    }
}

/// Deletes a user, whom `by` must hold everything of, and, through the foreign keys, their
/// sessions, codes and tokens. `Ok(false)`: there was no such user.
pub async fn delete(
    db: &impl ConnectionTrait,
    by: &Authority,
    id: Uuid,
) -> Result<std::result::Result<bool, Refusal>> {
    if let Err(refusal) = by.check_over_user(db, id).await? {
        return Ok(Err(refusal));
    }
    Ok(Ok(user::Entity::delete_by_id(id)
        .exec(db)
        .await?
        .rows_affected
        == 1))
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_lock_of_a_streak_lasts_twice_the_one_before_up_to_the_maximum() {
        let lockout = super::Lockout {
            threshold: 5,
            duration_secs: 300,
            max_secs: 86_400,
        };
        let lengths: Vec<i64> = (0..10).map(|n| lockout.length(n)).collect();
        assert_eq!(lengths[..4], [300, 600, 1200, 2400]);
        assert_eq!(lengths[9], 86_400);
        assert_eq!(lockout.length(i32::MAX), 86_400, "no overflow");
    }

    #[test]
    fn the_successor_of_a_prefix_bounds_every_string_starting_with_it() {
        assert_eq!(super::successor("abc").as_deref(), Some("abd"));
        assert_eq!(super::successor("a").as_deref(), Some("b"));
        assert_eq!(super::successor(""), None);
        let next = super::successor("pat").unwrap();
        for s in ["pat", "pat-01", "pat\u{10FFFF}", "patz"] {
            assert!(s >= "pat" && s < next.as_str(), "{s}");
        }
        assert!("pau" >= next.as_str());
    }
}
