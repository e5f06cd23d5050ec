//! What each identity provider has done, for `staffgate sync --status` and `/metrics`.
//! Refresh counts are kept by the replica that runs the refresh job.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Counters of one provider since start.
#[derive(Default)]
pub struct Stats {
    pub refreshed: AtomicU64,
    pub ended_at_refresh: AtomicU64,
    pub refresh_failed: AtomicU64,
    pub logouts: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn error(&self, e: Option<String>) {
        *self.last_error.lock().expect("stats lock") = e;
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().expect("stats lock").clone()
    }
}

/// One identity provider as an admin sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProviderStatus {
    pub source: String,
    pub issuer: String,
    /// Seconds since discovery last succeeded (`null`: never yet).
    pub discovered_secs_ago: Option<u64>,
    /// Seconds since the provider's key set was fetched.
    pub key_set_secs_ago: Option<u64>,
    /// Sessions refreshed, ended because the provider refused, and refreshes that failed.
    pub refreshed: u64,
    pub ended_at_refresh: u64,
    pub refresh_failed: u64,
    /// Back-channel logouts applied.
    pub logouts: u64,
    /// The latest discovery or refresh error, cleared by the next success.
    pub last_error: Option<String>,
}
