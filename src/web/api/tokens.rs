use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::parse;
use crate::channels::ChannelError;
use crate::compliance::{self, Requester};
use crate::domain::{Action, ActionSet, ChannelId, Username};
use crate::tokens::{IssueRequest, Issued, TokenView};
use crate::web::AppState;
use crate::web::answers::Revoked;
use crate::web::auth::Caller;
use crate::web::error::ApiError;
use crate::web::json::{ApiJson, ApiQuery};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueBody {
    staff: String,
    channel: String,
    actions: Option<Vec<String>>,
    /// `30m`, `2h`.
    ttl: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "tokens",
    request_body = IssueBody,
    responses((status = 201, body = Issued), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn issue(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(b): ApiJson<IssueBody>,
) -> Result<(StatusCode, Json<Issued>), ApiError> {
    let permit = caller.admin()?;
    let username = parse("staff", Username::parse(&b.staff))?;
    let channel_id = parse("channel", ChannelId::parse(&b.channel))?;
    let req = parse_request(b.actions, b.ttl)?;
    let staff = s.directory.get(&username).await?;
    let channel = s
        .registry
        .get(&channel_id)
        .ok_or(ChannelError::NotFound(channel_id))?;
    let facts = s.compliance.facts(&staff).await?;
    let cleared = s.compliance.clear(&staff, &facts, Requester::Admin)?;
    let issued = compliance::issue_token(&s.tokens, permit.actor(), cleared, &channel, req).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// Parses the optional action list and lifetime of an issue request.
pub fn parse_request(
    actions: Option<Vec<String>>,
    ttl: Option<String>,
) -> Result<IssueRequest, ApiError> {
    let actions = match actions {
        Some(list) if list.is_empty() => {
            return Err(ApiError::bad_request(
                "actions",
                "name at least one, or leave it out for everything policy permits",
            ));
        }
        Some(list) => {
            let parsed: Result<Vec<Action>, _> = list.iter().map(|a| Action::parse(a)).collect();
            Some(ActionSet::of(parse("actions", parsed)?))
        }
        None => None,
    };
    let ttl = ttl
        .as_deref()
        .map(humantime::parse_duration)
        .transpose()
        .map_err(|e| ApiError::bad_request("ttl", e))?;
    if ttl.is_some_and(|t| t.is_zero()) {
        return Err(ApiError::bad_request("ttl", "must be greater than zero"));
    }
    Ok(IssueRequest {
        actions,
        ttl,
        session: None,
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    staff: Option<String>,
    channel: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "tokens",
    params(ListQuery),
    responses((status = 200, body = Vec<TokenView>), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn list(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    caller.reader()?;
    Ok(Json(
        s.tokens
            .list(q.staff.as_deref(), q.channel.as_deref())
            .await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    tag = "tokens",
    params(("id" = i64, Path)),
    responses((status = 200, body = Revoked), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn revoke(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    let permit = caller.admin()?;
    let id: i64 = parse("id", id.parse::<i64>())?;
    let revoked = s.tokens.revoke_one(&permit, id, "revoked by admin").await?;
    Ok(Json(Revoked { revoked }))
}
