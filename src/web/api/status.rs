//! `GET /api/v1/status`: replicas, their lag and readiness, the jobs and who runs them.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::mail::OutboxDepth;
use crate::replica::status::{JobLine, ReplicaLine};
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::ApiError;

/// This replica, as named in receipts and status.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ThisReplica {
    pub id: String,
    pub name: String,
}

/// The daemon's state as `staffgate status` shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Status {
    pub replica: ThisReplica,
    pub log_head: i64,
    pub replicas: Vec<ReplicaLine>,
    pub jobs: Vec<JobLine>,
    /// The mail outbox, when mail is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbox: Option<OutboxDepth>,
}

#[utoipa::path(
    get,
    path = "/api/v1/status",
    tag = "status",
    responses((status = 200, body = Status), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn status(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Status>, ApiError> {
    caller.reader()?;
    let overview = crate::replica::status::overview(&s.store, &s.presence).await?;
    let outbox = match s.mail {
        Some(_) => Some(crate::mail::outbox(&s.store).await?),
        None => None,
    };
    Ok(Json(Status {
        replica: ThisReplica {
            id: s.presence.id.clone(),
            name: s.presence.name.clone(),
        },
        log_head: overview.log_head,
        replicas: overview.replicas,
        jobs: overview.jobs,
        outbox,
    }))
}
