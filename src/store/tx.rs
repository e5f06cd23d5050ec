//! Write transactions that hand their connection back clean whatever happens, and the
//! record of whether writes are succeeding.
//!
//! sqlx's own transaction type kept a SQLite connection's transaction depth wrong after a
//! failed COMMIT (a full disk), and returned it to the pool that way: every later write on
//! it failed with "begin_with at non-zero transaction depth" until a restart (issue 17).
//! Here BEGIN, COMMIT and ROLLBACK are plain statements: a transaction that is committed
//! returns its connection to the pool; any other ending (an error, a failed COMMIT, the
//! caller's future dropped) rolls it back before the connection is reused, and a connection
//! whose rollback fails is closed instead of reused.

use crate::domain::ErrorCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use tokio::sync::OwnedMutexGuard;

use super::{Backend, StoreError};
use crate::domain::time::{Millis, now_millis};

/// A storage failure that is the environment's, not the request's: it passes by itself (or
/// when an operator frees space), and the client is told which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageFault {
    /// The disk (or the database's quota) is full.
    Full,
    /// The database cannot be reached, is locked, refused the connection or failed an I/O.
    Unavailable,
}

impl StorageFault {
    pub fn of(e: &sqlx::Error) -> Option<StorageFault> {
        match e {
            sqlx::Error::Database(db) => {
                let code = db.code()?;
                match code.parse::<i32>() {
                    // SQLite's extended result code: the primary code is the low byte.
                    Ok(n) => match n & 0xff {
                        13 => Some(StorageFault::Full),
                        // IOERR, BUSY, LOCKED, NOMEM, READONLY, CANTOPEN
                        10 | 5 | 6 | 7 | 8 | 14 => Some(StorageFault::Unavailable),
                        _ => None,
                    },
                    // PostgreSQL's SQLSTATE.
                    Err(_) => match code.as_ref() {
                        "53100" => Some(StorageFault::Full),
                        c if c.starts_with("53") || c.starts_with("08") || c.starts_with("57P") => {
                            Some(StorageFault::Unavailable)
                        }
                        "55P03" | "40P01" => Some(StorageFault::Unavailable),
                        _ => None,
                    },
                }
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => Some(StorageFault::Unavailable),
            _ => None,
        }
    }

    pub fn code(self) -> ErrorCode {
        match self {
            StorageFault::Full => ErrorCode::StorageFull,
            StorageFault::Unavailable => ErrorCode::StorageUnavailable,
        }
    }
}

/// Whether writes are succeeding, from every write transaction's outcome (the heartbeat
/// writes every 500 ms, so this is never older than that).
#[derive(Debug, Default)]
pub struct WriteHealth {
    events: AtomicU64,
    last_ok: AtomicU64,
    last_fault: AtomicU64,
    fault: std::sync::Mutex<Option<StorageFault>>,
    /// When writes began failing (0: they are not).
    failing_since: AtomicI64,
}

impl WriteHealth {
    pub fn wrote(&self) {
        let n = self.events.fetch_add(1, Ordering::AcqRel) + 1;
        self.last_ok.store(n, Ordering::Release);
        self.failing_since.store(0, Ordering::Release);
    }

    pub fn failed(&self, e: &StoreError) {
        if let Some(fault) = e.fault() {
            self.fault_seen(fault);
        }
    }

    fn fault_seen(&self, fault: StorageFault) {
        *self.fault.lock().expect("health lock") = Some(fault);
        let n = self.events.fetch_add(1, Ordering::AcqRel) + 1;
        self.last_fault.store(n, Ordering::Release);
        let _ = self.failing_since.compare_exchange(
            0,
            now_millis(),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// The fault writes fail with now, and since when: the latest write failed with it and
    /// none succeeded after.
    pub fn failing(&self) -> Option<(StorageFault, Millis)> {
        if self.last_fault.load(Ordering::Acquire) <= self.last_ok.load(Ordering::Acquire) {
            return None;
        }
        let fault = (*self.fault.lock().expect("health lock"))?;
        Some((fault, self.failing_since.load(Ordering::Acquire)))
    }
}

/// A write transaction. Dropped without `commit`, it rolls back.
pub struct Tx {
    conn: Option<PoolConnection<Any>>,
    /// SQLite's in-process writer queue; held until the connection is clean again.
    gate: Option<OwnedMutexGuard<()>>,
    health: Arc<WriteHealth>,
}

impl Tx {
    pub(super) async fn begin(
        pool: &AnyPool,
        backend: Backend,
        gate: Option<OwnedMutexGuard<()>>,
        health: Arc<WriteHealth>,
    ) -> Result<Tx, StoreError> {
        let mut conn = pool.acquire().await?;
        // IMMEDIATE takes SQLite's write lock up front, so a read-then-write cannot fail
        // midway on a lock.
        let begin = match backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        if let Err(e) = conn.execute(begin).await {
            // Whether it took effect is unknown: this connection is not reused.
            let _ = conn.close().await;
            return Err(e.into());
        }
        Ok(Tx {
            conn: Some(conn),
            gate,
            health,
        })
    }

    pub fn conn(&mut self) -> &mut AnyConnection {
        self.conn
            .as_mut()
            .expect("a transaction is open until commit or drop")
    }

    pub async fn commit(mut self) -> Result<(), StoreError> {
        match self.conn().execute("COMMIT").await {
            Ok(_) => {
                // Clean: back to the pool when dropped here.
                self.conn.take();
                self.health.wrote();
                Ok(())
            }
            Err(e) => {
                let e = StoreError::from(e);
                self.health.failed(&e);
                // Drop rolls back (or discards the connection) before the gate opens.
                Err(e)
            }
        }
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let gate = self.gate.take();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    rollback_or_discard(conn).await;
                    drop(gate);
                });
            }
            // No runtime to roll back on: closing the connection rolls back.
            Err(_) => drop(conn.detach()),
        }
    }
}

async fn rollback_or_discard(mut conn: PoolConnection<Any>) {
    if let Err(e) = conn.execute("ROLLBACK").await {
        tracing::debug!(error = %e, "rollback failed; closing the connection instead");
        let _ = conn.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_fails_after_a_fault_and_recovers_at_the_next_write() {
        let h = WriteHealth::default();
        assert!(h.failing().is_none());
        h.fault_seen(StorageFault::Full);
        let (fault, since) = h.failing().expect("failing after a fault");
        assert_eq!(fault, StorageFault::Full);
        assert!(since > 0);
        h.fault_seen(StorageFault::Full);
        assert_eq!(
            h.failing().unwrap().1,
            since,
            "failing since the first fault"
        );
        h.wrote();
        assert!(h.failing().is_none());
    }

    #[test]
    fn a_constraint_violation_is_not_a_storage_fault() {
        let e = StoreError::Corrupt("x".into());
        assert!(e.fault().is_none());
        assert_eq!(
            StorageFault::of(&sqlx::Error::PoolTimedOut),
            Some(StorageFault::Unavailable)
        );
    }
}
