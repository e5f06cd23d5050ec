//! Whether this replica may serve: it showed it caught up with the change log recently.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use crate::domain::time::{Millis, now_millis};

/// Whether this replica may serve: it caught up with the log within the bound.
pub struct Freshness {
    last_ok: AtomicI64,
    bound: Millis,
    /// Set while refusing, so the log says so once per episode, not once per call.
    refusing: AtomicBool,
}

impl Freshness {
    pub fn new(bound: Duration) -> Freshness {
        Freshness {
            last_ok: AtomicI64::new(now_millis()),
            bound: bound.as_millis() as Millis,
            refusing: AtomicBool::new(false),
        }
    }

    pub(super) fn mark(&self, at: Millis) {
        self.last_ok.store(at, Ordering::Release);
        if self.refusing.swap(false, Ordering::AcqRel) {
            tracing::warn!("this replica caught up with the change log; serving again");
        }
    }

    /// The last moment it was current.
    pub fn last_ok(&self) -> Millis {
        self.last_ok.load(Ordering::Acquire)
    }

    pub fn bound(&self) -> Millis {
        self.bound
    }

    /// `None` when current; otherwise how long since it last was. The first call of a
    /// stale episode logs why this replica refuses.
    pub fn stale_for(&self, now: Millis) -> Option<Millis> {
        let age = now - self.last_ok.load(Ordering::Acquire);
        let stale = age > self.bound;
        if stale && !self.refusing.swap(true, Ordering::AcqRel) {
            tracing::error!(
                stale_ms = age,
                "refusing brokered calls: this replica has not caught up with the change log within its bound"
            );
        }
        stale.then_some(age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_expires_after_the_bound() {
        let f = Freshness::new(Duration::from_millis(2000));
        let now = now_millis();
        f.mark(now);
        assert_eq!(f.stale_for(now + 1999), None);
        assert_eq!(f.stale_for(now + 2500), Some(2500));
    }
}
