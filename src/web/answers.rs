//! The API's small answers as types: what a handler returns and what a client reads back
//! are one struct, so a renamed field fails to compile on both sides instead of drifting.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::staff::{StaffMember, StaffStatus};
use crate::domain::{ActionSet, ChannelId, Username};

/// How many tokens a revocation ended.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Revoked {
    pub revoked: usize,
}

/// An API key revoked.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyRevoked {
    pub revoked: bool,
}

/// A channel secret stored (it is never shown back).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SecretSet {
    pub channel: ChannelId,
    pub secret_set: bool,
}

/// An offboarding scheduled for later.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Scheduled {
    pub scheduled: i64,
    pub staff: Username,
    pub at: DateTime<Utc>,
}

/// An offboarding still being written (the database is slow): poll `receipt`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OffboardingInProgress {
    /// Always `in_progress`.
    pub state: String,
    pub staff: Username,
    pub receipt: String,
    pub message: String,
}

/// A scheduled offboarding cancelled.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Cancelled {
    pub cancelled: i64,
}

/// A person reinstated, with the status they are back to.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reinstated {
    pub staff: Username,
    pub status: StaffStatus,
}

/// A person's TOTP reset.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TotpReset {
    pub staff: Username,
    pub totp: String,
}

/// A session ended.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SignedOut {
    pub signed_out: bool,
}

/// Every session of the caller ended.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionsEnded {
    pub sessions_ended: u64,
}

/// One channel the caller can reach.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MyChannel {
    pub channel: ChannelId,
    pub actions: ActionSet,
}

/// Where the caller is in first login.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FirstLoginState {
    pub totp_enrolled: bool,
    pub totp_verified_in_session: bool,
    /// How this session met the second factor: `totp`, or the identity provider's factor the
    /// source accepts (`idp:amr:mfa`); absent until it has.
    pub second_factor: Option<String>,
    pub nda_required: Option<String>,
    pub nda_acknowledged: Vec<String>,
    pub nda_ok: bool,
}

/// `GET /me`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub staff: StaffMember,
    pub session_expires_at: DateTime<Utc>,
    pub channels: Vec<MyChannel>,
    pub first_login: FirstLoginState,
}

/// The caller's live sessions, and which one is asking.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MySessions {
    pub current: i64,
    pub sessions: Vec<crate::store::sessions::SessionView>,
}

/// Recovery codes, shown once when TOTP enrolment is confirmed.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
    pub note: String,
}

/// The second factor passed in this session.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Verified {
    pub verified: bool,
    /// Left after a recovery code was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes_left: Option<usize>,
}

/// The NDA version in force, in the asked language; every field but `version` is absent
/// when none is in force.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NdaToShow {
    pub version: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub text: Option<NdaText>,
}

/// The text of one NDA version as shown to the person acknowledging it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NdaText {
    pub title: String,
    pub effective: chrono::NaiveDate,
    pub language: String,
    pub sha256: String,
    pub text: String,
    pub acknowledged: bool,
}

/// An NDA version acknowledged, and the person's status after it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Acknowledged {
    pub acknowledged: String,
    pub status: StaffStatus,
}

/// A 202 from `POST /staff/{username}/offboard`: scheduled for later, or still being written.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum OffboardAccepted {
    Scheduled(Scheduled),
    InProgress(OffboardingInProgress),
}

/// Every error the API answers: a stable code and a safe message.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The error itself.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, for programs (`staff_not_found`, `role_forbidden`…).
    pub code: String,
    /// For people; never holds a secret or a database error's text.
    pub message: String,
}
