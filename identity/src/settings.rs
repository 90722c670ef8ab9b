//! Per-organization settings. The impersonation configuration: email notification
//! (default on, as WSO2), whether a reason is required, the hard time limit, a fresh
//! sign-in before impersonating (step-up), and a ticket beside the reason. Every setting
//! added after the first has a default that keeps the WSO2 flow unchanged, and a stored
//! configuration without it reads as that default.

use crate::entities::setting;
use crate::{Result, clock};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, sea_query::OnConflict};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const IMPERSONATION: &str = "impersonation";

/// What an impersonation session may do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// Everything the user may do.
    #[default]
    Full,
    /// Read only: the session's tokens say so, carry only the application's read-only
    /// scopes, and every write to our own APIs is refused.
    ReadOnly,
}

impl Mode {
    /// The mode as the API and the forms spell it (`full`, `readOnly`).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::ReadOnly => "readOnly",
        }
    }

    /// The mode spelled as [`Mode::as_str`] does.
    pub fn parse(text: &str) -> Option<Self> {
        [Mode::Full, Mode::ReadOnly]
            .into_iter()
            .find(|mode| mode.as_str() == text)
    }
}

/// Whose approval an impersonation needs before it may start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Approval {
    /// Nobody's: the WSO2 flow.
    #[default]
    None,
    /// The user's (a request they approve, or their standing support access).
    User,
    /// A second administrator's, holding `internal_impersonation_approve`.
    Administrator,
    /// Both.
    UserAndAdministrator,
}

impl Approval {
    pub const ALL: [Approval; 4] = [
        Approval::None,
        Approval::User,
        Approval::Administrator,
        Approval::UserAndAdministrator,
    ];

    /// As the API and the forms spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Approval::None => "none",
            Approval::User => "user",
            Approval::Administrator => "administrator",
            Approval::UserAndAdministrator => "userAndAdministrator",
        }
    }

    /// The approval spelled as [`Approval::as_str`] does.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }

    pub fn needs_user(self) -> bool {
        matches!(self, Approval::User | Approval::UserAndAdministrator)
    }

    pub fn needs_administrator(self) -> bool {
        matches!(
            self,
            Approval::Administrator | Approval::UserAndAdministrator
        )
    }
}

/// What a rule does to the pairs it matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Effect {
    #[default]
    Allow,
    Deny,
}

/// One rule of who may impersonate whom: members of `impersonator_role` may (or may not)
/// impersonate users holding `target_role` and/or of `target_organization` (each left
/// out matches anyone). The rules never widen the built-in ones: nobody impersonates a
/// user of another organization or holding more.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    pub impersonator_role: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_role: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_organization: Option<Uuid>,
    #[serde(default)]
    pub effect: Effect,
}

impl Rule {
    /// Whether the rule is about this pair: the impersonator holds its role, and the
    /// target its target role and organization where it names them.
    pub fn matches(
        &self,
        impersonator_roles: &[Uuid],
        target_roles: &[Uuid],
        target_organization: Uuid,
    ) -> bool {
        impersonator_roles.contains(&self.impersonator_role)
            && self.target_role.is_none_or(|r| target_roles.contains(&r))
            && self
                .target_organization
                .is_none_or(|o| o == target_organization)
    }
}

/// What an ordered list of rules says of a pair: the first rule that matches decides;
/// none matching refuses. No rules: everyone the built-in rules allow.
pub fn rules_allow(
    rules: &[Rule],
    impersonator_roles: &[Uuid],
    target_roles: &[Uuid],
    target_organization: Uuid,
) -> bool {
    if rules.is_empty() {
        return true;
    }
    rules
        .iter()
        .find(|r| r.matches(impersonator_roles, target_roles, target_organization))
        .is_some_and(|r| r.effect == Effect::Allow)
}

/// How impersonation behaves in an organization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Impersonation {
    /// Mail the user when someone starts impersonating them.
    pub enable_email_notification: bool,
    /// The impersonator must give a reason.
    pub require_reason: bool,
    /// The hard limit of a session.
    pub max_session_duration_minutes: i64,
    /// Starting an impersonation needs a password entered within this many minutes
    /// (0: off).
    pub reauthenticate_within_minutes: i64,
    /// The impersonator must give a ticket (of the organization's help desk).
    pub ticket_required: bool,
    /// A regular expression a ticket must match as a whole (empty: any ticket).
    pub ticket_pattern: String,
    /// The mode of a session when the impersonator asks for none.
    pub default_mode: Mode,
    /// Whether an impersonator may ask for a full session.
    pub allow_full_mode: bool,
    /// Whose approval a session needs first.
    pub approval: Approval,
    /// A request not decided within this many minutes expires.
    pub request_expiry_minutes: i64,
    /// An approved request may start its one session within this many minutes.
    pub approval_window_minutes: i64,
    /// Who may impersonate whom, in order (empty: everyone the built-in rules allow).
    pub rules: Vec<Rule>,
}

