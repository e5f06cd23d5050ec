//! `/sync`: source status, on-demand syncs and held plans.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use super::parse;
use crate::directory::sync::status::SourceStatus;
use crate::directory::sync::{HeldPlan, Outcome, PlanView};
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::ApiError;
use crate::web::json::ApiQuery;

/// Every source, the held plans, and which replica runs the sync.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SyncStatus {
    pub sources: Vec<SourceStatus>,
    pub held_plans: Vec<HeldPlan>,
    /// The replica holding the directory lease (live state is kept there).
    pub runs_on: Option<String>,
    pub runs_here: bool,
    /// OpenID Connect sources.
    pub identity_providers: Vec<crate::directory::oidc::ProviderStatus>,
}

#[utoipa::path(
    get,
    path = "/api/v1/sync/status",
    tag = "directory",
    responses((status = 200, body = SyncStatus), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn status(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<SyncStatus>, ApiError> {
    caller.reader()?;
    let held_plans = s.sync.held_plans().await?;
    let overview = crate::replica::status::overview(&s.store, &s.presence).await?;
    let runner = overview
        .jobs
        .into_iter()
        .find(|j| j.job == crate::directory::SYNC_JOB);
    Ok(Json(SyncStatus {
        sources: s.sync.board.snapshot(),
        held_plans,
        runs_here: runner
            .as_ref()
            .is_some_and(|j| j.holder_id == s.presence.id),
        runs_on: runner.map(|j| j.holder),
        identity_providers: s.signin.oidc.status(),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    #[serde(default)]
    dry_run: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/sync/{source}",
    tag = "directory",
    params(("source" = String, Path, description = "a configured directory source"), RunQuery),
    responses((status = 200, body = Outcome), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn run(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(source): Path<String>,
    ApiQuery(q): ApiQuery<RunQuery>,
) -> Result<Json<Outcome>, ApiError> {
    let permit = caller.admin()?;
    Ok(Json(
        s.sync.full_sync(&source, q.dry_run, permit.actor()).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/sync/plans/{id}",
    tag = "directory",
    params(("id" = i64, Path)),
    responses((status = 200, body = PlanView), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn show_plan(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PlanView>, ApiError> {
    caller.reader()?;
    let id: i64 = parse("id", id.parse::<i64>())?;
    Ok(Json(s.sync.plan(id).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/sync/plans/{id}/confirm",
    tag = "directory",
    params(("id" = i64, Path)),
    responses((status = 200, body = Outcome), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn confirm(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Outcome>, ApiError> {
    let permit = caller.admin()?;
    let id: i64 = parse("id", id.parse::<i64>())?;
    Ok(Json(s.sync.confirm(id, &permit).await?))
}
