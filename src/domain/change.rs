//! The change log's events. Every audit entry is one [`Change`]: the services write them in
//! the transaction that makes the change, and every other replica's follower reads them back
//! and matches them exhaustively, so an event a follower does not handle does not compile,
//! and whether an event takes access away is a method here, not a list of names elsewhere.
//!
//! Stored as three columns: `event` (the serde tag), `subject` (the field renamed
//! `subject`), and `details` (the other fields, as a JSON object). Entries written before
//! this type existed have exactly these shapes, so they read back and their hashes, which
//! cover the stored text, still verify.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::staff::StaffId;

/// A name list in the log, or only its length for a large import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Listed<T> {
    Count(usize),
    Items(Vec<T>),
}

/// A mover in a `directory.sync` entry: a name, or a name with what changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Mover {
    Named {
        username: String,
        #[serde(default)]
        changed: Value,
    },
    Name(String),
}

impl Mover {
    pub fn username(&self) -> &str {
        match self {
            Mover::Named { username, .. } | Mover::Name(username) => username,
        }
    }
}

/// A leaver in a `directory.sync` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Leaver {
    Named {
        username: String,
        #[serde(flatten)]
        rest: Map<String, Value>,
    },
    Name(String),
}

impl Leaver {
    pub fn username(&self) -> &str {
        match self {
            Leaver::Named { username, .. } | Leaver::Name(username) => username,
        }
    }
}

