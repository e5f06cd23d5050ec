//! What each source is doing, for `GET /api/v1/sync/status` and `staffgate sync`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::RwLock;
use std::sync::atomic::AtomicUsize;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::time::{Millis, now_millis, to_datetime};

/// The outcome of one full sync or refresh.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    pub at: DateTime<Utc>,
    pub duration_ms: u64,
    /// Of which: reading the directory, until the last entry.
    pub search_ms: u64,
    pub entries: usize,
    pub joiners: usize,
    pub movers: usize,
    pub leavers: usize,
    pub skipped: usize,
    /// `apply`, `hold`, or `dry-run`.
    pub verdict: String,
    /// The held plan, when the guard held it.
    pub plan_id: Option<i64>,
}

/// The last error of a source.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorNote {
    pub at: DateTime<Utc>,
    pub message: String,
}

/// One source's status.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SourceStatus {
    pub source: String,
    pub url: String,
    /// `persist` (RFC 4533) or `poll`.
    pub mode: String,
    /// In persist mode: the change stream is live.
    pub connected: bool,
    pub last_sync: Option<RunSummary>,
    pub last_change_at: Option<DateTime<Utc>>,
    pub changes_applied: u64,
    /// How stale staffgate's view may be: 0 while a persist stream is live, otherwise the
    /// time since the last successful contact.
    pub lag_ms: Option<i64>,
    pub last_error: Option<ErrorNote>,
    /// Entries read so far by a running full sync.
    pub progress: Option<usize>,
    #[serde(skip)]
    pub last_ok: Option<Millis>,
}

/// Every source's status, shared by the runners and the API.
#[derive(Default)]
pub struct Board {
    sources: RwLock<BTreeMap<String, SourceStatus>>,
    /// Live entry counters of running full syncs.
    progress: RwLock<BTreeMap<String, Arc<AtomicUsize>>>,
}

impl Board {
    pub fn register(&self, source: &str, url: &str, mode: &str) {
        self.sources.write().expect("status lock").insert(
            source.to_owned(),
            SourceStatus {
                source: source.to_owned(),
                url: url.to_owned(),
                mode: mode.to_owned(),
                ..SourceStatus::default()
            },
        );
    }

    pub fn update(&self, source: &str, f: impl FnOnce(&mut SourceStatus)) {
        if let Some(s) = self.sources.write().expect("status lock").get_mut(source) {
            f(s);
        }
    }

    pub fn error(&self, source: &str, message: String) {
        self.update(source, |s| {
            s.connected = false;
            s.last_error = Some(ErrorNote {
                at: Utc::now(),
                message,
            });
        });
    }

    pub fn ok(&self, source: &str) {
        self.update(source, |s| s.last_ok = Some(now_millis()));
    }

    /// A counter for a starting full sync.
    pub fn start_progress(&self, source: &str) -> Arc<AtomicUsize> {
        let counter = Arc::new(AtomicUsize::new(0));
        self.progress
            .write()
            .expect("status lock")
            .insert(source.to_owned(), counter.clone());
        counter
    }

    pub fn end_progress(&self, source: &str) {
        self.progress.write().expect("status lock").remove(source);
    }

    pub fn snapshot(&self) -> Vec<SourceStatus> {
        let now = now_millis();
        let progress = self.progress.read().expect("status lock");
        self.sources
            .read()
            .expect("status lock")
            .values()
            .map(|s| {
                let mut s = s.clone();
                s.lag_ms = if s.connected {
                    Some(0)
                } else {
                    s.last_ok.map(|t| now - t)
                };
                s.progress = progress
                    .get(&s.source)
                    .map(|c| c.load(std::sync::atomic::Ordering::Relaxed));
                s
            })
            .collect()
    }

    /// A source's state as stored beside its cookie.
    pub fn json(&self, source: &str) -> String {
        let s = self
            .sources
            .read()
            .expect("status lock")
            .get(source)
            .cloned();
        serde_json::to_string(&s).unwrap_or_else(|_| "null".into())
    }
}

pub fn when(at: Millis) -> DateTime<Utc> {
    to_datetime(at)
}
