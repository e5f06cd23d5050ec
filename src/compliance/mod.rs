//! The compliance gate every token issuance passes through, and the first-login facts it
//! reads: an active person, TOTP enrolled (and verified in the session that asks), and the
//! NDA version in force acknowledged. Each requirement can be turned off by configuration.

pub mod nda;
mod rules;
mod service;

use crate::audit::Actor;
use crate::channels::LiveChannel;
use crate::domain::staff::{StaffMember, StaffStatus};
use crate::tokens::{IssueRequest, Issued, TokenError, Tokens};

pub use rules::{ReloadError, Reloaded, Rules};
pub use service::{Compliance, NdaAckError, Report};

/// Why the gate refused.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The person is pending (first login not done) or offboarded.
    #[error("staff member is {}, not active", .0.as_str())]
    NotActive(StaffStatus),
    /// No confirmed TOTP enrolment.
    #[error("two-factor authentication is not set up; finish first login")]
    TotpNotEnrolled,
    /// The session asking has not passed the second factor.
    #[error("this session has not passed two-factor authentication")]
    TotpNotVerified,
    /// The NDA version in force is not acknowledged.
    #[error("NDA version {0} is not acknowledged")]
    NdaNotAcknowledged(String),
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// Who asks for the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requester {
    /// The person themselves, in a session that did or did not pass TOTP.
    Session { totp_verified: bool },
    /// An admin on the person's behalf: the person must still be enrolled and acknowledged.
    Admin,
}

/// What the gate knows about a person besides their row.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub totp_enrolled: bool,
    pub nda_acked: Vec<String>,
}

/// Proof that a staff member passed the gate. Only [`Compliance::clear`] makes one.
pub struct Cleared<'a> {
    staff: &'a StaffMember,
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
