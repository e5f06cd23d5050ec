//! `/sync`: source status, on-demand syncs and held plans.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::parse;
use crate::directory::sync::Outcome;
use crate::directory::sync::status::{SourceStatus, when};
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::ApiError;

pub async fn status(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.reader()?;
    let sources: Vec<SourceStatus> = s.sync.board.snapshot();
    let held: Vec<Value> = crate::store::sync::held(s.store.pool())
        .await?
        .into_iter()
        .map(|(id, source, at, verdict)| {
            json!({ "id": id, "source": source, "created_at": when(at), "reason": verdict })
        })
        .collect();
    // Live state is kept by the replica holding the directory lease; say which one that is.
    let overview = crate::replica::status::overview(&s.store, &s.presence).await?;
    let runner = overview
        .jobs
        .iter()
        .find(|j| j.job == crate::directory::SYNC_JOB);
    Ok(Json(json!({
        "sources": sources,
        "held_plans": held,
        "runs_on": runner.map(|j| &j.holder),
        "runs_here": runner.is_some_and(|j| j.holder_id == s.presence.id),
    })))
}

#[derive(Deserialize)]
pub struct RunQuery {
    #[serde(default)]
    dry_run: bool,
}

pub async fn run(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(source): Path<String>,
    Query(q): Query<RunQuery>,
) -> Result<Json<Outcome>, ApiError> {
    let permit = caller.admin()?;
    Ok(Json(
        s.sync.full_sync(&source, q.dry_run, &permit.actor).await?,
    ))
}

pub async fn show_plan(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.reader()?;
    let id: i64 = parse("id", id.parse::<i64>())?;
    let mut conn = s.store.conn().await?;
    let row = crate::store::sync::find_plan(&mut conn, id)
        .await?
        .ok_or(crate::directory::sync::SyncError::PlanNotFound(id))?;
    let plan: Value = serde_json::from_str(&row.plan).unwrap_or(Value::Null);
    Ok(Json(json!({
        "id": row.id, "source": row.source, "created_at": when(row.created_at),
        "reason": row.verdict, "state": row.state, "decided_by": row.decided_by, "plan": plan,
    })))
}

pub async fn confirm(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Outcome>, ApiError> {
    let permit = caller.admin()?;
    let id: i64 = parse("id", id.parse::<i64>())?;
    Ok(Json(s.sync.confirm(id, &permit.actor).await?))
}
