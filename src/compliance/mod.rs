//! The compliance gate every token issuance passes through, and the first-login facts it
//! reads: an active person, TOTP enrolled (and verified in the session that asks), and the
//! NDA version in force acknowledged. Each requirement can be turned off by configuration.

pub mod nda;
mod rules;
mod service;

use crate::audit::Actor;
use crate::channels::LiveChannel;
use crate::tokens::{IssueRequest, Issued, TokenError, Tokens};

pub use rules::{ReloadError, Reloaded, Rules};
pub use service::{Compliance, NdaAckError, Report};

pub use crate::tokens::gate::{Cleared, Requester};

/// Why the gate refused, or issuance after it.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error(transparent)]
    Refused(#[from] crate::tokens::gate::GateRefusal),
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// What the gate knows about a person besides their row.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub totp_enrolled: bool,
    pub nda_acked: Vec<String>,
}

/// Issues a token for a person who passed the gate.
pub async fn issue_token(
    tokens: &Tokens,
    actor: &Actor,
    cleared: Cleared<'_>,
    channel: &LiveChannel,
    req: IssueRequest,
) -> Result<Issued, GateError> {
    Ok(tokens
        .issue(actor, cleared, &channel.spec, &channel.facts, req)
        .await?)
}
