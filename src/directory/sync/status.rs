//! What each source is doing, for `GET /api/v1/sync/status` and `staffgate sync`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::time::{Millis, now_millis, to_datetime};

/// The outcome of one full sync or refresh.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorNote {
    pub at: DateTime<Utc>,
    pub message: String,
}

/// One source's status.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SourceStatus {
    pub source: String,
    pub url: String,
    /// `persist` (RFC 4533) or `poll`.
    pub mode: String,
    /// In persist mode: the change stream is live.
    pub connected: bool,
    pub last_sync: Option<RunSummary>,
    /// The last dry run, kept apart so it never reads as the last real sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_dry_run: Option<RunSummary>,
    pub last_change_at: Option<DateTime<Utc>>,
    pub changes_applied: u64,
    /// How stale staffgate's view may be: 0 while a persist stream is live, otherwise the
    /// time since the last successful contact.
    pub lag_ms: Option<i64>,
    pub last_error: Option<ErrorNote>,
    /// Entries read so far by a running full sync (or persist mode's initial refresh).
    pub progress: Option<usize>,
    /// The sync running now, if one is: what it is doing and how far it got.
    pub running: Option<RunningSync>,
    /// Full syncs (and initial refreshes) begun since the daemon started, finished or not:
    /// more than the finished ones shows work that was cut off and begun again.
    pub runs_started: u64,
    #[serde(skip)]
    #[schema(ignore)]
    pub last_ok: Option<Millis>,
}

/// What a running sync is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Reading the directory.
    Reading,
    /// Writing the plan, in bounded transactions.
    Applying,
}

/// A sync in progress, as the status shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunningSync {
    pub phase: Phase,
    pub since: DateTime<Utc>,
    pub entries_read: usize,
    /// People the plan names (joiners, movers and leavers), once it is being applied.
    pub to_apply: usize,
    pub applied: usize,
}

/// Live counters of one running sync; updated without locks by the reader and applier.
#[derive(Debug)]
pub struct Progress {
    since: Millis,
    pub read: AtomicUsize,
    applying: AtomicBool,
    to_apply: AtomicUsize,
    applied: AtomicUsize,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            since: now_millis(),
            read: AtomicUsize::new(0),
            applying: AtomicBool::new(false),
            to_apply: AtomicUsize::new(0),
            applied: AtomicUsize::new(0),
        }
    }

    /// The plan of `n` people starts being written.
    pub fn applying(&self, n: usize) {
        self.to_apply.store(n, Ordering::Relaxed);
        self.applied.store(0, Ordering::Relaxed);
        self.applying.store(true, Ordering::Relaxed);
    }

    /// `n` more people are written (committed).
    pub fn applied(&self, n: usize) {
        self.applied.fetch_add(n, Ordering::Relaxed);
    }

    fn view(&self) -> RunningSync {
        RunningSync {
            phase: if self.applying.load(Ordering::Relaxed) {
                Phase::Applying
            } else {
                Phase::Reading
            },
            since: to_datetime(self.since),
            entries_read: self.read.load(Ordering::Relaxed),
            to_apply: self.to_apply.load(Ordering::Relaxed),
            applied: self.applied.load(Ordering::Relaxed),
        }
    }
}

/// Every source's status, shared by the runners and the API.
#[derive(Default)]
pub struct Board {
    sources: RwLock<BTreeMap<String, SourceStatus>>,
    /// Live counters of running syncs.
    progress: RwLock<BTreeMap<String, Arc<Progress>>>,
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

    /// A successful contact: the last error is history (the log keeps it), not status.
    pub fn ok(&self, source: &str) {
        self.update(source, |s| {
            s.last_ok = Some(now_millis());
            s.last_error = None;
        });
    }

    /// Counters for a starting full sync (or initial refresh).
    pub fn start_progress(&self, source: &str) -> Arc<Progress> {
        let counter = Arc::new(Progress::new());
        self.update(source, |s| s.runs_started += 1);
        self.progress
            .write()
            .expect("status lock")
            .insert(source.to_owned(), counter.clone());
        counter
    }

    /// The counters of the sync running on `source`, if one is.
    pub fn progress(&self, source: &str) -> Option<Arc<Progress>> {
        self.progress
            .read()
            .expect("status lock")
            .get(source)
            .cloned()
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
                s.running = progress.get(&s.source).map(|p| p.view());
                s.progress = s.running.as_ref().map(|r| r.entries_read);
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

/// A sync's counters on the board while it runs; gone from the status when dropped.
pub struct Tracked<'a> {
    board: &'a Board,
    source: String,
    pub progress: Arc<Progress>,
}

impl<'a> Tracked<'a> {
    pub fn start(board: &'a Board, source: &str) -> Tracked<'a> {
        Tracked {
            progress: board.start_progress(source),
            board,
            source: source.to_owned(),
        }
    }
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        self.board.end_progress(&self.source);
    }
}

pub fn when(at: Millis) -> DateTime<Utc> {
    to_datetime(at)
}
