//! Whether this replica may serve: it showed it caught up with the change log recently, and,
//! after a stale spell, has stayed caught up for a while.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use crate::domain::time::{Millis, now_millis};

/// Whether this replica may serve: it caught up with the log within the bound. A replica
/// that went stale refuses until its catch-up rounds have succeeded without a failure for
/// `recover` (a database that answers only now and then would otherwise make it flap
/// between refusing and serving).
pub struct Freshness {
    last_ok: AtomicI64,
    bound: Millis,
    recover: Millis,
    /// Set while refusing (stale, or recovering from it).
    refusing: AtomicBool,
    /// When the current unbroken run of successful rounds began (0: none yet).
    recovering_since: AtomicI64,
}

impl Freshness {
    pub fn new(bound: Duration, recover: Duration) -> Freshness {
        Freshness {
            last_ok: AtomicI64::new(now_millis()),
            bound: bound.as_millis() as Millis,
            recover: recover.as_millis() as Millis,
            refusing: AtomicBool::new(false),
            recovering_since: AtomicI64::new(0),
        }
    }

    /// A catch-up round that began at `at` completed.
    pub(super) fn mark(&self, at: Millis) {
        let prev = self.last_ok.swap(at, Ordering::AcqRel);
        if at - prev > self.bound {
            // Stale since the last round, whether or not a call noticed.
            self.refusing.store(true, Ordering::Release);
            self.recovering_since.store(at, Ordering::Release);
            return;
        }
        if !self.refusing.load(Ordering::Acquire) {
            return;
        }
        let since = self.recovering_since.load(Ordering::Acquire);
        if since == 0 {
            self.recovering_since.store(at, Ordering::Release);
        } else if at - since >= self.recover && self.refusing.swap(false, Ordering::AcqRel) {
            self.recovering_since.store(0, Ordering::Release);
            tracing::warn!(
                held_ms = at - since,
                "this replica caught up with the change log and stayed caught up; serving again"
            );
        }
    }

    /// A catch-up round failed: a replica recovering from a stale spell starts its wait again.
    pub(super) fn round_failed(&self) {
        self.recovering_since.store(0, Ordering::Release);
    }

    /// The last moment it was current.
    pub fn last_ok(&self) -> Millis {
        self.last_ok.load(Ordering::Acquire)
    }

    pub fn bound(&self) -> Millis {
        self.bound
    }

    /// Whether it is behind right now (not caught up within its bound), ignoring the hold
    /// after a stale spell: what a response already streaming is cut for. The hold is for
    /// new calls only, so that a replica that caught up again does not cut answers it
    /// rightly began.
    pub fn behind(&self, now: Millis) -> bool {
        now - self.last_ok.load(Ordering::Acquire) > self.bound
    }

    /// `None` when it may serve; otherwise how long since it last caught up (small while
    /// it holds after a stale spell). The first call of a stale spell logs why it refuses.
    pub fn stale_for(&self, now: Millis) -> Option<Millis> {
        let age = now - self.last_ok.load(Ordering::Acquire);
        if age > self.bound {
            self.recovering_since.store(0, Ordering::Release);
            if !self.refusing.swap(true, Ordering::AcqRel) {
                tracing::error!(
                    stale_ms = age,
                    "refusing brokered calls: this replica has not caught up with the change log within its bound"
                );
            }
            return Some(age);
        }
        self.refusing.load(Ordering::Acquire).then_some(age.max(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> (Freshness, Millis) {
        let f = Freshness::new(Duration::from_millis(2000), Duration::from_millis(1000));
        let now = now_millis();
        f.mark(now);
        (f, now)
    }

    #[test]
    fn freshness_expires_after_the_bound() {
        let (f, now) = fresh();
        assert_eq!(f.stale_for(now + 1999), None);
        assert_eq!(f.stale_for(now + 2500), Some(2500));
    }

    #[test]
    fn a_stale_replica_serves_again_only_after_holding_for_the_recovery_time() {
        let (f, now) = fresh();
        assert!(f.stale_for(now + 3000).is_some());
        f.mark(now + 3000); // caught up once: not yet
        assert!(f.stale_for(now + 3100).is_some());
        f.mark(now + 3200);
        f.round_failed(); // the database dropped again: the wait starts over
        f.mark(now + 3400);
        f.mark(now + 4200);
        assert!(f.stale_for(now + 4250).is_some(), "held 800 ms of 1000");
        f.mark(now + 4400);
        assert_eq!(f.stale_for(now + 4450), None);
    }

    #[test]
    fn answers_already_streaming_are_cut_only_while_it_is_behind() {
        let (f, now) = fresh();
        f.mark(now + 2500); // caught up after a gap: new calls wait for the hold
        assert!(f.stale_for(now + 2600).is_some());
        assert!(
            !f.behind(now + 2600),
            "a stream begun before the gap goes on"
        );
        assert!(f.behind(now + 5000));
    }

    #[test]
    fn a_gap_nobody_called_during_still_needs_the_hold() {
        let (f, now) = fresh();
        f.mark(now + 5000);
        assert!(f.stale_for(now + 5010).is_some());
    }
}
