//! The directory sync service: runs each LDAP source (full syncs, persist streams), puts
//! every answer through reconcile and the guard, applies or holds the plan.

mod apply;
mod hold;
mod plans;
mod pull;
mod runner;
pub mod status;
mod syncrepl;
mod take;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

pub use apply::Applied;
pub use plans::{HeldPlan, PlanView};
use status::{Board, RunSummary};
pub use take::Answer;

use crate::audit::Actor;
use crate::channels::Registry;
use crate::config::scim_pull::ScimPullSource;
use crate::directory::guard::{self, Context, Verdict};
use crate::directory::ldap::config::Mode;
use crate::directory::ldap::{LdapSource, LdapSyncError, search};
use crate::directory::reconcile::{Coverage, Plan};
use crate::domain::time::{Millis, now_millis};
use crate::offboarding::{OffboardError, Offboarding};
use crate::policy::Engine;
use crate::store::{Store, StoreError};
use crate::tokens::Verifier;

/// How long streamed leavers count towards the guard.
const GUARD_WINDOW: Millis = 10 * 60 * 1000;

/// Why a sync call failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No source by that name is configured.
    #[error("no directory source named {0:?} is configured")]
    UnknownSource(String),
    /// A full sync of this source is already running.
    #[error("a sync of {0} is already running")]
    Busy(String),
    /// No held plan has that id.
    #[error("no plan {0}")]
    PlanNotFound(i64),
    /// The plan was applied or superseded already.
    #[error("plan {id} is {state}, not held")]
    PlanNotHeld { id: i64, state: String },
    #[error(transparent)]
    Ldap(#[from] LdapSyncError),
    #[error(transparent)]
    Pull(#[from] crate::directory::scim::pull::PullError),
    #[error(transparent)]
    Offboard(#[from] OffboardError),
    #[error("stored plan is unreadable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a sync run answers: the plan, the guard's verdict, and what was applied.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Outcome {
    #[schema(value_type = Object)]
    pub plan: Plan,
    #[schema(value_type = Object)]
    pub verdict: Verdict,
    /// Set when the guard held the plan: confirm it with this id.
    pub plan_id: Option<i64>,
    pub applied: Option<Applied>,
    pub dry_run: bool,
    /// On confirming a held plan: the leavers it named whom the directory no longer says
    /// are leaving (re-enabled, back in scope), left alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped_out: Vec<String>,
}

/// A password bind in clear over the network (loopback is the same host).
fn plain_password_bind(s: &LdapSource) -> bool {
    let Some(rest) = s.url.strip_prefix("ldap://") else {
        return false;
    };
    let host = rest.split(['/', ':']).next().unwrap_or("");
    !s.starttls && !matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "")
}

/// The sync service.
pub struct Syncer {
    pub store: Store,
    pub verifier: Arc<Verifier>,
    pub engine: Arc<Engine>,
    pub registry: Arc<Registry>,
    pub offboarding: Offboarding,
    pub sources: Vec<Arc<LdapSource>>,
    pub board: Board,
    /// Times of leavers applied per source, for the guard's window.
    recent: Mutex<HashMap<String, VecDeque<Millis>>>,
    /// One full sync per source at a time.
    running: Mutex<std::collections::HashSet<String>>,
    /// Per source: a full sync and the persist stream's changes never interleave, so an
    /// older answer is never applied over a newer one.
    serial: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Each SCIM source's guard limits (push, and pull by its own name), by source name.
    push_limits: HashMap<String, crate::directory::guard::GuardLimits>,
    /// The SCIM pull sources.
    pub pulls: Vec<Arc<ScimPullSource>>,
}

struct RunningGuard<'a>(&'a Syncer, String);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.running.lock().expect("running lock").remove(&self.1);
        self.0.board.end_progress(&self.1);
    }
}

