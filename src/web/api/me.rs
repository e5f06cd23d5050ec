//! Staff self-service: sign in and out, who am I, my tokens.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::Deserialize;

use super::parse;
use super::tokens::parse_request;
use crate::audit::Actor;
use crate::channels::ChannelError;
use crate::compliance;
use crate::domain::ChannelId;
use crate::tokens::IssueRequest;
use crate::tokens::{Issued, TokenView};
use crate::web::AppState;
use crate::web::answers::{
    FirstLoginState, Me, MyChannel, MySessions, Revoked, SessionsEnded, SignedOut,
};
use crate::web::error::ApiError;
use crate::web::json::ApiJson;
use crate::web::session::{self, Staff};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: String,
    #[schema(value_type = String)]
    password: SecretString,
}

#[utoipa::path(
    post,
    path = "/api/v1/login",
    tag = "me",
    request_body = LoginBody,
    responses((status = 200, body = crate::signin::Opened), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn login(
    State(s): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    if b.username.len() > 256 {
        return Err(ApiError::bad_request("username", "at most 256 bytes"));
    }
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let opened = s
        .signin
        .login(&b.username, &b.password, &peer.ip().to_string(), agent)
        .await?;
    let cookie = session::set_cookie(
        secrecy::ExposeSecret::expose_secret(&opened.session),
        opened.ttl_secs,
        !s.signin.config.plain_http,
    );
    Ok(([(header::SET_COOKIE, cookie)], Json(opened)).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/logout",
    tag = "me",
    responses((status = 200, body = SignedOut), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn logout(
    State(s): State<Arc<AppState>>,
    Staff(me): Staff,
) -> Result<Response, ApiError> {
    s.signin.logout(&me).await?;
    Ok((
        [(
            header::SET_COOKIE,
            session::clear_cookie(!s.signin.config.plain_http),
        )],
        Json(SignedOut { signed_out: true }),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "me",
    responses((status = 200, body = Me), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn me(State(s): State<Arc<AppState>>, Staff(me): Staff) -> Result<Json<Me>, ApiError> {
    let facts = s.compliance.facts(&me.staff).await?;
    let set = s.compliance.nda();
    let now = crate::domain::time::now_millis();
    let channels = s
        .registry
        .reachable(&s.engine, &me.staff)
        .into_iter()
        .map(|r| MyChannel {
            channel: r.channel.spec.id.clone(),
            actions: r.reach.actions,
        })
        .collect();
    let first_login = FirstLoginState {
        totp_enrolled: facts.totp_enrolled,
        totp_verified_in_session: me.totp_verified(),
        second_factor: me.factor.as_ref().map(|f| f.label().to_owned()),
        nda_required: set.required(now).map(|t| t.version.clone()),
        nda_ok: set.satisfied(&facts.nda_acked, now),
        nda_acknowledged: facts.nda_acked,
    };
    Ok(Json(Me {
        session_expires_at: crate::domain::time::to_datetime(me.expires_at),
        staff: me.staff,
        channels,
        first_login,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MyIssueBody {
    channel: String,
    actions: Option<Vec<String>>,
    ttl: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/me/tokens",
    tag = "me",
    request_body = MyIssueBody,
    responses((status = 201, body = Issued), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn issue(
    State(s): State<Arc<AppState>>,
    Staff(me): Staff,
    ApiJson(b): ApiJson<MyIssueBody>,
) -> Result<(StatusCode, Json<Issued>), ApiError> {
    let channel_id = parse("channel", ChannelId::parse(&b.channel))?;
    let req = IssueRequest {
        session: Some(me.id),
        ..parse_request(b.actions, b.ttl)?
    };
    let channel = s
        .registry
        .get(&channel_id)
        .ok_or(ChannelError::NotFound(channel_id))?;
    let facts = s.compliance.facts(&me.staff).await?;
    let cleared = s.compliance.clear(&me.staff, &facts, me.requester())?;
    let actor = Actor(format!("staff:{}", me.staff.username));
    let issued = compliance::issue_token(&s.tokens, &actor, cleared, &channel, req).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

#[utoipa::path(
    get,
    path = "/api/v1/me/tokens",
    tag = "me",
    responses((status = 200, body = Vec<TokenView>), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn tokens(
    State(s): State<Arc<AppState>>,
    Staff(me): Staff,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    Ok(Json(
        s.tokens
            .list(Some(me.staff.username.as_str()), None)
            .await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/api/v1/me/tokens/{id}",
    tag = "me",
    params(("id" = i64, Path)),
    responses((status = 200, body = Revoked), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn revoke_token(
    State(s): State<Arc<AppState>>,
    Staff(me): Staff,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    let id: i64 = parse("id", id.parse::<i64>())?;
    let actor = Actor(format!("staff:{}", me.staff.username));
    let revoked = s.tokens.revoke_own(&actor, &me.staff, id).await?;
    Ok(Json(Revoked { revoked }))
}

#[utoipa::path(
    get,
    path = "/api/v1/me/sessions",
    tag = "me",
    responses((status = 200, body = MySessions), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn sessions(
    State(s): State<Arc<AppState>>,
    Staff(me): Staff,
) -> Result<Json<MySessions>, ApiError> {
    let list = s.signin.sessions(me.staff.id).await?;
    Ok(Json(MySessions {
        current: me.id,
        sessions: list,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/me/sessions/end-all",
    tag = "me",
    responses((status = 200, body = SessionsEnded), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn end_all(
    State(s): State<Arc<AppState>>,
    Staff(me): Staff,
) -> Result<Response, ApiError> {
    let ended = s.signin.logout_everywhere(&me).await?;
    Ok((
        [(
            header::SET_COOKIE,
            session::clear_cookie(!s.signin.config.plain_http),
        )],
        Json(SessionsEnded {
            sessions_ended: ended,
        }),
    )
        .into_response())
}
