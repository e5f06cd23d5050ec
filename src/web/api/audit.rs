//! `/audit`: the log, page by page, and the chain's verification.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use crate::audit;
use crate::domain::chain::Entry;
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::ApiError;
use crate::web::json::ApiQuery;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    params(AuditQuery),
    responses((status = 200, body = Vec<Entry>), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn audit(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Vec<Entry>>, ApiError> {
    caller.auditor()?;
    Ok(Json(
        audit::page(&s.store, q.after, q.limit.unwrap_or(100)).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/audit/verify",
    tag = "audit",
    responses((status = 200, body = crate::audit::Verification), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn audit_verify(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<audit::Verification>, ApiError> {
    caller.auditor()?;
    Ok(Json(audit::verify(&s.store).await?))
}
