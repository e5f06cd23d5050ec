//! `/audit`: the log, page by page, and the chain's verification.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;

use crate::audit;
use crate::domain::chain::Entry;
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::ApiError;

#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

pub async fn audit(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<Entry>>, ApiError> {
    caller.auditor()?;
    Ok(Json(
        audit::page(&s.store, q.after, q.limit.unwrap_or(100)).await?,
    ))
}

pub async fn audit_verify(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<audit::Verification>, ApiError> {
    caller.auditor()?;
    Ok(Json(audit::verify(&s.store).await?))
}
