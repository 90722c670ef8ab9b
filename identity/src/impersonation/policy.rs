//! Who may impersonate whom (SPEC §2.1, §2.2): every rule in one ordered function,
//! [`decide`], over the facts it looks at ([`Facts`]), with a typed [`Refusal`]. The
//! subject token, the token exchange and the Console's Impersonate User button all ask it;
//! the facts are read by [`pair`] (cached per request count by [`pair_cached`]) and
//! [`sign_in`].

use crate::entities::{
    application, idp_session, impersonation_session,
    user::{self, UserStatus},
};
use crate::oauth::{clients, grant_type};
use crate::roles::{self, Audience};
use crate::settings::{Impersonation, Mode};
use crate::store::cache::{Kind, Reads};
use crate::{Result, audit, clock, scopes};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// Why an impersonation is refused, in the order the rules are checked. The text is for
/// the audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the application is not enabled for impersonation (subject token and token exchange)")]
    ApplicationNotEnabled,
    #[error("the impersonator may no longer sign in")]
    ImpersonatorInactive,
    #[error("the impersonator lacks internal_user_impersonate for this application")]
    NoPermission,
    #[error("the requested user does not exist")]
    UnknownTarget,
    #[error("an impersonator cannot impersonate themselves")]
    SelfImpersonation,
    #[error("the requested user is not active")]
    InactiveTarget,
    #[error("the requested user belongs to another organization")]
    OtherOrganization,
    #[error("the requested user holds privileges the impersonator lacks")]
    MorePrivileged,
    #[error("no rule of the organization lets the impersonator impersonate this user")]
    NotInRules,
    #[error("the session is itself impersonated (no chaining)")]
    Chaining,
    #[error("the session already impersonates another user")]
    AlreadyImpersonating,
    #[error("the organization asks for an approval, and there is none to use")]
    ApprovalRequired,
    #[error("the impersonator's password was not entered recently enough")]
    StaleSignIn,
    #[error("no reason given")]
    NoReason,
    #[error("no ticket given, or not in the organization's format")]
    TicketRefused,
    #[error("the organization allows only read-only impersonation")]
    FullModeNotAllowed,
}

/// Which of SPEC §2.1's checks a refusal belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// 1: the application may do this at all.
    Application,
    /// 2 to 4: the impersonator's permission, the target, privilege.
    Pair,
    /// 5: the impersonator's sign-in (no chaining, one at a time).
    SignIn,
    /// The organization's settings: the user's or a second administrator's approval.
    Approval,
    /// The organization's settings: a password entered recently (step-up).
    StepUp,
    /// The organization's settings: a reason.
    Reason,
    /// The organization's settings: a ticket.
    Ticket,
    /// The organization's settings: the modes it allows.
    Mode,
}

impl Refusal {
    pub fn check(self) -> Check {
        match self {
            Refusal::ApplicationNotEnabled => Check::Application,
            Refusal::ImpersonatorInactive
            | Refusal::NoPermission
            | Refusal::UnknownTarget
            | Refusal::SelfImpersonation
            | Refusal::InactiveTarget
            | Refusal::OtherOrganization
            | Refusal::MorePrivileged
            | Refusal::NotInRules => Check::Pair,
            Refusal::Chaining | Refusal::AlreadyImpersonating => Check::SignIn,
            Refusal::ApprovalRequired => Check::Approval,
            Refusal::StaleSignIn => Check::StepUp,
            Refusal::NoReason => Check::Reason,
            Refusal::TicketRefused => Check::Ticket,
            Refusal::FullModeNotAllowed => Check::Mode,
        }
    }

    /// What the client is told when one of the organization's requirements of a start
    /// refused (step-up, reason, ticket, mode); `None` for the other rules, whose answer
    /// depends on the step.
    pub fn requirement(self) -> Option<&'static str> {
        Some(match self {
            Refusal::ApprovalRequired => {
                "An approval is needed to impersonate this user: request access, and start once it is approved."
            }
            Refusal::StaleSignIn => {
                "The impersonator must enter their password again before impersonating."
            }
            Refusal::NoReason => "A reason is required to impersonate a user.",
            Refusal::TicketRefused => {
                "A ticket in the organization's format is required to impersonate a user."
            }
            Refusal::FullModeNotAllowed => "The organization allows only read-only impersonation.",
            _ => return None,
        })
    }

    /// The `impersonation-denied` record of this refusal: `impersonator` asked for
    /// `requested_subject` through `app`.
    pub fn event(self, impersonator: &str, requested_subject: &str, app: &str) -> audit::Event {
        // Every refusal is recorded through here: counted by its kind (the variant's name).
        metrics::counter!("impersonation_refusals_total", "reason" => format!("{self:?}"))
            .increment(1);
        audit::Event {
            action: audit::action::IMPERSONATION_DENIED,
            success: false,
            actor_id: Some(impersonator.to_owned()),
            target_id: Some(requested_subject.to_owned()),
            client_id: Some(app.to_owned()),
            reason: self.to_string(),
            ..audit::Event::default()
        }
    }
}

