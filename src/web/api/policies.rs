//! `POST /policies/reload`: load the policy folder again (policies and NDA texts).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use crate::compliance::Reloaded;
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::ApiError;

#[utoipa::path(
    post,
    path = "/api/v1/policies/reload",
    tag = "policies",
    responses((status = 200, body = Reloaded), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn reload(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Reloaded>, ApiError> {
    let permit = caller.admin()?;
    Ok(Json(s.rules.reload(&permit).await?))
}
