//! Delegated administration that cannot escalate: **a caller can grant, assign or authorize
//! only what it holds itself.** Every domain function that hands out power (role
//! membership, role scopes, an application's API authorizations) or that acts on a user
//! who may hold power (password, email, status, deletion) takes the caller's
//! [`Authority`] and refuses with a [`Refusal`] before it changes anything, so no handler,
//! API or page can forget the rule.
//!
//! What a caller holds:
//! - a management scope (`internal_*` of the management API) only through a role whose
//!   audience is the organization, as for the management API itself;
//! - any other scope (impersonation, a business API's) through any role it holds;
//! - a caller holding *every* management scope (an administrator) also holds every
//!   scope that is not a management scope: the organization's APIs are theirs to hand out.
//!
//! A Bearer caller holds what its token carries *and* what its user holds now; an
//! application's own token holds what the application is authorized for. The operator
//! (seeding, the command line) holds everything.

use crate::{Result, scopes};
use sea_orm::ConnectionTrait;
use std::collections::BTreeSet;
use uuid::Uuid;

/// What a caller holds, and who the caller is (for the audit record of a refusal).
#[derive(Clone, Debug)]
pub struct Authority {
    actor: Option<Uuid>,
    operator: bool,
    scopes: BTreeSet<String>,
}

/// A refusal under the delegation rule, and who was refused: nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{why}")]
pub struct Refusal {
    /// The user refused, if a user was calling.
    pub actor: Option<Uuid>,
    pub why: Why,
}

/// Why the delegation rule refused a change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Why {
    /// The caller lacks `scope`, which the change would hand out or which the user holds.
    #[error("the caller does not hold {scope}, so it cannot {what}")]
    NotHeld { scope: String, what: &'static str },
    /// A setting of a system application that no API or page changes.
    #[error("the {0} of a system application cannot be changed")]
    SystemApplication(&'static str),
    /// A setting of a system application only a caller with every management scope changes.
    #[error("only an administrator holding every management scope can change a system application")]
    SystemApplicationNeedsAdministrator,
}

impl Authority {
    /// What `user_id` holds now, through its roles (see the module's rules).
    pub async fn of_user(db: &impl ConnectionTrait, user_id: Uuid) -> Result<Self> {
        Ok(Self {
            actor: Some(user_id),
            operator: false,
            scopes: held_by(db, user_id).await?,
        })
    }

    /// What an access token's bearer holds: the token's scopes, and for a user's token only
    /// those the user still holds.
    pub async fn of_token(
        db: &impl ConnectionTrait,
        user_id: Option<Uuid>,
        token_scopes: &[String],
    ) -> Result<Self> {
        let carried: BTreeSet<String> = token_scopes.iter().cloned().collect();
        let Some(user_id) = user_id else {
            return Ok(Self {
                actor: None,
                operator: false,
                scopes: carried,
            });
        };
        let user = Self::of_user(db, user_id).await?;
        let scopes = carried
            .into_iter()
            .filter(|scope| user.holds(scope))
            .collect();
        Ok(Self {
            actor: Some(user_id),
            operator: false,
            scopes,
        })
    }

    /// A user acting on their own account only (My Account), which needs no lookup.
    pub fn owner(user_id: Uuid) -> Self {
        Self {
            actor: Some(user_id),
            operator: false,
            scopes: BTreeSet::new(),
        }
    }

    /// A refusal of this caller for `why`.
    pub fn refusal(&self, why: Why) -> Refusal {
        Refusal {
            actor: self.actor,
            why,
        }
    }

    /// The operator: seeding and the command line, which hold everything.
    pub fn operator() -> Self {
        Self {
            actor: None,
            operator: true,
            scopes: BTreeSet::new(),
        }
    }

    /// Whether this is the operator (seeding, the command line).
    pub fn is_operator(&self) -> bool {
        self.operator
    }

    /// The user acting, if any.
    pub fn actor(&self) -> Option<Uuid> {
        self.actor
    }

    /// Whether the caller holds every management scope.
    pub fn is_administrator(&self) -> bool {
        self.operator || scopes::MANAGEMENT.iter().all(|s| self.scopes.contains(*s))
    }

    /// Whether the caller holds `scope`.
    pub fn holds(&self, scope: &str) -> bool {
        self.operator
            || self.scopes.contains(scope)
            || (!scopes::MANAGEMENT.contains(&scope) && self.is_administrator())
    }

    /// `Ok` when the caller holds every one of `wanted`; otherwise the first it lacks,
    /// refused as `what` ("assign this role", ...).
    pub fn check<'a>(
        &self,
        wanted: impl IntoIterator<Item = &'a String>,
        what: &'static str,
    ) -> std::result::Result<(), Refusal> {
        match wanted.into_iter().find(|scope| !self.holds(scope)) {
            Some(scope) => Err(self.refusal(Why::NotHeld {
                scope: scope.clone(),
                what,
            })),
            None => Ok(()),
        }
    }

    /// `Ok` when the caller holds everything `target` holds, so it may act on that user
    /// (change their password, email, status or name, or delete them).
    pub async fn check_over_user(
        &self,
        db: &impl ConnectionTrait,
        target: Uuid,
    ) -> Result<std::result::Result<(), Refusal>> {
        if self.operator || self.actor == Some(target) {
            return Ok(Ok(()));
        }
        let theirs = held_by(db, target).await?;
        Ok(self.check(&theirs, "change a user who holds it"))
    }
}

/// The scopes `user_id` holds over the server's data; an administrator's implied scopes
/// are not listed.
async fn held_by(db: &impl ConnectionTrait, user_id: Uuid) -> Result<BTreeSet<String>> {
    let held = crate::roles::held(db, user_id).await?;
    Ok(held.scopes(crate::roles::Audience::Administration))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holding(scopes: &[&str]) -> Authority {
        Authority {
            actor: Some(Uuid::nil()),
            operator: false,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn a_caller_holds_what_it_was_given_and_nothing_more() {
        let helpdesk = holding(&["internal_user_mgt_update"]);
        assert!(helpdesk.holds("internal_user_mgt_update"));
        assert!(!helpdesk.holds("internal_user_mgt_delete"));
        assert!(!helpdesk.holds(scopes::USER_IMPERSONATE));
        assert!(!helpdesk.holds("orders:read"));
        assert!(!helpdesk.is_administrator());
        let refusal = helpdesk
            .check(&["internal_role_mgt_update".to_owned()], "assign this role")
            .unwrap_err();
        assert_eq!(refusal.actor, Some(Uuid::nil()));
        assert_eq!(
            refusal.to_string(),
            "the caller does not hold internal_role_mgt_update, so it cannot assign this role"
        );
    }

    #[test]
    fn an_administrator_holds_every_other_scope_but_no_unknown_management_one() {
        let admin = holding(scopes::MANAGEMENT);
        assert!(admin.is_administrator());
        assert!(admin.holds(scopes::USER_IMPERSONATE));
        assert!(admin.holds("orders:read"));
        assert!(
            admin
                .check(&[scopes::USER_IMPERSONATE.to_owned()], "x")
                .is_ok()
        );
        let almost = holding(&scopes::MANAGEMENT[1..]);
        assert!(!almost.is_administrator());
        assert!(!almost.holds("orders:read"));
    }

    #[test]
    fn the_operator_holds_everything() {
        let operator = Authority::operator();
        assert!(operator.is_administrator());
        assert!(operator.holds("anything"));
    }
}