/// A user as the rules see them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Person {
    pub id: Uuid,
    pub active: bool,
    pub organization_id: Uuid,
}

impl From<&user::Model> for Person {
    fn from(user: &user::Model) -> Self {
        Self {
            id: user.id,
            active: user.status == UserStatus::Active,
            organization_id: user.organization_id,
        }
    }
}

/// The impersonator's sign-in, for check 5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignIn {
    /// Neither impersonated nor impersonating.
    Free,
    /// It carries an impersonation: its user is somebody else's impersonator now.
    Impersonated,
    /// An impersonation it started is running.
    Impersonating,
    /// Decided when the session is stored, atomically with the exchange's other writes
    /// (`super::session::start_in`): reading it first could not stop a race anyway.
    AtStart,
}

/// Everything the rules look at.
#[derive(Clone, Debug)]
pub struct Facts {
    /// Check 1: the application has the subject token response and the token exchange.
    pub application_enabled: bool,
    pub impersonator: Person,
    /// Check 2: the impersonator holds `internal_user_impersonate` for the application,
    /// and the application is authorized for it.
    pub permission: bool,
    /// Check 3: the requested user, if there is one.
    pub target: Option<Person>,
    /// Check 4: the target holds a scope the impersonator does not.
    pub target_holds_more: bool,
    /// The organization's rules of who may impersonate whom allow the pair (or there are
    /// none).
    pub rules_allow: bool,
    /// Check 5.
    pub sign_in: SignIn,
    /// An approval the organization asks for is there to use (or none is asked for).
    pub approved: bool,
    /// The impersonator's password was entered recently enough (or no step-up is set).
    pub sign_in_fresh: bool,
    /// The organization asks for a reason.
    pub reason_required: bool,
    pub reason_given: bool,
    /// The ticket is one the organization accepts (or none is asked for).
    pub ticket_accepted: bool,
    /// The mode asked for is one the organization allows.
    pub mode_allowed: bool,
}

/// The rules, in order: the first that fails refuses.
pub fn decide(facts: &Facts) -> std::result::Result<(), Refusal> {
    let impersonator = facts.impersonator;
    if !facts.application_enabled {
        return Err(Refusal::ApplicationNotEnabled);
    }
    if !impersonator.active {
        return Err(Refusal::ImpersonatorInactive);
    }
    if !facts.permission {
        return Err(Refusal::NoPermission);
    }
    let Some(target) = facts.target else {
        return Err(Refusal::UnknownTarget);
    };
    if target.id == impersonator.id {
        return Err(Refusal::SelfImpersonation);
    }
    if !target.active {
        return Err(Refusal::InactiveTarget);
    }
    if target.organization_id != impersonator.organization_id {
        return Err(Refusal::OtherOrganization);
    }
    if facts.target_holds_more {
        return Err(Refusal::MorePrivileged);
    }
    if !facts.rules_allow {
        return Err(Refusal::NotInRules);
    }
    match facts.sign_in {
        SignIn::Impersonated => return Err(Refusal::Chaining),
        SignIn::Impersonating => return Err(Refusal::AlreadyImpersonating),
        SignIn::Free | SignIn::AtStart => {}
    }
    if !facts.approved {
        return Err(Refusal::ApprovalRequired);
    }
    if !facts.sign_in_fresh {
        return Err(Refusal::StaleSignIn);
    }
    if facts.reason_required && !facts.reason_given {
        return Err(Refusal::NoReason);
    }
    if !facts.ticket_accepted {
        return Err(Refusal::TicketRefused);
    }
    if !facts.mode_allowed {
        return Err(Refusal::FullModeNotAllowed);
    }
    Ok(())
}

