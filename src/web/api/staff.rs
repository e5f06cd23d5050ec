use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::parse;
use crate::directory::StaffInput;
use crate::domain::staff::{StaffMember, StaffStatus};
use crate::domain::{GroupName, Username};
use crate::offboarding::Receipt;
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::ApiError;
use crate::web::json::ApiJson;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutStaff {
    email: String,
    name: String,
    #[serde(default)]
    groups: Vec<String>,
    status: Option<String>,
}

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
    Ok(Json(s.directory.put(&permit.actor, input).await?))
}

pub async fn get(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<Json<StaffMember>, ApiError> {
    caller.reader()?;
    let username = parse("username", Username::parse(&username))?;
    Ok(Json(s.directory.get(&username).await?))
}

pub async fn list(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<StaffMember>>, ApiError> {
    caller.reader()?;
    Ok(Json(s.directory.list().await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffboardBody {
    reason: String,
    /// RFC 3339 (`2026-12-31T18:00:00+03:00`): schedule instead of now.
    at: Option<String>,
    /// How long to wait for every live replica to confirm (`10s`; at most 60s).
    wait: Option<String>,
}

/// How long an offboarding request waits for its write before answering 202.
const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// The longest an offboarding answer waits for replicas.
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

fn wait_for(raw: Option<&str>) -> Result<std::time::Duration, ApiError> {
    let Some(raw) = raw else {
        return Ok(std::time::Duration::ZERO);
    };
    let d = parse("wait", humantime::parse_duration(raw))?;
    if d > MAX_WAIT {
        return Err(ApiError::bad_request("wait", "at most 60s"));
    }
    Ok(d)
}

/// Offboards now (200 with the receipt), or at `at` (202 with the schedule).
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
            .schedule(&permit, &username, millis, &body.reason)
            .await?;
        let answer = json!({ "scheduled": id, "staff": username, "at": when.to_utc() });
        return Ok((axum::http::StatusCode::ACCEPTED, Json(answer)).into_response());
    }
    // In a task of its own: a caller who hangs up (or a proxy that gives up) does not
    // cancel an offboarding half-way; past the limit the caller gets 202 and polls.
    let task = {
        let (s, username, reason) = (s.clone(), username.clone(), body.reason.clone());
        tokio::spawn(async move { s.offboarding.offboard(&permit, &username, &reason).await })
    };
    let mut receipt: Receipt = match tokio::time::timeout(ANSWER_WITHIN, task).await {
        Ok(Ok(done)) => done?,
        Ok(Err(join)) => {
            tracing::error!(error = %join, staff = %username, "the offboarding task failed");
            return Err(ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; see the daemon log",
            ));
        }
        Err(_) => {
            let answer = json!({
                "state": "in_progress",
                "staff": username,
                "receipt": format!("/api/v1/staff/{username}/offboarding"),
                "message": format!("the offboarding is still being written (the database is slow); it will complete: poll the receipt"),
            });
            return Ok((axum::http::StatusCode::ACCEPTED, Json(answer)).into_response());
        }
    };
    // This replica applied it before answering: acknowledge now rather than when its
    // follower sees its own entry.
    s.presence.acknowledge(&[receipt.audit_seq]).await;
    let committed = crate::domain::time::now_millis();
    receipt.propagation = Some(
        crate::replica::propagation::report(
            &s.store,
            receipt.audit_seq,
            committed,
            s.presence.freshness.bound(),
            wait,
        )
        .await?,
    );
    Ok(Json(receipt).into_response())
}

/// The receipt of an offboarded person: what a caller polls after a 202.
pub async fn receipt(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<Json<Receipt>, ApiError> {
    caller.reader()?;
    let username = parse("username", Username::parse(&username))?;
    Ok(Json(s.offboarding.receipt(&username).await?))
}

pub async fn scheduled(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.reader()?;
    Ok(Json(json!(s.offboarding.scheduled().await?)))
}

pub async fn cancel_scheduled(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let permit = caller.hr()?;
    let id: i64 = parse("id", id.parse::<i64>())?;
    s.offboarding.cancel_scheduled(&permit, id).await?;
    Ok(Json(json!({ "cancelled": id })))
}

pub async fn reinstate(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Json<Value>, ApiError> {
    let permit = caller.hr()?;
    let username = parse("username", Username::parse(&username))?;
    let status = s
        .offboarding
        .reinstate(&permit, &username, &body.reason)
        .await?;
    Ok(Json(
        json!({ "staff": username, "status": status.as_str() }),
    ))
}

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
            .activate(&permit.actor, &username, &body.reason)
            .await?,
    ))
}

pub async fn revoke_tokens(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Json<Value>, ApiError> {
    let permit = caller.hr()?;
    let username = parse("username", Username::parse(&username))?;
    let member = s.directory.get(&username).await?;
    let revoked = s
        .tokens
        .revoke_staff(&permit.actor, &member, &body.reason)
        .await?;
    Ok(Json(json!({ "revoked": revoked })))
}
