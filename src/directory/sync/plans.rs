//! Held plans as the API and the CLI show them.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{SyncError, Syncer};
use crate::domain::time::to_datetime;

/// A plan the guard held, waiting for an admin.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HeldPlan {
    pub id: i64,
    pub source: String,
    pub created_at: DateTime<Utc>,
    /// Why the guard held it.
    pub reason: String,
}

/// One plan, whatever became of it, with what it would do.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlanView {
    pub id: i64,
    pub source: String,
    pub created_at: DateTime<Utc>,
    pub reason: String,
    /// `held`, `applied` or `superseded`.
    pub state: String,
    pub decided_by: Option<String>,
    /// Joiners, movers and leavers as reconcile planned them (`null` if unreadable).
    pub plan: serde_json::Value,
}

impl Syncer {
    /// The plans held now, newest first (at most 100).
    pub async fn held_plans(&self) -> Result<Vec<HeldPlan>, SyncError> {
        let rows = crate::store::sync::held(self.store.pool()).await?;
        let held = rows.into_iter().map(|(id, source, at, verdict)| HeldPlan {
            id,
            source,
            created_at: to_datetime(at),
            reason: verdict,
        });
        Ok(held.collect())
    }

    /// One plan by id.
    pub async fn plan(&self, id: i64) -> Result<PlanView, SyncError> {
        let mut conn = self.store.conn().await?;
        let row = crate::store::sync::find_plan(&mut conn, id)
            .await?
            .ok_or(SyncError::PlanNotFound(id))?;
        Ok(PlanView {
            id: row.id,
            source: row.source,
            created_at: to_datetime(row.created_at),
            reason: row.verdict,
            state: row.state,
            decided_by: row.decided_by,
            plan: serde_json::from_str(&row.plan).unwrap_or(serde_json::Value::Null),
        })
    }
}
