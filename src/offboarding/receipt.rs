//! The receipt an offboarding returns and keeps.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ActionSet;

/// Proof of what an offboarding took away.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// Which replicas applied it; filled when answering, never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation: Option<crate::replica::propagation::Propagation>,
}

/// One channel on a receipt.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
