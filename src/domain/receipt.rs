//! The receipt an offboarding returns and keeps, and the propagation report it carries:
//! plain data, here so that the rooms that render or fill it (mail, replica, offboarding)
//! need not import each other.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ActionSet;
use super::time::Millis;

/// Proof of what an offboarding took away.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Receipt {
    pub staff: String,
    pub name: String,
    pub email: String,
    pub offboarded_at: DateTime<Utc>,
    /// The API key (or system job) that asked.
    pub by: String,
    pub reason: String,
    pub tokens_revoked: usize,
    pub sessions_ended: u64,
    pub api_keys_revoked: u64,
    /// Every channel the person could reach or held a token for.
    pub channels: Vec<ChannelLine>,
    /// The audit entry that records this offboarding.
    pub audit_seq: i64,
    /// Set when answering a second offboarding of the same person: this is the first
    /// receipt, and nothing more was revoked. Never stored.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub already_offboarded: bool,
    /// Which replicas applied it; filled when answering, never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation: Option<Propagation>,
}

/// One channel on a receipt.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChannelLine {
    pub channel: String,
    /// What policy permitted right before the offboarding.
    pub actions: ActionSet,
    pub tokens_revoked: usize,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ChannelLine {
    pub fn new(channel: &str, actions: ActionSet) -> Self {
        ChannelLine {
            channel: channel.to_owned(),
            actions,
            tokens_revoked: 0,
            last_used_at: None,
        }
    }
}

/// Where a replica stands on one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplicaState {
    /// It applied the change.
    Confirmed,
    /// Not yet; it is current, so it will.
    Pending,
    /// It has not applied the change and refuses every brokered call until it catches up.
    FailingClosed,
}

/// One replica on a receipt.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplicaReport {
    pub id: String,
    pub name: String,
    pub state: ReplicaState,
    /// From the change being written to this replica applying it. `None` when it loaded
    /// the change at start rather than applying it live.
    #[schema(value_type = Option<i64>)]
    pub confirmed_after_ms: Option<Millis>,
    #[schema(value_type = i64)]
    pub last_heartbeat_ms_ago: Millis,
}

/// The propagation of one change.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Propagation {
    /// The audit entry of the change.
    pub entry: i64,
    /// Every live replica confirmed.
    pub confirmed: bool,
    /// No replica is still pending: each confirmed or is failing closed.
    pub settled: bool,
    pub replicas: Vec<ReplicaReport>,
}
