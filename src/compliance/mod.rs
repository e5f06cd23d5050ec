//! The compliance gate every token issuance passes through.
//!
//! Today it requires an active staff member. The first-login work adds enrolled TOTP and the
//! current NDA acknowledgement here, and every issuing path (self-service or an admin on
//! someone's behalf) already goes through [`issue_token`].

pub mod nda;

use crate::audit::Actor;
use crate::channels::LiveChannel;
use crate::domain::staff::{StaffMember, StaffStatus};
use crate::tokens::{IssueRequest, Issued, TokenError, Tokens};

/// Why the gate refused.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The person is pending (first login not done) or offboarded.
    #[error("staff member is {}, not active", .0.as_str())]
    NotActive(StaffStatus),
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// Proof that a staff member passed the gate. Only [`clear`] makes one.
pub struct Cleared<'a> {
    staff: &'a StaffMember,
}

/// Checks the gate for one staff member.
pub fn clear(staff: &StaffMember) -> Result<Cleared<'_>, GateError> {
    if staff.status != StaffStatus::Active {
        return Err(GateError::NotActive(staff.status));
    }
    Ok(Cleared { staff })
}

/// Issues a token for a person who passed the gate.
pub async fn issue_token(
    tokens: &Tokens,
    actor: &Actor,
    cleared: Cleared<'_>,
    channel: &LiveChannel,
    req: IssueRequest,
) -> Result<Issued, GateError> {
    Ok(tokens.issue(actor, cleared.staff, channel, req).await?)
}
