//! Background jobs that must run on one replica at a time hold a lease.
//!
//! How the lease is held depends on the database, because what can prove a holder alive
//! differs:
//!
//! - **PostgreSQL** (replicas on many hosts): a row in `leases`, renewed every
//!   [`LeaseTiming::renew`] on a connection of its own; PostgreSQL has no single writer, so
//!   a renewal never queues behind the job's own transactions. A lease not renewed for
//!   [`LeaseTiming::ttl`] may be taken by another replica; a holder that could not renew for
//!   `ttl - renew` stops its job first, so two replicas never run it at once.
//! - **SQLite** (every daemon on one host, since SQLite needs a local file): an exclusive
//!   lock on a file beside the database (`staffgate.db.lease-<job>`). The operating system
//!   holds it for exactly as long as the process lives, so nothing has to be renewed: a
//!   long import, which holds SQLite's only write lock for seconds, can never make the job
//!   lose its own lease (issue 16: the renewal queued behind the import, the job was killed,
//!   and the same import started again forever). Another daemon on the same file takes the
//!   lock at its next tick after the holder stops or dies.
//!
//! Either way the `leases` row names the holder for `staffgate status`.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use futures_util::FutureExt;
use tokio_util::task::AbortOnDropHandle;

use crate::domain::time::{Millis, now_millis};
use crate::store::Store;

/// How long a database lease lives and how often it is renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTiming {
    pub ttl: Duration,
    pub renew: Duration,
}

impl LeaseTiming {
    /// Renews at 30 % of the lifetime: two renewals may fail before the job must stop.
    pub fn from_ttl(ttl: Duration) -> LeaseTiming {
        LeaseTiming {
            ttl,
            renew: ttl * 3 / 10,
        }
    }
}

impl Default for LeaseTiming {
    fn default() -> Self {
        LeaseTiming::from_ttl(Duration::from_secs(5))
    }
}

/// One job's lease, held for one replica.
pub struct Lease {
    pub store: Store,
    pub name: &'static str,
    pub holder: String,
    pub timing: LeaseTiming,
}

/// The job while this replica runs it; started again (saying why) if it ends.
struct Running<F> {
    name: &'static str,
    start: F,
    job: Option<AbortOnDropHandle<()>>,
    restarts: u64,
}

impl<F, Fut> Running<F>
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn ensure(&mut self) {
        match self.job.as_mut() {
            None => {
                tracing::info!(job = self.name, "took the lease; running the job here");
            }
            Some(handle) if handle.is_finished() => {
                // A job is a loop that runs until stopped: ending is always a fault.
                let why = match handle.now_or_never() {
                    Some(Err(e)) if e.is_panic() => "it panicked",
                    Some(Err(_)) => "it was cancelled",
                    _ => "it returned",
                };
                self.restarts += 1;
                tracing::warn!(
                    job = self.name,
                    restarts = self.restarts,
                    "the job ended ({why}); starting it again"
                );
            }
            Some(_) => return,
        }
        self.job = Some(AbortOnDropHandle::new(tokio::spawn((self.start)())));
    }

    fn stop(&mut self) -> bool {
        self.job.take().is_some()
    }
}

impl Lease {
    /// Runs the job `start` makes while this replica holds the lease, for as long as the
    /// daemon runs; starts it again after taking the lease back.
    pub async fn run<F, Fut>(self, start: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let running = Running {
            name: self.name,
            start,
            job: None,
            restarts: 0,
        };
        match self.store.lease_file(self.name) {
            Some(path) => self.run_on_file(&path, running).await,
            None => self.run_in_database(running).await,
        }
    }