impl Default for Impersonation {
    fn default() -> Self {
        Self {
            enable_email_notification: true,
            require_reason: false,
            max_session_duration_minutes: 60,
            reauthenticate_within_minutes: 0,
            ticket_required: false,
            ticket_pattern: String::new(),
            default_mode: Mode::Full,
            allow_full_mode: true,
            approval: Approval::None,
            request_expiry_minutes: 24 * 60,
            approval_window_minutes: 60,
            rules: Vec::new(),
        }
    }
}

/// The longest a session may be allowed to last: one day.
pub const MAX_DURATION_MINUTES: i64 = 24 * 60;
/// The longest a step-up may look back: an hour.
pub const MAX_REAUTHENTICATE_MINUTES: i64 = 60;
/// The longest a request may wait for its decision: a week.
pub const MAX_REQUEST_EXPIRY_MINUTES: i64 = 7 * 24 * 60;
/// The longest an approval may wait for its session: a day.
pub const MAX_APPROVAL_WINDOW_MINUTES: i64 = 24 * 60;
/// The most rules an organization may have.
pub const MAX_RULES: usize = 50;
/// The longest ticket pattern, in bytes.
pub const MAX_TICKET_PATTERN: usize = 200;
/// The longest ticket, in characters.
pub const MAX_TICKET: usize = 100;
/// What a compiled ticket pattern may cost in memory.
const TICKET_PATTERN_SIZE_LIMIT: usize = 64 * 1024;

/// A setting refused, naming its field (as the API spells it) and saying why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl Impersonation {
    /// Every setting in its range; the ticket pattern compiles, within its size limits.
    pub fn validate(&self) -> std::result::Result<(), Invalid> {
        let invalid = |field: &'static str, message: String| Err(Invalid { field, message });
        if !(1..=MAX_DURATION_MINUTES).contains(&self.max_session_duration_minutes) {
            return invalid(
                "maxSessionDurationMinutes",
                format!("maxSessionDurationMinutes takes 1 to {MAX_DURATION_MINUTES}."),
            );
        }
        if !(0..=MAX_REAUTHENTICATE_MINUTES).contains(&self.reauthenticate_within_minutes) {
            return invalid(
                "reauthenticateWithinMinutes",
                format!(
                    "reauthenticateWithinMinutes takes 0 (off) to {MAX_REAUTHENTICATE_MINUTES}."
                ),
            );
        }
        if !(5..=MAX_REQUEST_EXPIRY_MINUTES).contains(&self.request_expiry_minutes) {
            return invalid(
                "requestExpiryMinutes",
                format!("requestExpiryMinutes takes 5 to {MAX_REQUEST_EXPIRY_MINUTES}."),
            );
        }
        if !(1..=MAX_APPROVAL_WINDOW_MINUTES).contains(&self.approval_window_minutes) {
            return invalid(
                "approvalWindowMinutes",
                format!("approvalWindowMinutes takes 1 to {MAX_APPROVAL_WINDOW_MINUTES}."),
            );
        }
        if self.rules.len() > MAX_RULES {
            return invalid("rules", format!("rules takes at most {MAX_RULES} rules."));
        }
        if self.ticket_pattern.len() > MAX_TICKET_PATTERN {
            return invalid(
                "ticketPattern",
                format!("ticketPattern takes at most {MAX_TICKET_PATTERN} characters."),
            );
        }
        if self.default_mode == Mode::Full && !self.allow_full_mode {
            return invalid(
                "allowFullMode",
                "allowFullMode can be false only with defaultMode readOnly.".to_owned(),
            );
        }
        if let Err(error) = self.ticket_matcher() {
            let mut message =
                format!("ticketPattern is not a regular expression we accept: {error}");
            crate::text::bound(&mut message, crate::text::ECHO_LIMIT);
            return invalid("ticketPattern", message);
        }
        Ok(())
    }

    /// The ticket pattern, compiled to match a whole ticket (`None`: any ticket).
    fn ticket_matcher(&self) -> std::result::Result<Option<regex::Regex>, regex::Error> {
        if self.ticket_pattern.is_empty() {
            return Ok(None);
        }
        regex::RegexBuilder::new(&format!("^(?:{})$", self.ticket_pattern))
            .size_limit(TICKET_PATTERN_SIZE_LIMIT)
            .dfa_size_limit(TICKET_PATTERN_SIZE_LIMIT)
            .nest_limit(16)
            .build()
            .map(Some)
    }

    /// Whether `ticket` is one this organization accepts: present when required, at most
    /// [`MAX_TICKET`] characters, and matching the pattern when one is set.
    pub fn accepts_ticket(&self, ticket: &str) -> bool {
        let ticket = ticket.trim();
        if ticket.is_empty() {
            return !self.ticket_required;
        }
        if ticket.chars().count() > MAX_TICKET {
            return false;
        }
        match self.ticket_matcher() {
            Ok(Some(pattern)) => pattern.is_match(ticket),
            Ok(None) => true,
            // A stored pattern that no longer compiles accepts nothing.
            Err(_) => false,
        }
    }

    /// The mode of a session for which `requested` was asked (`None`: the default), if
    /// the organization allows it.
    pub fn mode_for(&self, requested: Option<Mode>) -> Option<Mode> {
        match requested.unwrap_or(self.default_mode) {
            Mode::Full if !self.allow_full_mode => None,
            mode => Some(mode),
        }
    }

    /// Whether a sign-in at `auth_time` is fresh enough to start an impersonation at `now`.
    pub fn sign_in_fresh(&self, auth_time: i64, now: i64) -> bool {
        self.reauthenticate_within_minutes == 0
            || now - auth_time <= self.reauthenticate_within_minutes * 60
    }
}

