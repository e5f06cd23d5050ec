//! `GET /access`: who can reach which channel, why, and when it was last used.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use crate::access::{self, AccessRow, Filter};
use crate::domain::{ChannelId, Username};
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::ApiError;
use crate::web::json::ApiQuery;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccessQuery {
    staff: Option<String>,
    channel: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/access",
    tag = "access",
    params(AccessQuery),
    responses((status = 200, body = Vec<AccessRow>), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn access(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AccessQuery>,
) -> Result<Json<Vec<AccessRow>>, ApiError> {
    caller.reader()?;
    let filter = Filter {
        staff: q
            .staff
            .as_deref()
            .map(Username::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request("staff", e))?,
        channel: q
            .channel
            .as_deref()
            .map(ChannelId::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request("channel", e))?,
    };
    Ok(Json(
        access::review(&s.store, &s.engine, &s.registry, &filter).await?,
    ))
}