    async fn run_on_file<F, Fut>(&self, path: &Path, mut running: Running<F>)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut tick = tokio::time::interval(self.timing.renew);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Dropping the file (the job stopped, the daemon stopped or died) unlocks it.
        let mut held: Option<std::fs::File> = None;
        let mut named = false;
        let mut lock_error_said = false;
        loop {
            tick.tick().await;
            if held.is_none() {
                match lock_file(path) {
                    Ok(Some(file)) => held = Some(file),
                    Ok(None) => continue, // another daemon on this file runs it
                    Err(e) => {
                        if !std::mem::replace(&mut lock_error_said, true) {
                            tracing::error!(job = self.name, path = %path.display(), error = %e,
                                "cannot open the job's lock file; the job does not run here");
                        }
                        continue;
                    }
                }
            }
            running.ensure();
            // For `staffgate status` only; the lock, not the row, is the lease.
            if !named {
                named = self.name_holder().await.is_ok();
            }
        }
    }

    async fn name_holder(&self) -> Result<(), crate::store::StoreError> {
        let mut tx = self.store.begin().await?;
        crate::store::leases::claim(tx.conn(), self.name, &self.holder).await?;
        tx.commit().await
    }

    async fn run_in_database<F, Fut>(&self, mut running: Running<F>)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let LeaseTiming { ttl, renew } = self.timing;
        let mut tick = tokio::time::interval(renew);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut renewed: Option<tokio::time::Instant> = None;
        loop {
            tick.tick().await;
            match tokio::time::timeout(renew, self.try_take()).await {
                Ok(Ok(true)) => {
                    renewed = Some(tokio::time::Instant::now());
                    running.ensure();
                }
                Ok(Ok(false)) => {
                    if running.stop() {
                        self.say_taken().await;
                    }
                    renewed = None;
                }
                failed => {
                    let expiring = renewed.is_none_or(|at| at.elapsed() >= ttl - renew);
                    if expiring && running.stop() {
                        let error = match failed {
                            Ok(Err(e)) => e.to_string(),
                            _ => format!("no answer within {renew:?}"),
                        };
                        tracing::warn!(
                            job = self.name,
                            holder = %self.holder,
                            last_renewed_ms_ago = renewed.map(|at| at.elapsed().as_millis() as u64),
                            %error,
                            "cannot renew this replica's lease before it may pass to another; stopped the job here"
                        );
                    }
                }
            }
        }
    }

    async fn try_take(&self) -> Result<bool, crate::store::StoreError> {
        let now = now_millis();
        let mut tx = self.store.begin().await?;
        let got = crate::store::leases::acquire(
            tx.conn(),
            self.name,
            &self.holder,
            now,
            now + self.timing.ttl.as_millis() as Millis,
        )
        .await?;
        tx.commit().await?;
        Ok(got)
    }

    /// Says who took the lease over, and when they last renewed it.
    async fn say_taken(&self) {
        let row = crate::store::leases::find(self.store.pool(), self.name).await;
        let (holder, renewed_ms_ago) = match row {
            Ok(Some((holder, until))) => {
                let renewed = until - self.timing.ttl.as_millis() as Millis;
                (holder, Some((now_millis() - renewed).max(0)))
            }
            _ => ("unknown".to_owned(), None),
        };
        tracing::warn!(
            job = self.name,
            %holder,
            renewed_ms_ago,
            "the lease is held by another replica; stopped the job here"
        );
    }

    /// Gives the lease up (on a clean stop), so another replica takes it at once.
    pub async fn release(&self) {
        let result = async {
            let mut tx = self.store.begin().await?;
            crate::store::leases::release(tx.conn(), self.name, &self.holder).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, job = self.name, "could not release the lease");
        }
    }
}

/// Takes the exclusive lock on `path` if nobody holds it: `Ok(None)` when someone does.
fn lock_file(path: &Path) -> std::io::Result<Option<std::fs::File>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_file_has_one_holder_until_it_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = crate::store::lease_lock_path(&dir.path().join("staffgate.db"), "directory");
        let first = lock_file(&path).unwrap().expect("free at first");
        assert!(lock_file(&path).unwrap().is_none(), "held by the first");
        drop(first);
        assert!(lock_file(&path).unwrap().is_some(), "free once dropped");
    }

    #[test]
    fn renewal_leaves_room_for_two_failed_renewals() {
        let t = LeaseTiming::from_ttl(Duration::from_secs(5));
        assert_eq!(t.renew, Duration::from_millis(1500));
        assert!(t.ttl - t.renew > t.renew * 2);
    }
}
