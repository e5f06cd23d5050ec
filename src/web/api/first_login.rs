//! First login through the API: TOTP enrolment and verification, the NDA, and HR's report.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, header};
use serde::Deserialize;

use super::parse;
use crate::compliance::Report;
use crate::domain::Username;
use crate::signin::Enrolment;
use crate::web::AppState;
use crate::web::answers::{Acknowledged, NdaText, NdaToShow, RecoveryCodes, TotpReset, Verified};
use crate::web::auth::Caller;
use crate::web::error::ApiError;
use crate::web::json::{ApiJson, ApiQuery};
use crate::web::session::Staff;

#[utoipa::path(
    post,
    path = "/api/v1/me/totp/enrol",
    tag = "first login",
    responses((status = 200, body = Enrolment), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn enrol(
    State(s): State<Arc<AppState>>,
    Staff(me): Staff,
) -> Result<Json<Enrolment>, ApiError> {
    Ok(Json(s.signin.enrolment(&me).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    code: Option<String>,
    recovery_code: Option<String>,
}

fn short(field: &str, v: &str) -> Result<(), ApiError> {
    if v.len() > 64 {
        return Err(ApiError::bad_request(field, "at most 64 characters"));
    }
    Ok(())
}

#[utoipa::path(
    post,
    path = "/api/v1/me/totp/confirm",
    tag = "first login",
    request_body = CodeBody,
    responses((status = 200, body = RecoveryCodes), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn confirm(
    State(s): State<Arc<AppState>>,
    Staff(me): Staff,
    ApiJson(b): ApiJson<CodeBody>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let code = b
        .code
        .ok_or_else(|| ApiError::bad_request("code", "required"))?;
    short("code", &code)?;
    let codes = s.signin.confirm_enrolment(&me, &code).await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
        note: "shown once; keep them somewhere safe".into(),
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/me/totp/verify",
    tag = "first login",
    request_body = CodeBody,
    responses((status = 200, body = Verified), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn verify(
    State(s): State<Arc<AppState>>,
    Staff(me): Staff,
    ApiJson(b): ApiJson<CodeBody>,
) -> Result<Json<Verified>, ApiError> {
    match (b.code, b.recovery_code) {
        (Some(code), None) => {
            short("code", &code)?;
            s.signin.verify_code(&me, &code).await?;
            Ok(Json(Verified {
                verified: true,
                recovery_codes_left: None,
            }))
        }
        (None, Some(code)) => {
            short("recovery_code", &code)?;
            let left = s.signin.use_recovery_code(&me, &code).await?;
            Ok(Json(Verified {
                verified: true,
                recovery_codes_left: Some(left),
            }))
        }
        _ => Err(ApiError::bad_request("code", "give code or recovery_code")),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LangQuery {
    lang: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/me/nda",
    tag = "first login",
    params(LangQuery),
    responses((status = 200, body = NdaToShow), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn nda(
    State(s): State<Arc<AppState>>,
    Staff(me): Staff,
    ApiQuery(q): ApiQuery<LangQuery>,
) -> Result<Json<NdaToShow>, ApiError> {
    let set = s.compliance.nda();
    let now = crate::domain::time::now_millis();
    let Some(required) = set.required(now) else {
        return Ok(Json(NdaToShow {
            version: None,
            text: None,
        }));
    };
    let lang = q
        .lang
        .as_deref()
        .unwrap_or(crate::compliance::nda::DEFAULT_LANGUAGE);
    let text = set.text(&required.version, lang).unwrap_or(required);
    let facts = s.compliance.facts(&me.staff).await?;
    Ok(Json(NdaToShow {
        version: Some(text.version.clone()),
        text: Some(NdaText {
            title: text.title.clone(),
            effective: text.effective,
            language: text.language.clone(),
            sha256: text.sha256.clone(),
            text: text.body.clone(),
            acknowledged: set.satisfied(&facts.nda_acked, now),
        }),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    version: String,
    sha256: String,
    language: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/me/nda",
    tag = "first login",
    request_body = AckBody,
    responses((status = 200, body = Acknowledged), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn acknowledge(
    State(s): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Staff(me): Staff,
    ApiJson(b): ApiJson<AckBody>,
) -> Result<Json<Acknowledged>, ApiError> {
    for (field, v) in [
        ("version", &b.version),
        ("sha256", &b.sha256),
        ("language", &b.language),
    ] {
        if v.len() > 128 {
            return Err(ApiError::bad_request(field, "at most 128 characters"));
        }
    }
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    s.compliance
        .acknowledge(
            &me.staff,
            me.factor.is_some(),
            &b.version,
            &b.sha256,
            &b.language,
            &peer.ip().to_string(),
            agent,
        )
        .await?;
    let member = s
        .compliance
        .finish_first_login(&me.staff, me.factor.as_ref())
        .await?;
    Ok(Json(Acknowledged {
        acknowledged: b.version,
        status: member.status,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    reason: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/staff/{username}/totp/reset",
    tag = "staff",
    params(("username" = String, Path, description = "the staff member")),
    request_body = Reason,
    responses((status = 200, body = TotpReset), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn reset_totp(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(username): Path<String>,
    ApiJson(b): ApiJson<Reason>,
) -> Result<Json<TotpReset>, ApiError> {
    let permit = caller.admin()?;
    let username = parse("username", Username::parse(&username))?;
    if b.reason.trim().is_empty() || b.reason.chars().count() > 500 {
        return Err(ApiError::bad_request("reason", "1–500 characters"));
    }
    s.signin.reset_totp(&permit, &username, &b.reason).await?;
    Ok(Json(TotpReset {
        staff: username,
        totp: "reset; enrols again at next sign-in".into(),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    version: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/nda/acknowledgements",
    tag = "first login",
    params(VersionQuery),
    responses((status = 200, body = Report), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn report(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<VersionQuery>,
) -> Result<Json<Report>, ApiError> {
    caller.reader()?;
    Ok(Json(s.compliance.report(q.version.as_deref()).await?))
}
