//! The replicas and jobs as `staffgate status` shows them.

use serde::Serialize;

use super::Presence;
use super::propagation::GONE_AFTER;
use crate::domain::time::{Millis, now_millis};
use crate::store::{Store, StoreError};

/// A replica whose heartbeat (every 500 ms) is older than this is not writing.
const SILENT_AFTER: Millis = 2_000;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReplicaLine {
    pub id: String,
    pub name: String,
    /// This process.
    pub this: bool,
    /// `serving`, `failing_closed` (not caught up within its bound), `cannot_write` (its
    /// writes fail, or its heartbeat stopped: offboardings there would fail) or `stopped`.
    pub state: &'static str,
    /// Log entries it has not applied yet.
    pub lag_entries: i64,
    #[schema(value_type = i64)]
    pub caught_up_ms_ago: Millis,
    #[schema(value_type = i64)]
    pub last_heartbeat_ms_ago: Millis,
    pub started_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobLine {
    pub job: String,
    /// The replica running it, by name when known.
    pub holder: String,
    pub holder_id: String,
    /// Until the lease may pass on; `None` for a lease held by a lock file (SQLite), which
    /// lasts exactly as long as its holder's process.
    #[schema(value_type = Option<i64>)]
    pub expires_in_ms: Option<Millis>,
}

#[derive(Debug, Serialize)]
pub struct Overview {
    pub log_head: i64,
    pub replicas: Vec<ReplicaLine>,
    pub jobs: Vec<JobLine>,
}

/// Reads the replicas' and leases' rows as they are now.
pub async fn overview(store: &Store, me: &Presence) -> Result<Overview, StoreError> {
    let now = now_millis();
    let (head, _) = crate::store::audit::head(store.pool()).await?;
    let rows = crate::store::replicas::list(store.pool(), now - GONE_AFTER).await?;
    let bound = me.freshness.bound();
    let replicas = rows
        .iter()
        .map(|r| {
            let this = r.id == me.id;
            let caught_up = if this {
                me.freshness.last_ok()
            } else {
                r.caught_up_at
            };
            let applied = if this {
                me.applied_seq()
            } else {
                r.applied_seq
            };
            let cannot_write = if this {
                store.write_health().failing().is_some()
            } else {
                now - r.heartbeat_at > SILENT_AFTER
            };
            let state = if r.stopped_at.is_some() {
                "stopped"
            } else if now - caught_up > bound {
                "failing_closed"
            } else if cannot_write {
                "cannot_write"
            } else {
                "serving"
            };
            ReplicaLine {
                id: r.id.clone(),
                name: r.name.clone(),
                this,
                state,
                lag_entries: (head - applied).max(0),
                caught_up_ms_ago: (now - caught_up).max(0),
                last_heartbeat_ms_ago: (now - r.heartbeat_at).max(0),
                started_at: crate::domain::time::to_datetime(r.started_at),
            }
        })
        .collect();
    let jobs = crate::store::leases::list(store.pool())
        .await?
        .into_iter()
        .filter(|(_, holder, until)| {
            if *until == crate::store::leases::HELD_BY_LOCK {
                // A killed holder leaves its row behind: it counts while its replica lives.
                rows.iter()
                    .any(|r| r.id == *holder && r.stopped_at.is_none())
            } else {
                *until >= now
            }
        })
        .map(|(job, holder, until)| JobLine {
            holder: rows
                .iter()
                .find(|r| r.id == holder)
                .map_or(holder.clone(), |r| format!("{} ({holder})", r.name)),
            holder_id: holder,
            job,
            expires_in_ms: (until != crate::store::leases::HELD_BY_LOCK).then_some(until - now),
        })
        .collect();
    Ok(Overview {
        log_head: head,
        replicas,
        jobs,
    })
}