/// Check 1 alone: whether `app` is enabled for impersonation at all.
pub fn application_enabled(app: &application::Model) -> bool {
    app.subject_token_enabled && clients::allows_grant(app, grant_type::TOKEN_EXCHANGE)
}

/// What checks 2 to 4 read for an impersonator, a requested user and an application.
#[derive(Clone, Debug)]
pub struct Pair {
    pub permission: bool,
    /// The requested user, if the impersonator has the permission and the user exists.
    pub target: Option<user::Model>,
    pub target_holds_more: bool,
    /// The roles of each, for the organization's rules.
    pub impersonator_roles: Vec<Uuid>,
    pub target_roles: Vec<Uuid>,
}

/// Reads checks 2 to 4's facts.
pub async fn pair(
    db: &impl ConnectionTrait,
    app: &application::Model,
    impersonator: &user::Model,
    target_id: &str,
) -> Result<Pair> {
    let mine = roles::held(db, impersonator.id).await?;
    let authorized = crate::api_resources::authorized_scopes(db, app.id).await?;
    let permission = mine
        .scopes(Audience::Application(app))
        .contains(scopes::USER_IMPERSONATE)
        && authorized.iter().any(|s| s == scopes::USER_IMPERSONATE);
    with_target(db, &mine, permission, target_id).await
}

/// Checks 2 to 4's facts for a request of access, before any application is chosen: the
/// permission held through any application.
pub async fn pair_anywhere(
    db: &impl ConnectionTrait,
    impersonator: &user::Model,
    target_id: &str,
) -> Result<Pair> {
    let mine = roles::held(db, impersonator.id).await?;
    let permission = mine
        .scopes(Audience::Anywhere)
        .contains(scopes::USER_IMPERSONATE);
    with_target(db, &mine, permission, target_id).await
}

/// Checks 3 and 4's facts, given the impersonator's holdings and check 2's answer.
async fn with_target(
    db: &impl ConnectionTrait,
    mine: &roles::Holdings,
    permission: bool,
    target_id: &str,
) -> Result<Pair> {
    let refused = Pair {
        permission,
        target: None,
        target_holds_more: false,
        impersonator_roles: mine.roles().to_vec(),
        target_roles: Vec::new(),
    };
    if !permission {
        return Ok(refused);
    }
    let Ok(target_id) = Uuid::parse_str(target_id) else {
        return Ok(refused);
    };
    let Some(target) = crate::users::find(db, target_id).await? else {
        return Ok(refused);
    };
    let theirs = roles::held(db, target.id).await?;
    let holds_more = !theirs
        .scopes(Audience::Anywhere)
        .is_subset(&mine.scopes(Audience::Anywhere));
    Ok(Pair {
        permission,
        target_holds_more: holds_more,
        target: Some(target),
        impersonator_roles: mine.roles().to_vec(),
        target_roles: theirs.roles().to_vec(),
    })
}

/// [`pair`], kept while nothing changes (`crate::store::cache`): the exchange reads it
/// without a round trip.
pub async fn pair_cached(
    reads: &Reads<'_>,
    app: &application::Model,
    impersonator: &user::Model,
    target_id: &str,
) -> Result<Pair> {
    struct Pairs;
    impl Kind for Pairs {
        type Key = (Uuid, Uuid, String);
        type Value = Pair;
    }
    let key = (app.id, impersonator.id, target_id.to_owned());
    let load = pair(reads.db(), app, impersonator, target_id);
    reads.remembered::<Pairs>(key, load).await
}

/// Reads check 5's fact for the impersonator's sign-in.
pub async fn sign_in(db: &impl ConnectionTrait, session: &idp_session::Model) -> Result<SignIn> {
    if let Some(id) = session.impersonation_session_id
        && super::session::live(db, id).await?.is_some()
    {
        return Ok(SignIn::Impersonated);
    }
    let running = impersonation_session::Entity::find()
        .filter(impersonation_session::Column::IdpSessionId.eq(session.id))
        .filter(impersonation_session::Column::EndedAt.is_null())
        .filter(impersonation_session::Column::ExpiresAt.gt(clock::now()))
        .one(db)
        .await?;
    Ok(match running {
        Some(_) => SignIn::Impersonating,
        None => SignIn::Free,
    })
}

