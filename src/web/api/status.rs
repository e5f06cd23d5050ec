//! `GET /api/v1/status`: replicas, their lag and readiness, the jobs and who runs them.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::ApiError;

pub async fn status(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.reader()?;
    let overview = crate::replica::status::overview(&s.store, &s.presence).await?;
    let mut answer = json!({
        "replica": { "id": s.presence.id, "name": s.presence.name },
        "log_head": overview.log_head,
        "replicas": overview.replicas,
        "jobs": overview.jobs,
    });
    if s.mail.is_some() {
        let depth =
            crate::store::outbox::depth(s.store.pool(), crate::domain::time::now_millis()).await?;
        answer["outbox"] = json!(depth);
    }
    Ok(Json(answer))
}
