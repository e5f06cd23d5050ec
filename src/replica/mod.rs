//! Several daemons on one database: each follows the others' changes, refuses to serve
//! from a view it cannot show is current, and reports what it applied.
//!
//! The ordered change log is the audit log itself. Every change that can take access away
//! (or grant it) writes an audit entry in its own transaction, and appenders queue on the
//! chain's head row until they commit, so audit sequence order is commit order, with no
//! gaps. A replica tails it: PostgreSQL's NOTIFY (a trigger on the head row) wakes it at
//! once, and a short poll covers a lost notification. Each entry is applied by re-reading
//! the current state it names, so applying one twice, or one of its own, is harmless.
//!
//! Each replica heartbeats into `replicas` and acknowledges every access-removing entry it
//! applied in `replica_acks`; an offboarding receipt reads them back (see [`propagation`]).

mod follower;
mod freshness;
mod lease;
pub mod propagation;
pub mod status;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

pub use follower::Follower;
pub use freshness::Freshness;
pub use lease::{Lease, LeaseTiming};

use crate::domain::time::{Millis, now_millis};
use crate::store::Store;
use crate::store::replicas::ReplicaRow;

/// How often a replica writes its heartbeat.
pub const HEARTBEAT: Duration = Duration::from_millis(500);

/// This replica: who it is, how far it applied the log, whether it may serve.
pub struct Presence {
    pub id: String,
    pub name: String,
    pub started_at: Millis,
    pub freshness: Arc<Freshness>,
    /// How this replica's database leases live (PostgreSQL; SQLite's are lock files).
    pub lease: LeaseTiming,
    applied_seq: AtomicI64,
    store: Store,
}

impl Presence {
    pub fn new(
        store: Store,
        name: String,
        bound: Duration,
        recover: Duration,
        lease: LeaseTiming,
    ) -> Presence {
        let mut raw = [0u8; 6];
        // A random id per process: a restarted replica is a new one on receipts.
        getrandom::fill(&mut raw).expect("the OS random source is available");
        Presence {
            id: hex::encode(raw),
            name,
            started_at: now_millis(),
            freshness: Arc::new(Freshness::new(bound, recover)),
            lease,
            applied_seq: AtomicI64::new(0),
            store,
        }
    }

    pub fn applied_seq(&self) -> i64 {
        self.applied_seq.load(Ordering::Acquire)
    }

    fn applied(&self, seq: i64) {
        self.applied_seq.store(seq, Ordering::Release);
    }

    fn row(&self, stopped: bool) -> ReplicaRow {
        let now = now_millis();
        ReplicaRow {
            id: self.id.clone(),
            name: self.name.clone(),
            started_at: self.started_at,
            heartbeat_at: now,
            caught_up_at: self.freshness.last_ok(),
            applied_seq: self.applied_seq(),
            stopped_at: stopped.then_some(now),
        }
    }

    /// Records that this replica applied `seqs` now. A failure is logged, never fatal: the
    /// receipt then shows this replica as unconfirmed, which is the truth.
    pub async fn acknowledge(&self, seqs: &[i64]) {
        let result = async {
            let mut tx = self.store.begin().await?;
            crate::store::replicas::ack(tx.conn(), &self.id, seqs, now_millis()).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not record this replica's acknowledgements");
        }
    }

    async fn beat(&self, stopped: bool) -> Result<(), crate::store::StoreError> {
        let mut tx = self.store.begin().await?;
        crate::store::replicas::heartbeat(tx.conn(), &self.row(stopped)).await?;
        tx.commit().await
    }

    /// Heartbeats until the daemon stops.
    pub async fn heartbeat(self: Arc<Self>) {
        let mut tick = tokio::time::interval(HEARTBEAT);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let beat = tokio::time::timeout(HEARTBEAT * 4, self.beat(false)).await;
            if !matches!(beat, Ok(Ok(()))) {
                tracing::debug!("replica heartbeat not written");
            }
        }
    }

    /// Marks this replica stopped, so receipts stop waiting for it.
    pub async fn stopped(&self) {
        if let Err(e) = self.beat(true).await {
            tracing::warn!(error = %e, "could not mark this replica stopped");
        }
    }
}
