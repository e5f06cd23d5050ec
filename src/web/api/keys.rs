//! `/keys`: API keys for automation (admin only).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::parse;
use crate::apikeys::{self, KeyView, NewKey};
use crate::domain::{Role, Username};
use crate::web::AppState;
use crate::web::answers::KeyRevoked;
use crate::web::auth::Caller;
use crate::web::error::ApiError;
use crate::web::json::ApiJson;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    name: String,
    role: String,
    staff: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/keys",
    tag = "keys",
    request_body = CreateKey,
    responses((status = 201, body = NewKey), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn create(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(b): ApiJson<CreateKey>,
) -> Result<(StatusCode, Json<NewKey>), ApiError> {
    let permit = caller.admin()?;
    let role = Role::parse(&b.role)
        .ok_or_else(|| ApiError::bad_request("role", "must be admin, hr or auditor"))?;
    let staff = match b.staff {
        Some(u) => Some(
            s.directory
                .get(&parse("staff", Username::parse(&u))?)
                .await?
                .id,
        ),
        None => None,
    };
    Ok((
        StatusCode::CREATED,
        Json(apikeys::create(&s.store, &permit, &b.name, role, staff).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/keys",
    tag = "keys",
    responses((status = 200, body = Vec<KeyView>), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn list(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<KeyView>>, ApiError> {
    caller.admin()?;
    Ok(Json(apikeys::list(&s.store).await?))
}

#[utoipa::path(
    delete,
    path = "/api/v1/keys/{id}",
    tag = "keys",
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
    apikeys::revoke(&s.store, &permit, id).await?;
    Ok(Json(KeyRevoked { revoked: true }))
}
