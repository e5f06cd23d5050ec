use std::sync::Arc;

use crate::domain::ErrorCode;
use axum::Json;
use axum::extract::{Path, State};
use secrecy::SecretString;
use serde::Deserialize;

use super::parse;
use crate::channels::ChannelView;
use crate::domain::ChannelId;
use crate::domain::channel::{ChannelInput, ChannelSpec};
use crate::web::AppState;
use crate::web::answers::{Revoked, SecretSet};
use crate::web::auth::Caller;
use crate::web::error::ApiError;
use crate::web::json::ApiJson;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutChannel {
    /// May be left out when `preset` names the API.
    kind: Option<String>,
    preset: Option<String>,
    upstream: String,
    header: Option<String>,
    param: Option<String>,
    #[serde(default)]
    rules: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    insecure_upstream: bool,
}

#[utoipa::path(
    put,
    path = "/api/v1/channels/{id}",
    tag = "channels",
    params(("id" = String, Path, description = "the channel id")),
    request_body = PutChannel,
    responses((status = 200, body = ChannelView), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn put(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PutChannel>,
) -> Result<Json<ChannelView>, ApiError> {
    let permit = caller.admin()?;
    let id = parse("id", ChannelId::parse(&id))?;
    let spec = ChannelSpec::parse(
        id,
        ChannelInput {
            kind: b.kind.as_deref(),
            preset: b.preset.as_deref(),
            header: b.header.as_deref(),
            param: b.param.as_deref(),
            upstream: &b.upstream,
            rules: &b.rules,
            tags: &b.tags,
            insecure_upstream: b.insecure_upstream,
        },
    )
    .map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            ErrorCode::InvalidInput,
            e.to_string(),
        )
    })?;
    Ok(Json(s.channels.upsert(&permit, spec).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/channels/{id}",
    tag = "channels",
    params(("id" = String, Path, description = "the channel id")),
    responses((status = 200, body = ChannelView), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn get(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ChannelView>, ApiError> {
    caller.reader()?;
    let id = parse("id", ChannelId::parse(&id))?;
    Ok(Json(s.channels.get(&id).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/channels",
    tag = "channels",
    responses((status = 200, body = Vec<ChannelView>), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn list(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<ChannelView>>, ApiError> {
    caller.reader()?;
    Ok(Json(s.channels.list().await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSecret {
    #[schema(value_type = String)]
    secret: SecretString,
}

#[utoipa::path(
    put,
    path = "/api/v1/channels/{id}/secret",
    tag = "channels",
    params(("id" = String, Path, description = "the channel id")),
    request_body = SetSecret,
    responses((status = 200, body = SecretSet), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn set_secret(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<SetSecret>,
) -> Result<Json<SecretSet>, ApiError> {
    let permit = caller.admin()?;
    let id = parse("id", ChannelId::parse(&id))?;
    s.channels.set_secret(&permit, &id, b.secret).await?;
    Ok(Json(SecretSet {
        channel: id,
        secret_set: true,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    reason: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/channels/{id}/revoke-tokens",
    tag = "channels",
    params(("id" = String, Path, description = "the channel id")),
    request_body = Reason,
    responses((status = 200, body = Revoked), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn revoke_tokens(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<Reason>,
) -> Result<Json<Revoked>, ApiError> {
    let permit = caller.admin()?;
    let id = parse("id", ChannelId::parse(&id))?;
    s.channels.get(&id).await?;
    let revoked = s.tokens.revoke_channel(&permit, &id, &b.reason).await?;
    Ok(Json(Revoked { revoked }))
}