/// One entry of the change log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event")]
pub enum Change {
    // People.
    #[serde(rename = "staff.put")]
    StaffPut {
        #[serde(rename = "subject")]
        username: String,
        status: Value,
        groups: Value,
    },
    #[serde(rename = "staff.activate")]
    StaffActivated {
        #[serde(rename = "subject")]
        username: String,
        reason: String,
    },
    #[serde(rename = "staff.first_login_done")]
    FirstLoginDone {
        #[serde(rename = "subject")]
        username: String,
        /// How the finishing session met the second factor (`totp`, `idp:amr:mfa`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        factor: Option<String>,
    },
    /// The id and epoch let other replicas refuse the person from the entry alone, before
    /// they re-read anything; the rest is the receipt.
    #[serde(rename = "staff.offboard")]
    StaffOffboarded {
        #[serde(rename = "subject")]
        username: String,
        staff_id: StaffId,
        epoch: i64,
        #[serde(flatten)]
        receipt: Map<String, Value>,
    },
    #[serde(rename = "staff.reinstate")]
    StaffReinstated {
        #[serde(rename = "subject")]
        username: String,
        reason: String,
        status: String,
    },
    #[serde(rename = "staff.offboard_scheduled")]
    OffboardingScheduled {
        #[serde(rename = "subject")]
        username: String,
        schedule_id: i64,
        at: Value,
        reason: String,
    },
    #[serde(rename = "staff.offboard_schedule_cancelled")]
    ScheduledOffboardingCancelled {
        /// The schedule's id, as text.
        #[serde(rename = "subject")]
        schedule: String,
        schedule_id: i64,
    },
    #[serde(rename = "nda.acknowledged")]
    NdaAcknowledged {
        #[serde(rename = "subject")]
        username: String,
        version: String,
        language: String,
        sha256: String,
        address: String,
    },
    // Tokens.
    #[serde(rename = "token.issue")]
    TokenIssued {
        #[serde(rename = "subject")]
        username: String,
        token_id: i64,
        channel: String,
        actions: Value,
        expires_at: Value,
        /// How the asking session met the second factor (`totp`, `idp:amr:mfa`); absent
        /// when an admin issued, or the requirement is off.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        factor: Option<String>,
    },
    #[serde(rename = "token.revoke")]
    TokenRevoked {
        #[serde(rename = "subject")]
        username: String,
        token_id: i64,
        reason: String,
        revoked: usize,
    },
    #[serde(rename = "token.revoke_staff")]
    StaffTokensRevoked {
        #[serde(rename = "subject")]
        username: String,
        reason: String,
        revoked: usize,
    },
    #[serde(rename = "token.revoke_channel")]
    ChannelTokensRevoked {
        #[serde(rename = "subject")]
        channel: String,
        reason: String,
        revoked: usize,
    },
    // Channels.
    #[serde(rename = "channel.put")]
    ChannelPut {
        #[serde(rename = "subject")]
        channel: String,
        #[serde(flatten)]
        definition: Map<String, Value>,
    },
    #[serde(rename = "channel.secret_set")]
    ChannelSecretSet {
        #[serde(rename = "subject")]
        channel: String,
    },
    // Policies and requirements.
    #[serde(rename = "policy.reload")]
    PoliciesReloaded {
        #[serde(rename = "subject")]
        what: String,
        policies: usize,
        nda_versions: usize,
    },
    #[serde(rename = "policy.reload_refused")]
    PolicyReloadRefused {
        /// `policies` or `nda`.
        #[serde(rename = "subject")]
        what: String,
        #[serde(flatten)]
        problems: Map<String, Value>,
    },
    #[serde(rename = "compliance.requirement_off")]
    RequirementOff {
        /// The setting that turned it off.
        #[serde(rename = "subject")]
        setting: String,
        requirement: String,
    },
    // The directory.
    #[serde(rename = "directory.sync")]
    DirectorySynced {
        #[serde(rename = "subject")]
        source: String,
        joiners: Listed<String>,
        movers: Listed<Mover>,
        leavers: Listed<Leaver>,
        tokens_revoked: usize,
        #[serde(default)]
        held_plan: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        joined_in_all: Option<usize>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        slice: bool,
    },
    #[serde(rename = "directory.plan_held")]
    PlanHeld {
        #[serde(rename = "subject")]
        source: String,
        plan_id: i64,
        reason: String,
        leavers: usize,
        joiners: usize,
        movers: usize,
    },
    // Signing in and the second factor.
    #[serde(rename = "signin")]
    SignedIn {
        #[serde(rename = "subject")]
        username: String,
        session_id: i64,
        address: String,
        status: Value,
    },
    #[serde(rename = "signin.failed")]
    SigninFailed {
        /// The account name as typed (unparsed: it may not exist).
        #[serde(rename = "subject")]
        account: String,
        why: String,
    },
    #[serde(rename = "signout")]
    SignedOut {
        #[serde(rename = "subject")]
        username: String,
        session_id: i64,
    },
    #[serde(rename = "signout.everywhere")]
    SignedOutEverywhere {
        #[serde(rename = "subject")]
        username: String,
        sessions_ended: u64,
    },
    /// An identity provider ended this person's sessions from it (a back-channel logout, or
    /// a refresh it refused), and the tokens issued from them.
    #[serde(rename = "signout.provider")]
    IdpLoggedOut {
        #[serde(rename = "subject")]
        username: String,
        source: String,
        /// `provider logout`, or the refresh refusal that ended them.
        reason: String,
        sessions_ended: usize,
        tokens_revoked: usize,
    },
    #[serde(rename = "totp.enrolled")]
    TotpEnrolled {
        #[serde(rename = "subject")]
        username: String,
        session_id: i64,
    },
    #[serde(rename = "totp.verified")]
    TotpVerified {
        #[serde(rename = "subject")]
        username: String,
        session_id: i64,
    },
    #[serde(rename = "totp.recovery_used")]
    RecoveryCodeUsed {
        #[serde(rename = "subject")]
        username: String,
        session_id: i64,
    },
    /// New recovery codes, asked for with a fresh TOTP code; the unused old ones stop working.
    #[serde(rename = "totp.recovery_renewed")]
    RecoveryCodesRenewed {
        #[serde(rename = "subject")]
        username: String,
        session_id: i64,
    },
    #[serde(rename = "totp.failed")]
    TotpFailed {
        #[serde(rename = "subject")]
        username: String,
    },
    #[serde(rename = "totp.replayed")]
    TotpReplayed {
        #[serde(rename = "subject")]
        username: String,
    },
    #[serde(rename = "totp.recovery_failed")]
    RecoveryCodeFailed {
        #[serde(rename = "subject")]
        username: String,
    },
    #[serde(rename = "totp.locked_out")]
    TotpLockedOut {
        #[serde(rename = "subject")]
        username: String,
        failures: i64,
        for_secs: i64,
    },
    #[serde(rename = "totp.reset")]
    TotpReset {
        #[serde(rename = "subject")]
        username: String,
        reason: String,
        had_totp: bool,
        sessions_ended: u64,
        tokens_revoked: usize,
    },
    // API keys.
    #[serde(rename = "api_key.create")]
    ApiKeyCreated {
        /// The key's name.
        #[serde(rename = "subject")]
        name: String,
        id: i64,
        role: Value,
    },
    #[serde(rename = "api_key.revoke")]
    ApiKeyRevoked {
        #[serde(rename = "subject")]
        key: String,
        id: i64,
    },
    #[serde(rename = "api_key.bootstrap")]
    BootstrapKeyCreated {
        #[serde(rename = "subject")]
        name: String,
        id: i64,
    },
    // SCIM provisioning tokens.
    #[serde(rename = "scim_token.create")]
    ScimTokenCreated {
        #[serde(rename = "subject")]
        source: String,
        id: i64,
    },
    #[serde(rename = "scim_token.revoke")]
    ScimTokenRevoked {
        #[serde(rename = "subject")]
        source: String,
        id: i64,
    },
    // The daemon.
    #[serde(rename = "broker.denied")]
    BrokerDenials {
        #[serde(rename = "subject")]
        what: String,
        denials: Value,
    },
    #[serde(rename = "database.backup")]
    DatabaseBackedUp {
        #[serde(rename = "subject")]
        backend: String,
        bytes: u64,
    },
}

