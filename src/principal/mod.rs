//! Who is asking, and what their role lets them change. A [`Principal`] is minted only by
//! the code that authenticated it ([`api_key::authenticate`], [`console::from_signed_in`]);
//! the permits a mutating service takes are minted only from a principal
//! whose role allows them. Fields are private, so a forgotten check does not compile.

pub mod api_key;
pub mod console;

use crate::audit::Actor;
use crate::domain::Role;

/// An authenticated caller of the admin API.
pub struct Principal {
    actor: Actor,
    role: Role,
}

/// The role does not allow the call.
#[derive(Debug, thiserror::Error)]
#[error("this call needs the {need} role")]
pub struct Forbidden {
    pub need: &'static str,
}

/// Proof of the admin role: channels, policies, keys, directory, people's records.
pub struct AdminPermit {
    actor: Actor,
}

/// Proof that the caller may offboard, schedule and reinstate people (HR or admin).
pub struct HrPermit {
    actor: Actor,
}

/// Proof that the caller may read the audit log (auditor or admin).
pub struct AuditorPermit {
    _checked: (),
}

impl Principal {
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn admin(&self) -> Result<AdminPermit, Forbidden> {
        match self.role {
            Role::Admin => Ok(AdminPermit {
                actor: self.actor.clone(),
            }),
            Role::Hr | Role::Auditor => Err(Forbidden { need: "admin" }),
        }
    }

    pub fn hr(&self) -> Result<HrPermit, Forbidden> {
        match self.role {
            Role::Admin | Role::Hr => Ok(HrPermit {
                actor: self.actor.clone(),
            }),
            Role::Auditor => Err(Forbidden {
                need: "hr or admin",
            }),
        }
    }

    pub fn auditor(&self) -> Result<AuditorPermit, Forbidden> {
        match self.role {
            Role::Admin | Role::Auditor => Ok(AuditorPermit { _checked: () }),
            Role::Hr => Err(Forbidden {
                need: "auditor or admin",
            }),
        }
    }
}

impl AdminPermit {
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
}

impl HrPermit {
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// HR's permit for an identity source the deployment has trusted to reinstate rehires
    /// (`[scim.<name>] reinstate = true`): it acts under its own name, and only there.
    pub fn delegated_to_source(actor: Actor) -> HrPermit {
        HrPermit { actor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn as_role(role: Role) -> Principal {
        Principal {
            actor: Actor("key:test#1".into()),
            role,
        }
    }

    #[test]
    fn only_an_admin_gets_the_admin_permit() {
        assert!(as_role(Role::Admin).admin().is_ok());
        assert!(as_role(Role::Hr).admin().is_err());
        assert!(as_role(Role::Auditor).admin().is_err());
    }

    #[test]
    fn hr_and_admin_may_offboard_an_auditor_may_not() {
        assert!(as_role(Role::Admin).hr().is_ok());
        assert!(as_role(Role::Hr).hr().is_ok());
        assert!(as_role(Role::Auditor).hr().is_err());
    }

    #[test]
    fn hr_cannot_read_the_audit_log() {
        assert!(as_role(Role::Hr).auditor().is_err());
        assert!(as_role(Role::Auditor).auditor().is_ok());
    }
}
