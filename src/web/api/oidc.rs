//! Sign-in with an identity provider for API clients: start (a URL for the person's browser
//! and a handle for the client), then trade handle and the code the browser showed for a
//! session.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::signin::Opened;
use crate::signin::oidc::ApiStarted;
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::json::ApiJson;

#[utoipa::path(
    post,
    path = "/api/v1/oidc/{source}/start",
    tag = "me",
    params(("source" = String, Path, description = "a configured OpenID Connect source")),
    responses((status = 200, body = ApiStarted), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn start(
    State(s): State<Arc<AppState>>,
    Path(source): Path<String>,
) -> Result<Json<ApiStarted>, ApiError> {
    Ok(Json(s.signin.oidc_start_api(&source).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PickupBody {
    /// The handle `start` answered.
    #[schema(value_type = String)]
    handle: SecretString,
    /// The code the browser showed after the sign-in (`ABCD-EFGH`).
    code: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/oidc/{source}/session",
    tag = "me",
    params(("source" = String, Path, description = "a configured OpenID Connect source")),
    request_body = PickupBody,
    responses((status = 200, body = Opened), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn session(
    State(s): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(source): Path<String>,
    ApiJson(b): ApiJson<PickupBody>,
) -> Result<Json<Opened>, ApiError> {
    if b.handle.expose_secret().len() > 128 {
        return Err(ApiError::bad_request("handle", "at most 128 bytes"));
    }
    if b.code.len() > 32 {
        return Err(ApiError::bad_request("code", "at most 32 bytes"));
    }
    let opened = s
        .signin
        .oidc_pickup(
            &source,
            b.handle.expose_secret(),
            &b.code,
            &peer.ip().to_string(),
        )
        .await?;
    Ok(Json(opened))
}