impl Syncer {
    pub fn new(
        store: Store,
        verifier: Arc<Verifier>,
        engine: Arc<Engine>,
        registry: Arc<Registry>,
        offboarding: Offboarding,
        sources: Vec<LdapSource>,
    ) -> Syncer {
        let board = Board::default();
        for s in &sources {
            if plain_password_bind(s) {
                tracing::warn!(
                    source = %s.name,
                    url = %s.url,
                    "the bind password goes over plain ldap:// to another host: use ldaps:// or starttls = true"
                );
            }
            let mode = match s.mode {
                Mode::Poll => "poll",
                Mode::Persist | Mode::Auto => "persist",
            };
            board.register(&s.name, &s.url, mode);
        }
        Syncer {
            store,
            verifier,
            engine,
            registry,
            offboarding,
            sources: sources.into_iter().map(Arc::new).collect(),
            board,
            recent: Mutex::default(),
            running: Mutex::default(),
            serial: Mutex::default(),
            push_limits: HashMap::new(),
            pulls: Vec::new(),
        }
    }

    /// The SCIM pull sources, each on the status board; a pull linked to a push source
    /// holds under the push source's limits.
    pub fn with_pull_sources(mut self, pulls: Vec<ScimPullSource>) -> Syncer {
        for p in &pulls {
            self.board.register(&p.name, &p.url, "pull");
            if p.push.is_none() {
                self.push_limits.insert(p.name.clone(), p.guard);
            }
        }
        self.pulls = pulls.into_iter().map(Arc::new).collect();
        self
    }

    /// The guard limits of the SCIM push sources.
    pub fn with_push_limits(
        mut self,
        limits: impl IntoIterator<Item = (String, crate::directory::guard::GuardLimits)>,
    ) -> Syncer {
        self.push_limits = limits.into_iter().collect();
        self
    }