/// What the impersonator brought to a request, for the organization's settings.
#[derive(Clone, Copy, Debug, Default)]
pub struct Asked<'a> {
    pub reason: &'a str,
    pub ticket: &'a str,
    /// When the impersonator last entered their password.
    pub auth_time: i64,
    /// When the request was made.
    pub at: i64,
    /// The mode asked for (`None`: the organization's default).
    pub mode: Option<Mode>,
    /// An approval of the kind the organization asks for is there to use
    /// (`super::approval::usable`).
    pub approved: bool,
}

impl Facts {
    /// The facts of a request, from what was read. Without `settings` (the Console's
    /// button, a running session's re-check) the organization's requirements of a start
    /// (step-up, reason, ticket) are not asked.
    pub fn of(
        app: &application::Model,
        impersonator: &user::Model,
        pair: &Pair,
        sign_in: SignIn,
        settings: Option<&Impersonation>,
        asked: &Asked<'_>,
    ) -> Self {
        Self {
            application_enabled: application_enabled(app),
            impersonator: impersonator.into(),
            permission: pair.permission,
            target: pair.target.as_ref().map(Person::from),
            target_holds_more: pair.target_holds_more,
            rules_allow: match (settings, &pair.target) {
                (Some(settings), Some(target)) => crate::settings::rules_allow(
                    &settings.rules,
                    &pair.impersonator_roles,
                    &pair.target_roles,
                    target.organization_id,
                ),
                _ => true,
            },
            sign_in,
            approved: asked.approved
                || settings.is_none_or(|s| s.approval == crate::settings::Approval::None),
            sign_in_fresh: settings.is_none_or(|s| s.sign_in_fresh(asked.auth_time, asked.at)),
            reason_required: settings.is_some_and(|s| s.require_reason),
            reason_given: !asked.reason.trim().is_empty(),
            ticket_accepted: settings.is_none_or(|s| s.accepts_ticket(asked.ticket)),
            mode_allowed: settings.is_none_or(|s| s.mode_for(asked.mode).is_some()),
        }
    }
}

/// Whether the Console offers Impersonate User to `impersonator` on `target`'s page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Availability {
    /// One's own page: no button.
    Hidden,
    /// The button, disabled, with the one-line reason.
    Disabled(&'static str),
    /// The button works.
    Ready,
}

