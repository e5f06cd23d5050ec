//! `POST /policies/reload`: load the policy folder again (policies and NDA texts).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use crate::compliance::Reloaded;
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::ApiError;

pub async fn reload(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Reloaded>, ApiError> {
    let permit = caller.admin()?;
    Ok(Json(s.rules.reload(&permit).await?))
}