/// A stored entry that is not a [`Change`] this build knows.
#[derive(Debug, thiserror::Error)]
#[error("change log entry {event:?} does not read as a known change: {reason}")]
pub struct UnreadableChange {
    pub event: String,
    pub reason: String,
}

impl Change {
    /// The three stored columns: event, subject, details.
    pub fn to_entry(&self) -> (String, String, String) {
        let Ok(Value::Object(mut fields)) = serde_json::to_value(self) else {
            unreachable!("a change serialises to an object");
        };
        let take = |fields: &mut Map<String, Value>, key: &str| match fields.remove(key) {
            Some(Value::String(s)) => s,
            _ => String::new(),
        };
        let event = take(&mut fields, "event");
        let subject = take(&mut fields, "subject");
        (event, subject, Value::Object(fields).to_string())
    }

    /// Reads a stored entry back.
    pub fn from_entry(
        event: &str,
        subject: &str,
        details: &str,
    ) -> Result<Change, UnreadableChange> {
        let unreadable = |reason: String| UnreadableChange {
            event: event.chars().take(64).collect(),
            reason,
        };
        let mut fields = match serde_json::from_str::<Value>(details) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err(unreadable("details are not an object".into())),
            Err(e) => return Err(unreadable(e.to_string())),
        };
        fields.insert("event".into(), Value::String(event.to_owned()));
        fields.insert("subject".into(), Value::String(subject.to_owned()));
        serde_json::from_value(Value::Object(fields)).map_err(|e| unreadable(e.to_string()))
    }

    /// Whether applying it can take access away: a replica acknowledges each one it applied,
    /// which is what receipts wait for.
    pub fn removes_access(&self) -> bool {
        match self {
            Change::StaffOffboarded { .. }
            | Change::TokenRevoked { .. }
            | Change::StaffTokensRevoked { .. }
            | Change::ChannelTokensRevoked { .. }
            | Change::PoliciesReloaded { .. }
            | Change::DirectorySynced { .. }
            | Change::TotpReset { .. }
            | Change::IdpLoggedOut { .. }
            | Change::ChannelPut { .. }
            | Change::ChannelSecretSet { .. } => true,
            Change::StaffPut { .. }
            | Change::StaffActivated { .. }
            | Change::FirstLoginDone { .. }
            | Change::StaffReinstated { .. }
            | Change::OffboardingScheduled { .. }
            | Change::ScheduledOffboardingCancelled { .. }
            | Change::NdaAcknowledged { .. }
            | Change::TokenIssued { .. }
            | Change::PolicyReloadRefused { .. }
            | Change::RequirementOff { .. }
            | Change::PlanHeld { .. }
            | Change::SignedIn { .. }
            | Change::SigninFailed { .. }
            | Change::SignedOut { .. }
            | Change::SignedOutEverywhere { .. }
            | Change::TotpEnrolled { .. }
            | Change::TotpVerified { .. }
            | Change::RecoveryCodeUsed { .. }
            | Change::RecoveryCodesRenewed { .. }
            | Change::TotpFailed { .. }
            | Change::TotpReplayed { .. }
            | Change::RecoveryCodeFailed { .. }
            | Change::TotpLockedOut { .. }
            | Change::ApiKeyCreated { .. }
            | Change::ApiKeyRevoked { .. }
            | Change::BootstrapKeyCreated { .. }
            | Change::ScimTokenCreated { .. }
            | Change::ScimTokenRevoked { .. }
            | Change::BrokerDenials { .. }
            | Change::DatabaseBackedUp { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests;