/// The Console's answer for the Impersonate User button: the rules, run now against My
/// Account (where impersonation lands) for the impersonator signed in to `console`. The
/// reason is asked for later, so it is not checked here.
pub async fn availability(
    db: &impl ConnectionTrait,
    console: &crate::sessions::Current,
    target: &user::Model,
) -> Result<Availability> {
    let impersonator = &console.user;
    if impersonator.id == target.id {
        return Ok(Availability::Hidden);
    }
    let Some(my_account) = clients::find(db, scopes::MY_ACCOUNT_CLIENT_ID).await? else {
        return Ok(Availability::Disabled(
            "My Account is disabled, so there is nowhere to impersonate into.",
        ));
    };
    let pair = pair(db, &my_account, impersonator, &target.id.to_string()).await?;
    let sign_in = sign_in(db, &console.session).await?;
    let mut facts = Facts::of(
        &my_account,
        impersonator,
        &pair,
        sign_in,
        None,
        &Asked::default(),
    );
    let settings = crate::settings::impersonation(db, target.organization_id).await?;
    facts.rules_allow = crate::settings::rules_allow(
        &settings.rules,
        &pair.impersonator_roles,
        &pair.target_roles,
        target.organization_id,
    );
    Ok(match decide(&facts) {
        Ok(()) => Availability::Ready,
        Err(Refusal::NoPermission) => {
            Availability::Disabled("You need the Impersonator role to impersonate users.")
        }
        Err(Refusal::InactiveTarget) => Availability::Disabled("This user is locked or disabled."),
        Err(Refusal::MorePrivileged) => {
            Availability::Disabled("This user holds privileges that you do not have.")
        }
        Err(Refusal::OtherOrganization) => {
            Availability::Disabled("This user belongs to another organization.")
        }
        Err(Refusal::NotInRules) => Availability::Disabled(
            "The organization's impersonation rules do not let you impersonate this user.",
        ),
        Err(Refusal::ApplicationNotEnabled) => {
            Availability::Disabled("My Account is not enabled for impersonation.")
        }
        Err(Refusal::Chaining | Refusal::AlreadyImpersonating) => {
            Availability::Disabled("Stop your current impersonation first.")
        }
        Err(
            Refusal::UnknownTarget
            | Refusal::SelfImpersonation
            | Refusal::ImpersonatorInactive
            | Refusal::ApprovalRequired
            | Refusal::StaleSignIn
            | Refusal::NoReason
            | Refusal::TicketRefused
            | Refusal::FullModeNotAllowed,
        ) => Availability::Hidden,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMPERSONATOR: Uuid = Uuid::from_u128(1);
    const TARGET: Uuid = Uuid::from_u128(2);
    const HOME: Uuid = Uuid::from_u128(10);
    const ELSEWHERE: Uuid = Uuid::from_u128(11);

    /// Facts under which every rule passes.
    fn allowed() -> Facts {
        Facts {
            application_enabled: true,
            impersonator: Person {
                id: IMPERSONATOR,
                active: true,
                organization_id: HOME,
            },
            permission: true,
            target: Some(Person {
                id: TARGET,
                active: true,
                organization_id: HOME,
            }),
            target_holds_more: false,
            rules_allow: true,
            sign_in: SignIn::Free,
            approved: true,
            sign_in_fresh: true,
            reason_required: true,
            reason_given: true,
            ticket_accepted: true,
            mode_allowed: true,
        }
    }

    /// A change to the facts of a case.
    type Change = Box<dyn FnOnce(&mut Facts)>;

    fn target(change: impl FnOnce(&mut Person)) -> impl FnOnce(&mut Facts) {
        move |facts| change(facts.target.as_mut().unwrap())
    }

    #[test]
    fn each_rule_refuses_with_its_reason() {
        let cases: Vec<(&str, Change, std::result::Result<(), Refusal>)> = vec![
            ("every rule met", Box::new(|_| {}), Ok(())),
            (
                "no reason needed when none is required",
                Box::new(|f| (f.reason_required, f.reason_given) = (false, false)),
                Ok(()),
            ),
            (
                "the exchange leaves check 5 to the commit",
                Box::new(|f| f.sign_in = SignIn::AtStart),
                Ok(()),
            ),
            (
                "application without subject token or exchange",
                Box::new(|f| f.application_enabled = false),
                Err(Refusal::ApplicationNotEnabled),
            ),
            (
                "impersonator disabled or locked",
                Box::new(|f| f.impersonator.active = false),
                Err(Refusal::ImpersonatorInactive),
            ),
            (
                "no internal_user_impersonate",
                Box::new(|f| f.permission = false),
                Err(Refusal::NoPermission),
            ),
            (
                "no such user",
                Box::new(|f| f.target = None),
                Err(Refusal::UnknownTarget),
            ),
            (
                "oneself",
                Box::new(target(|t| t.id = IMPERSONATOR)),
                Err(Refusal::SelfImpersonation),
            ),
            (
                "target disabled or locked",
                Box::new(target(|t| t.active = false)),
                Err(Refusal::InactiveTarget),
            ),
            (
                "target of another organization",
                Box::new(target(|t| t.organization_id = ELSEWHERE)),
                Err(Refusal::OtherOrganization),
            ),
            (
                "target holds more",
                Box::new(|f| f.target_holds_more = true),
                Err(Refusal::MorePrivileged),
            ),
            (
                "no rule of the organization allows the pair",
                Box::new(|f| f.rules_allow = false),
                Err(Refusal::NotInRules),
            ),
            (
                "the sign-in is itself impersonated",
                Box::new(|f| f.sign_in = SignIn::Impersonated),
                Err(Refusal::Chaining),
            ),
            (
                "the sign-in already impersonates",
                Box::new(|f| f.sign_in = SignIn::Impersonating),
                Err(Refusal::AlreadyImpersonating),
            ),
            (
                "the organization asks for an approval and there is none",
                Box::new(|f| f.approved = false),
                Err(Refusal::ApprovalRequired),
            ),
            (
                "the password was entered too long ago",
                Box::new(|f| f.sign_in_fresh = false),
                Err(Refusal::StaleSignIn),
            ),
            (
                "a reason is required and none given",
                Box::new(|f| f.reason_given = false),
                Err(Refusal::NoReason),
            ),
            (
                "no ticket, or one not in the format",
                Box::new(|f| f.ticket_accepted = false),
                Err(Refusal::TicketRefused),
            ),
            (
                "a full session where only read-only ones are allowed",
                Box::new(|f| f.mode_allowed = false),
                Err(Refusal::FullModeNotAllowed),
            ),
        ];
        for (case, change, expected) in cases {
            let mut facts = allowed();
            change(&mut facts);
            assert_eq!(decide(&facts), expected, "{case}");
        }
    }

    #[test]
    fn rules_are_checked_in_the_order_of_the_spec() {
        // Everything wrong at once: each fix uncovers the next rule, in order.
        let mut facts = Facts {
            application_enabled: false,
            impersonator: Person {
                id: IMPERSONATOR,
                active: false,
                organization_id: HOME,
            },
            permission: false,
            target: None,
            target_holds_more: true,
            rules_allow: false,
            sign_in: SignIn::Impersonated,
            approved: false,
            sign_in_fresh: false,
            reason_required: true,
            reason_given: false,
            ticket_accepted: false,
            mode_allowed: false,
        };
        let fixes: Vec<(Refusal, Change)> = vec![
            (
                Refusal::ApplicationNotEnabled,
                Box::new(|f| f.application_enabled = true),
            ),
            (
                Refusal::ImpersonatorInactive,
                Box::new(|f| f.impersonator.active = true),
            ),
            (Refusal::NoPermission, Box::new(|f| f.permission = true)),
            (
                Refusal::UnknownTarget,
                Box::new(|f| {
                    f.target = Some(Person {
                        id: IMPERSONATOR,
                        active: false,
                        organization_id: ELSEWHERE,
                    })
                }),
            ),
            (
                Refusal::SelfImpersonation,
                Box::new(|f| f.target.as_mut().unwrap().id = TARGET),
            ),
            (
                Refusal::InactiveTarget,
                Box::new(|f| f.target.as_mut().unwrap().active = true),
            ),
            (
                Refusal::OtherOrganization,
                Box::new(|f| f.target.as_mut().unwrap().organization_id = HOME),
            ),
            (
                Refusal::MorePrivileged,
                Box::new(|f| f.target_holds_more = false),
            ),
            (Refusal::NotInRules, Box::new(|f| f.rules_allow = true)),
            (
                Refusal::Chaining,
                Box::new(|f| f.sign_in = SignIn::Impersonating),
            ),
            (
                Refusal::AlreadyImpersonating,
                Box::new(|f| f.sign_in = SignIn::Free),
            ),
            (Refusal::ApprovalRequired, Box::new(|f| f.approved = true)),
            (Refusal::StaleSignIn, Box::new(|f| f.sign_in_fresh = true)),
            (Refusal::NoReason, Box::new(|f| f.reason_given = true)),
            (
                Refusal::TicketRefused,
                Box::new(|f| f.ticket_accepted = true),
            ),
            (
                Refusal::FullModeNotAllowed,
                Box::new(|f| f.mode_allowed = true),
            ),
        ];
        for (expected, fix) in fixes {
            assert_eq!(decide(&facts), Err(expected));
            fix(&mut facts);
        }
        assert_eq!(decide(&facts), Ok(()));
    }

    #[test]
    fn refusals_belong_to_the_checks_the_wire_answers_for() {
        assert_eq!(Refusal::ApplicationNotEnabled.check(), Check::Application);
        for pair in [
            Refusal::ImpersonatorInactive,
            Refusal::NoPermission,
            Refusal::UnknownTarget,
            Refusal::SelfImpersonation,
            Refusal::InactiveTarget,
            Refusal::OtherOrganization,
            Refusal::MorePrivileged,
            Refusal::NotInRules,
        ] {
            assert_eq!(pair.check(), Check::Pair, "{pair}");
        }
        assert_eq!(Refusal::Chaining.check(), Check::SignIn);
        assert_eq!(Refusal::AlreadyImpersonating.check(), Check::SignIn);
        assert_eq!(Refusal::ApprovalRequired.check(), Check::Approval);
        assert_eq!(Refusal::StaleSignIn.check(), Check::StepUp);
        assert_eq!(Refusal::NoReason.check(), Check::Reason);
        assert_eq!(Refusal::TicketRefused.check(), Check::Ticket);
        assert_eq!(Refusal::FullModeNotAllowed.check(), Check::Mode);
    }
}