/// Whether every role and organization the rules name exists and belongs to
/// `organization_id` or its sub-organizations (a rule naming another tree's role is
/// refused, naming `rules`).
pub async fn check_rules(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    rules: &[Rule],
) -> Result<std::result::Result<(), Invalid>> {
    let reach = crate::organizations::Reach::of(db, &[organization_id]).await?;
    let refused = |n: usize, what: &str| {
        Ok(Err(Invalid {
            field: "rules",
            message: format!("rules[{n}]: {what} is not one of this organization's."),
        }))
    };
    for (n, rule) in rules.iter().enumerate() {
        for role in std::iter::once(rule.impersonator_role).chain(rule.target_role) {
            let known = crate::entities::role::Entity::find_by_id(role)
                .one(db)
                .await?
                .is_some_and(|r| reach.contains(r.organization_id));
            if !known {
                return refused(n, &format!("the role {role}"));
            }
        }
        if let Some(organization) = rule.target_organization {
            let known = reach.contains(organization)
                && crate::organizations::find(db, organization)
                    .await?
                    .is_some();
            if !known {
                return refused(n, &format!("the organization {organization}"));
            }
        }
    }
    Ok(Ok(()))
}

/// The impersonation settings of an organization (defaults when never set).
pub async fn impersonation(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
) -> Result<Impersonation> {
    let stored = setting::Entity::find_by_id((organization_id, IMPERSONATION.to_owned()))
        .one(db)
        .await?;
    Ok(stored
        .and_then(|s| serde_json::from_value(s.value).ok())
        .unwrap_or_default())
}

/// [`impersonation`], kept while nothing changes (`crate::store::cache`).
pub async fn impersonation_cached(
    reads: &crate::store::cache::Reads<'_>,
    organization_id: Uuid,
) -> Result<Impersonation> {
    struct Settings;
    impl crate::store::cache::Kind for Settings {
        type Key = Uuid;
        type Value = Impersonation;
    }
    let load = impersonation(reads.db(), organization_id);
    reads.remembered::<Settings>(organization_id, load).await
}

