//! `/scim`: the tokens SCIM sources' identity providers present (admin only; shown once).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::parse;
use crate::provisioning::NewToken;
use crate::store::scim::TokenView;
use crate::web::AppState;
use crate::web::answers::KeyRevoked;
use crate::web::auth::Caller;
use crate::web::error::ApiError;

#[utoipa::path(
    post,
    path = "/api/v1/scim/{source}/tokens",
    tag = "scim",
    params(("source" = String, Path, description = "a configured SCIM source")),
    responses((status = 201, body = NewToken), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn create(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(source): Path<String>,
) -> Result<(StatusCode, Json<NewToken>), ApiError> {
    let permit = caller.admin()?;
    let token = s.provisioning.create_token(permit.actor(), &source).await?;
    Ok((StatusCode::CREATED, Json(token)))
}

#[utoipa::path(
    get,
    path = "/api/v1/scim/tokens",
    tag = "scim",
    responses((status = 200, body = Vec<TokenView>), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn list(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    caller.admin()?;
    Ok(Json(s.provisioning.tokens().await?))
}

#[utoipa::path(
    delete,
    path = "/api/v1/scim/tokens/{id}",
    tag = "scim",
    params(("id" = i64, Path)),
    responses((status = 200, body = KeyRevoked), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn revoke(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<KeyRevoked>, ApiError> {
    let permit = caller.admin()?;
    let id: i64 = parse("id", id.parse::<i64>())?;
    s.provisioning.revoke_token(permit.actor(), id).await?;
    Ok(Json(KeyRevoked { revoked: true }))
}
