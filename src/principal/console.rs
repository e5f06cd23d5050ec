//! The console's way in: a person signed in on `/login` (password or SSO, then TOTP) whose
//! directory groups map to a role in `[console]`. Called on every request with the record
//! just read, so a group change takes effect at the next click.

use super::Principal;
use crate::audit::Actor;
use crate::config::console::ConsoleRoles;
use crate::domain::staff::{StaffMember, StaffStatus};

/// The principal of a signed-in, active person, if their groups give them a console role.
pub fn from_signed_in(staff: &StaffMember, roles: &ConsoleRoles) -> Option<Principal> {
    if staff.status != StaffStatus::Active {
        return None;
    }
    let role = roles.role_for(&staff.groups)?;
    Some(Principal {
        actor: Actor::staff(staff.username.as_str()),
        role,
    })
}
