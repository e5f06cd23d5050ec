//! `GET /offboardings`: every receipt, newest first (HR's, the directory's, a schedule's).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use crate::offboarding::Receipt;
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::ApiError;
use crate::web::json::ApiQuery;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only people whose username or name contains this.
    q: Option<String>,
    /// Receipts older than this one (its position in the list's order).
    before: Option<i64>,
    /// How many (default 50, at most 500).
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/offboardings",
    tag = "offboarding",
    params(ListQuery),
    responses((status = 200, body = Vec<Receipt>), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn list(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<Receipt>>, ApiError> {
    caller.reader()?;
    let text = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if text.is_some_and(|t| t.len() > 256) {
        return Err(ApiError::bad_request("q", "at most 256 characters"));
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let rows = crate::store::offboardings::page(s.store.pool(), text, q.before, limit).await?;
    let receipts = rows
        .into_iter()
        .map(|(_, json)| serde_json::from_str(&json))
        .collect::<Result<Vec<Receipt>, _>>()
        .map_err(|_| ApiError::from(crate::offboarding::OffboardError::ReceiptCorrupt))?;
    Ok(Json(receipts))
}