    /// Marks a full run of `name` begun, until the guard drops; `Busy` when one runs.
    fn start_run(&self, name: &str) -> Result<RunningGuard<'_>, SyncError> {
        if !self
            .running
            .lock()
            .expect("running lock")
            .insert(name.to_owned())
        {
            return Err(SyncError::Busy(name.to_owned()));
        }
        Ok(RunningGuard(self, name.to_owned()))
    }

    /// Holds the source's apply lock (see `serial`).
    pub async fn serialize(&self, source: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self
            .serial
            .lock()
            .expect("serial lock")
            .entry(source.to_owned())
            .or_default()
            .clone();
        lock.lock_owned().await
    }

    pub fn source(&self, name: &str) -> Result<Arc<LdapSource>, SyncError> {
        self.sources
            .iter()
            .find(|s| s.name == name)
            .cloned()
            .ok_or_else(|| SyncError::UnknownSource(name.to_owned()))
    }

    fn recent_leavers(&self, source: &str, now: Millis) -> usize {
        let mut recent = self.recent.lock().expect("recent lock");
        let q = recent.entry(source.to_owned()).or_default();
        while q.front().is_some_and(|t| now - t > GUARD_WINDOW) {
            q.pop_front();
        }
        q.len()
    }

    fn note_leavers(&self, source: &str, n: usize, now: Millis) {
        let mut recent = self.recent.lock().expect("recent lock");
        recent
            .entry(source.to_owned())
            .or_default()
            .extend(std::iter::repeat_n(now, n));
    }

    /// Judges a plan; applies it, or holds it with an audit entry and an alert.
    pub async fn decide(
        &self,
        plan: Plan,
        full: bool,
        dry_run: bool,
        actor: &Actor,
    ) -> Result<Outcome, SyncError> {
        let now = now_millis();
        // An identity provider's sign-ins hold the directory's default limits.
        let limits = match plan.kind {
            crate::directory::reconcile::SourceKind::Ldap => self.source(&plan.source)?.guard,
            crate::directory::reconcile::SourceKind::Oidc => Default::default(),
            crate::directory::reconcile::SourceKind::Scim => self
                .push_limits
                .get(&plan.source)
                .copied()
                .unwrap_or_default(),
        };
        let cx = Context {
            full,
            recent_leavers: if full {
                0
            } else {
                self.recent_leavers(&plan.source, now)
            },
        };
        let verdict = guard::judge(&plan, limits, &cx);
        if dry_run {
            return Ok(Outcome {
                plan,
                verdict,
                plan_id: None,
                applied: None,
                dry_run,
                dropped_out: Vec::new(),
            });
        }
        if let Verdict::Hold(reason) = &verdict {
            let (plan, id) = self.hold(plan, &reason.to_string(), full, actor).await?;
            return Ok(Outcome {
                plan,
                verdict,
                plan_id: Some(id),
                applied: None,
                dry_run,
                dropped_out: Vec::new(),
            });
        }
        let applied = self.apply(&plan, actor, None).await?;
        self.note_leavers(&plan.source, applied.offboarded.len(), now);
        Ok(Outcome {
            plan,
            verdict,
            plan_id: None,
            applied: Some(applied),
            dry_run,
            dropped_out: Vec::new(),
        })
    }

    /// One full sync of `name`: paged search, reconcile, guard, apply or hold.
    pub async fn full_sync(
        &self,
        name: &str,
        dry_run: bool,
        actor: &Actor,
    ) -> Result<Outcome, SyncError> {
        if let Some(pull) = self.pull_source(name) {
            return self.pull_sync(&pull, dry_run, actor).await;
        }
        let source = self.source(name)?;
        let _running = self.start_run(name)?;
        let _serial = self.serialize(name).await;
        let started = Instant::now();
        let progress = self.board.start_progress(name);
        // In a task of its own: ldap3 panics on a malformed answer, which then surfaces
        // here as an error instead of taking the caller's task down.
        let (task_source, task_progress) = (source.clone(), progress.clone());
        let searched =
            tokio::spawn(async move { search::full(&task_source, &task_progress.read).await })
                .await
                .unwrap_or_else(|_| {
                    Err(LdapSyncError::Search {
                        base: source.base_dn.clone(),
                        reason: "the directory's answer could not be parsed".into(),
                    })
                });
        let snapshot = match searched {
            Ok(s) => s,
            Err(e) => {
                self.board.error(name, e.to_string());
                return Err(e.into());
            }
        };
        let searched = started.elapsed();
        let answer = Answer {
            kind: crate::directory::reconcile::SourceKind::Ldap,
            source: name.to_owned(),
            people: snapshot.people,
            skipped: snapshot.skipped,
            coverage: Coverage::Full,
        };
        let outcome = self.take(answer, dry_run, actor).await?;
        self.record_run(name, &outcome, searched, started.elapsed());
        Ok(outcome)
    }

    /// Notes a finished run: `searched` is the time to the last entry, `took` the whole run.
    pub(super) fn record_run(
        &self,
        name: &str,
        outcome: &Outcome,
        searched: Duration,
        took: Duration,
    ) {
        let verdict = match (&outcome.verdict, outcome.dry_run) {
            (_, true) => "dry-run",
            (Verdict::Apply, _) => "apply",
            (Verdict::Hold(_), _) => "hold",
        };
        let summary = RunSummary {
            at: chrono::Utc::now(),
            duration_ms: took.as_millis() as u64,
            search_ms: searched.as_millis() as u64,
            entries: outcome.plan.entries,
            joiners: outcome.plan.joiners.len(),
            movers: outcome.plan.movers.len(),
            leavers: outcome.plan.leavers.len(),
            skipped: outcome.plan.skipped.len(),
            verdict: verdict.into(),
            plan_id: outcome.plan_id,
        };
        tracing::info!(
            source = name,
            entries = summary.entries,
            joiners = summary.joiners,
            movers = summary.movers,
            leavers = summary.leavers,
            skipped = summary.skipped,
            verdict,
            ms = summary.duration_ms,
            search_ms = summary.search_ms,
            "directory sync"
        );
        if outcome.dry_run {
            self.board.update(name, |s| s.last_dry_run = Some(summary));
        } else {
            self.board.update(name, |s| s.last_sync = Some(summary));
        }
        self.board.ok(name);
    }

    /// Runs every source on its schedule until the daemon stops.
    pub fn spawn_all(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let ldap = self
            .sources
            .iter()
            .map(|s| tokio::spawn(runner::run_source(self.clone(), s.clone())));
        let pulls = self
            .pulls
            .iter()
            .map(|s| tokio::spawn(pull::run_pull(self.clone(), s.clone())));
        ldap.chain(pulls).collect()
    }
}
