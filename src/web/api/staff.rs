use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;

use super::parse;
use crate::directory::StaffInput;
use crate::domain::staff::{StaffMember, StaffStatus};
use crate::domain::{GroupName, Username};
use crate::offboarding::{OffboardAnswer, Receipt};
use crate::web::AppState;
use crate::web::answers::{
    Cancelled, OffboardAccepted, OffboardingInProgress, Reinstated, Revoked, Scheduled,
};
use crate::web::auth::Caller;
use crate::web::error::ApiError;
use crate::web::json::ApiJson;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutStaff {
    email: String,
    name: String,
    #[serde(default)]
    groups: Vec<String>,
    status: Option<String>,
}

#[utoipa::path(
    put,
    path = "/api/v1/staff/{username}",
    tag = "staff",
    params(("username" = String, Path, description = "the staff member")),
    request_body = PutStaff,
    responses((status = 200, body = StaffMember), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn put(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<PutStaff>,
) -> Result<Json<StaffMember>, ApiError> {
    let permit = caller.admin()?;
    let username = parse("username", Username::parse(&username))?;
    let groups = body
        .groups
        .iter()
        .map(|g| GroupName::parse(g))
        .collect::<Result<Vec<_>, _>>();
    let status = match body.status.as_deref() {
        None => StaffStatus::Active,
        Some(raw) => StaffStatus::parse(raw)
            .ok_or_else(|| ApiError::bad_request("status", "must be active or pending"))?,
    };
    let input = StaffInput {
        username,
        email: body.email,
        name: body.name,
        groups: parse("groups", groups)?,
        status,
    };
    Ok(Json(s.directory.put(&permit, input).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/staff/{username}",
    tag = "staff",
    params(("username" = String, Path, description = "the staff member")),
    responses((status = 200, body = StaffMember), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn get(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<Json<StaffMember>, ApiError> {
    caller.reader()?;
    let username = parse("username", Username::parse(&username))?;
    Ok(Json(s.directory.get(&username).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/staff",
    tag = "staff",
    responses((status = 200, body = Vec<StaffMember>), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn list(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<StaffMember>>, ApiError> {
    caller.reader()?;
    Ok(Json(s.directory.list().await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    reason: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OffboardBody {
    reason: String,
    /// RFC 3339 (`2026-12-31T18:00:00+03:00`): schedule instead of now.
    at: Option<String>,
    /// How long to wait for every live replica to confirm (`10s`; at most 60s).
    wait: Option<String>,
}

fn wait_for(raw: Option<&str>) -> Result<std::time::Duration, ApiError> {
    raw.map_or(Ok(std::time::Duration::ZERO), |raw| {
        parse("wait", humantime::parse_duration(raw))
    })
}

/// Offboards now (200 with the receipt), or at `at` (202 with the schedule).
#[utoipa::path(
    post,
    path = "/api/v1/staff/{username}/offboard",
    tag = "offboarding",
    params(("username" = String, Path, description = "the staff member")),
    request_body = OffboardBody,
    responses((status = 200, body = Receipt), (status = 202, description = "scheduled (with `at`), or still being written: poll the receipt", body = crate::web::answers::OffboardAccepted), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn offboard(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<OffboardBody>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let permit = caller.hr()?;
    let username = parse("username", Username::parse(&username))?;
    let wait = wait_for(body.wait.as_deref())?;
    if let Some(at) = body.at {
        let when = parse("at", chrono::DateTime::parse_from_rfc3339(&at))?;
        let millis = when.timestamp_millis();
        let id = s
            .offboarding
            .schedule(&permit, &username, millis, None, &body.reason)
            .await?;
        let answer = OffboardAccepted::Scheduled(Scheduled {
            scheduled: id,
            staff: username,
            at: when.to_utc(),
        });
        return Ok((axum::http::StatusCode::ACCEPTED, Json(answer)).into_response());
    }
    let answer = s
        .offboarding
        .offboard(&permit, &username, &body.reason, wait)
        .await?;
    Ok(match answer {
        OffboardAnswer::Done(receipt) => Json(receipt).into_response(),
        OffboardAnswer::InProgress => {
            let answer = OffboardAccepted::InProgress(OffboardingInProgress {
                state: "in_progress".into(),
                receipt: format!("/api/v1/staff/{username}/offboarding"),
                staff: username,
                message: "the offboarding is still being written (the database is slow); it will complete: poll the receipt".into(),
            });
            (axum::http::StatusCode::ACCEPTED, Json(answer)).into_response()
        }
    })
}

/// The receipt of an offboarded person: what a caller polls after a 202.
#[utoipa::path(
    get,
    path = "/api/v1/staff/{username}/offboarding",
    tag = "offboarding",
    params(("username" = String, Path, description = "the staff member")),
    responses((status = 200, body = Receipt), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn receipt(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<Json<Receipt>, ApiError> {
    caller.reader()?;
    let username = parse("username", Username::parse(&username))?;
    Ok(Json(s.offboarding.receipt(&username).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/offboardings/scheduled",
    tag = "offboarding",
    responses((status = 200, body = Vec<crate::store::schedule::ScheduledRow>), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn scheduled(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<crate::store::schedule::ScheduledRow>>, ApiError> {
    caller.reader()?;
    Ok(Json(s.offboarding.scheduled().await?))
}

#[utoipa::path(
    delete,
    path = "/api/v1/offboardings/scheduled/{id}",
    tag = "offboarding",
    params(("id" = i64, Path)),
    responses((status = 200, body = Cancelled), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn cancel_scheduled(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Cancelled>, ApiError> {
    let permit = caller.hr()?;
    let id: i64 = parse("id", id.parse::<i64>())?;
    s.offboarding.cancel_scheduled(&permit, id).await?;
    Ok(Json(Cancelled { cancelled: id }))
}

#[utoipa::path(
    post,
    path = "/api/v1/staff/{username}/reinstate",
    tag = "offboarding",
    params(("username" = String, Path, description = "the staff member")),
    request_body = Reason,
    responses((status = 200, body = Reinstated), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn reinstate(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Json<Reinstated>, ApiError> {
    let permit = caller.hr()?;
    let username = parse("username", Username::parse(&username))?;
    let status = s
        .offboarding
        .reinstate(&permit, &username, &body.reason)
        .await?;
    Ok(Json(Reinstated {
        staff: username,
        status,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/staff/{username}/activate",
    tag = "staff",
    params(("username" = String, Path, description = "the staff member")),
    request_body = Reason,
    responses((status = 200, body = StaffMember), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn activate(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Json<StaffMember>, ApiError> {
    let permit = caller.admin()?;
    let username = parse("username", Username::parse(&username))?;
    if body.reason.trim().is_empty() || body.reason.chars().count() > 500 {
        return Err(ApiError::bad_request("reason", "1–500 characters"));
    }
    Ok(Json(
        s.directory
            .activate(&permit, &username, &body.reason)
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/staff/{username}/revoke-tokens",
    tag = "tokens",
    params(("username" = String, Path, description = "the staff member")),
    request_body = Reason,
    responses((status = 200, body = Revoked), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn revoke_tokens(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Json<Revoked>, ApiError> {
    let permit = caller.hr()?;
    let username = parse("username", Username::parse(&username))?;
    let member = s.directory.get(&username).await?;
    let revoked = s
        .tokens
        .revoke_staff(&permit, &member, &body.reason)
        .await?;
    Ok(Json(Revoked { revoked }))
}
