//! Which live replicas applied a change, and how long after it was written.
//!
//! A replica that has not acknowledged an entry is *failing closed* once its bound has passed
//! since both the entry's commit and its own last catch-up: it refuses brokered calls from
//! then on (see [`super::Freshness`]). That reasoning trusts the replicas' clocks to agree
//! within a fraction of the bound, as NTP keeps them.

use std::time::Duration;

use crate::domain::time::{Millis, now_millis};
use crate::store::replicas::ReplicaRow;
use crate::store::{Store, StoreError};

/// A replica not heard from for this long is gone and left off receipts.
pub const GONE_AFTER: Millis = 60_000;

pub use crate::domain::receipt::{Propagation, ReplicaReport, ReplicaState};

/// Facts about one change, for [`assess`].
pub struct Change {
    pub seq: i64,
    /// When its entry was written.
    pub at: Millis,
    /// A moment by which it had committed.
    pub committed: Millis,
}

/// Pure: where each replica stands on `change` at `now`.
pub fn assess(
    change: &Change,
    rows: &[ReplicaRow],
    acks: &[(String, Millis)],
    bound: Millis,
    now: Millis,
) -> Propagation {
    let mut replicas = Vec::new();
    for r in rows {
        let ack = acks.iter().find(|(id, _)| *id == r.id).map(|(_, at)| *at);
        let loaded = r.applied_seq >= change.seq && r.started_at >= change.at;
        if r.stopped_at.is_some() && ack.is_none() {
            continue;
        }
        if now - r.heartbeat_at > GONE_AFTER && ack.is_none() {
            continue;
        }
        let state = if ack.is_some() || loaded {
            ReplicaState::Confirmed
        } else if now > r.caught_up_at.max(change.committed) + bound {
            ReplicaState::FailingClosed
        } else {
            ReplicaState::Pending
        };
        replicas.push(ReplicaReport {
            id: r.id.clone(),
            name: r.name.clone(),
            state,
            confirmed_after_ms: ack.map(|at| (at - change.at).max(0)),
            last_heartbeat_ms_ago: (now - r.heartbeat_at).max(0),
        });
    }
    Propagation {
        entry: change.seq,
        confirmed: replicas.iter().all(|r| r.state == ReplicaState::Confirmed),
        settled: replicas.iter().all(|r| r.state != ReplicaState::Pending),
        replicas,
    }
}

/// Reports on entry `seq`, waiting up to `wait` for every live replica to settle.
pub async fn report(
    store: &Store,
    seq: i64,
    committed: Millis,
    bound: Millis,
    wait: Duration,
) -> Result<Propagation, StoreError> {
    let at = crate::store::replicas::entry_time(store.pool(), seq)
        .await?
        .unwrap_or(committed);
    let change = Change {
        seq,
        at,
        committed: committed.max(at),
    };
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let now = now_millis();
        let rows = crate::store::replicas::list(store.pool(), now - GONE_AFTER).await?;
        let acks = crate::store::replicas::acks_of(store.pool(), seq).await?;
        let p = assess(&change, &rows, &acks, bound, now);
        if p.settled || tokio::time::Instant::now() >= deadline {
            return Ok(p);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, caught_up_at: Millis, applied_seq: i64) -> ReplicaRow {
        ReplicaRow {
            id: id.into(),
            name: id.into(),
            started_at: 0,
            heartbeat_at: caught_up_at,
            caught_up_at,
            applied_seq,
            stopped_at: None,
        }
    }

    const CHANGE: Change = Change {
        seq: 10,
        at: 1_000,
        committed: 1_005,
    };

    #[test]
    fn acknowledged_is_confirmed_with_its_delay() {
        let p = assess(
            &CHANGE,
            &[row("a", 1_010, 10)],
            &[("a".into(), 1_012)],
            2_000,
            1_020,
        );
        assert!(p.confirmed && p.settled);
        assert_eq!(p.replicas[0].confirmed_after_ms, Some(12));
    }

    #[test]
    fn silent_replica_is_pending_then_failing_closed() {
        let rows = [row("a", 1_000, 9)];
        let p = assess(&CHANGE, &rows, &[], 2_000, 2_000);
        assert_eq!(p.replicas[0].state, ReplicaState::Pending);
        assert!(!p.settled);
        // The bound counts from the commit, not from the entry's earlier timestamp.
        let p = assess(&CHANGE, &rows, &[], 2_000, 3_004);
        assert_eq!(p.replicas[0].state, ReplicaState::Pending);
        let p = assess(&CHANGE, &rows, &[], 2_000, 3_006);
        assert_eq!(p.replicas[0].state, ReplicaState::FailingClosed);
        assert!(p.settled && !p.confirmed);
    }

    #[test]
    fn a_recent_catch_up_without_ack_keeps_it_pending() {
        let p = assess(&CHANGE, &[row("a", 2_500, 9)], &[], 2_000, 4_000);
        assert_eq!(p.replicas[0].state, ReplicaState::Pending);
    }

    #[test]
    fn stopped_and_gone_replicas_are_left_off() {
        let mut stopped = row("s", 1_000, 9);
        stopped.stopped_at = Some(1_001);
        let gone = row("g", 1_000 - GONE_AFTER - 1_000, 9);
        let p = assess(&CHANGE, &[stopped, gone], &[], 2_000, 1_050);
        assert!(p.replicas.is_empty() && p.confirmed);
    }

    #[test]
    fn a_replica_started_after_the_change_loaded_it() {
        let mut late = row("l", 1_500, 12);
        late.started_at = 1_400;
        let p = assess(&CHANGE, &[late], &[], 2_000, 1_600);
        assert_eq!(p.replicas[0].state, ReplicaState::Confirmed);
        assert_eq!(p.replicas[0].confirmed_after_ms, None);
    }
}