/// Stores the impersonation settings of an organization.
pub async fn set_impersonation(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    value: &Impersonation,
) -> Result<()> {
    setting::Entity::insert(setting::ActiveModel {
        organization_id: Set(organization_id),
        key: Set(IMPERSONATION.to_owned()),
        value: Set(serde_json::to_value(value).map_err(anyhow::Error::from)?),
        updated_at: Set(clock::now()),
    })
    .on_conflict(
        OnConflict::columns([setting::Column::OrganizationId, setting::Column::Key])
            .update_columns([setting::Column::Value, setting::Column::UpdatedAt])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Back to the defaults.
pub async fn reset_impersonation(db: &impl ConnectionTrait, organization_id: Uuid) -> Result<()> {
    setting::Entity::delete_by_id((organization_id, IMPERSONATION.to_owned()))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_stored_before_a_setting_existed_reads_with_its_default() {
        let stored = serde_json::json!({
            "enableEmailNotification": false,
            "requireReason": true,
            "maxSessionDurationMinutes": 30
        });
        let read: Impersonation = serde_json::from_value(stored).unwrap();
        assert!(!read.enable_email_notification && read.require_reason);
        assert_eq!(read.max_session_duration_minutes, 30);
        assert_eq!(read.reauthenticate_within_minutes, 0);
        assert!(!read.ticket_required && read.ticket_pattern.is_empty());
        assert_eq!(read.approval, Approval::None, "no approval: the WSO2 flow");
    }

    #[test]
    fn each_setting_out_of_range_is_refused_naming_its_field() {
        let with = |change: fn(&mut Impersonation)| {
            let mut value = Impersonation::default();
            change(&mut value);
            value.validate().map_err(|e| e.field)
        };
        assert_eq!(with(|_| {}), Ok(()));
        assert_eq!(
            with(|v| v.max_session_duration_minutes = 0),
            Err("maxSessionDurationMinutes")
        );
        assert_eq!(
            with(|v| v.reauthenticate_within_minutes = 61),
            Err("reauthenticateWithinMinutes")
        );
        assert_eq!(
            with(|v| v.reauthenticate_within_minutes = -1),
            Err("reauthenticateWithinMinutes")
        );
        assert_eq!(
            with(|v| v.ticket_pattern = "(".into()),
            Err("ticketPattern")
        );
        assert_eq!(
            with(|v| v.ticket_pattern = "a".repeat(MAX_TICKET_PATTERN + 1)),
            Err("ticketPattern")
        );
        // Small to write, huge to compile: refused by the size limit, not built.
        assert_eq!(
            with(|v| v.ticket_pattern = r"\w{1000}\w{1000}\w{1000}".into()),
            Err("ticketPattern")
        );
        assert_eq!(with(|v| v.ticket_pattern = "[A-Z]+-[0-9]+".into()), Ok(()));
        assert_eq!(with(|v| v.allow_full_mode = false), Err("allowFullMode"));
        assert_eq!(
            with(|v| v.request_expiry_minutes = 4),
            Err("requestExpiryMinutes")
        );
        assert_eq!(
            with(|v| v.approval_window_minutes = 0),
            Err("approvalWindowMinutes")
        );
        assert_eq!(
            with(|v| v.approval_window_minutes = MAX_APPROVAL_WINDOW_MINUTES + 1),
            Err("approvalWindowMinutes")
        );
        assert_eq!(
            with(|v| (v.default_mode, v.allow_full_mode) = (Mode::ReadOnly, false)),
            Ok(())
        );
    }

    #[test]
    fn tickets_are_checked_whole_against_the_pattern() {
        let mut value = Impersonation {
            ticket_required: true,
            ticket_pattern: "[A-Z]+-[0-9]+".into(),
            ..Impersonation::default()
        };
        assert!(value.accepts_ticket("SUP-4711"));
        assert!(value.accepts_ticket(" SUP-4711 "));
        assert!(
            !value.accepts_ticket("x SUP-4711"),
            "the whole ticket matches"
        );
        assert!(!value.accepts_ticket(""), "required");
        assert!(!value.accepts_ticket(&format!("A-{}", "1".repeat(MAX_TICKET))));
        value.ticket_required = false;
        assert!(value.accepts_ticket(""), "optional: none is fine");
        assert!(!value.accepts_ticket("nope"), "but one given must match");
    }

    #[test]
    fn the_mode_is_the_one_asked_for_or_the_default_and_full_only_where_allowed() {
        let mut value = Impersonation::default();
        assert_eq!(value.mode_for(None), Some(Mode::Full));
        assert_eq!(value.mode_for(Some(Mode::ReadOnly)), Some(Mode::ReadOnly));
        value.default_mode = Mode::ReadOnly;
        value.allow_full_mode = false;
        assert_eq!(value.mode_for(None), Some(Mode::ReadOnly));
        assert_eq!(value.mode_for(Some(Mode::Full)), None);
    }

    #[test]
    fn the_first_matching_rule_decides_and_none_matching_refuses() {
        let (support, admins, vip) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let (home, branch) = (Uuid::from_u128(10), Uuid::from_u128(11));
        let rule = |target_role, target_organization, effect| Rule {
            impersonator_role: support,
            target_role,
            target_organization,
            effect,
        };
        assert!(
            rules_allow(&[], &[], &[], home),
            "no rules: the built-in ones"
        );
        let rules = [
            rule(Some(vip), None, Effect::Deny),
            rule(None, Some(branch), Effect::Allow),
        ];
        assert!(rules_allow(&rules, &[support], &[], branch));
        assert!(
            !rules_allow(&rules, &[support], &[vip], branch),
            "the deny comes first"
        );
        assert!(
            !rules_allow(&rules, &[support], &[], home),
            "no rule matches"
        );
        assert!(
            !rules_allow(&rules, &[admins], &[], branch),
            "not a member of the role"
        );
    }

    #[test]
    fn a_step_up_asks_for_a_sign_in_within_the_minutes_set() {
        let mut value = Impersonation::default();
        assert!(value.sign_in_fresh(0, 1_000_000), "off by default");
        value.reauthenticate_within_minutes = 5;
        assert!(value.sign_in_fresh(1_000_000 - 300, 1_000_000));
        assert!(!value.sign_in_fresh(1_000_000 - 301, 1_000_000));
    }
}
