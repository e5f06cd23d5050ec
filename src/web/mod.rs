//! The HTTP edge: JSON API, broker endpoint, health. Handlers parse, check who asks, call one
//! service function and render.

pub mod answers;
mod api;
mod auth;
mod console;
pub mod error;
mod json;
mod pages;
mod scim;
pub mod session;

use crate::domain::ErrorCode;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};

use crate::broker::Broker;
use crate::channels::{Channels, Registry};
use crate::directory::Directory;
use crate::offboarding::Offboarding;
use crate::policy::Engine;
use crate::store::Store;
use crate::tokens::Tokens;
use error::ApiError;

/// What handlers reach: one service per area.
pub struct AppState {
    pub store: Store,
    pub directory: Directory,
    pub channels: Channels,
    pub tokens: Tokens,
    pub offboarding: Offboarding,
    pub broker: Broker,
    pub engine: Arc<Engine>,
    pub registry: Arc<Registry>,
    pub rules: crate::compliance::Rules,
    pub sync: Arc<crate::directory::sync::Syncer>,
    pub signin: crate::signin::Signin,
    pub compliance: Arc<crate::compliance::Compliance>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub presence: Arc<crate::replica::Presence>,
    /// The relay, when mail is configured.
    pub mail: Option<crate::mail::sender::Relay>,
    /// SCIM push sources.
    pub provisioning: crate::provisioning::Provisioning,
    /// Directory groups that give console roles.
    pub console: crate::config::console::ConsoleRoles,
    /// The broker's base URL as operators' tools reach it (for the token snippets).
    pub broker_url: String,
}

/// The daemon's routes; with `broker_apart`, the broker is left off (it answers 404
/// `broker_on_own_listener`) and returned as a router of its own, for `broker.listen`.
pub fn routers(state: Arc<AppState>, broker_apart: bool) -> (Router, Option<Router>) {
    let api = api::routes().layer(DefaultBodyLimit::max(1024 * 1024));
    let main = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .nest("/api/v1", api)
        .merge(pages::routes())
        .merge(console::routes())
        .merge(scim::routes())
        .fallback(pages::not_found);
    if !broker_apart {
        let main = main.route("/broker/{*path}", any(broker)).with_state(state);
        return (main, None);
    }
    let main = main
        .route("/broker/{*path}", any(broker_elsewhere))
        .with_state(state.clone());
    let broker = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/broker/{*path}", any(broker))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                "this listener serves only the broker (/broker/...)",
            )
        })
        .with_state(state);
    (main, Some(broker))
}

/// The whole daemon on one listener.
pub fn router(state: Arc<AppState>) -> Router {
    routers(state, false).0
}

async fn broker_elsewhere() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::BrokerOnOwnListener,
        "the broker is served on its own listener (broker.listen), not here",
    )
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if let Some(stale) = state
        .broker
        .freshness
        .stale_for(crate::domain::time::now_millis())
    {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ReplicaNotCurrent,
            format!(
                "this replica is not current: {stale} ms since it last caught up with the change log (after a stale spell it serves again once it has stayed caught up for replica.recover_after)"
            ),
        )
        .into_response();
    }
    if let Some((since, fault)) = state.offboarding.owed.oldest() {
        let for_ms = (crate::domain::time::now_millis() - since).max(0);
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            fault.code(),
            format!(
                "{} offboarding(s) could not be recorded yet (the oldest {for_ms} ms ago, {}); retrying",
                state.offboarding.owed.len(),
                fault.code()
            ),
        )
        .into_response();
    }
    if let Some((fault, since)) = state.store.write_health().failing() {
        let for_ms = (crate::domain::time::now_millis() - since).max(0);
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            fault.code(),
            format!(
                "this replica's writes have failed for {for_ms} ms ({}): offboardings and issuance cannot be recorded",
                fault.code()
            ),
        )
        .into_response();
    }
    match tokio::time::timeout(std::time::Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        _ => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::NotReady,
            "the database does not answer",
        )
        .into_response(),
    }
}

/// Prometheus metrics, for any API key (Prometheus sends it as a bearer token): channel names
/// are not for the open network.
async fn metrics(
    State(state): State<Arc<AppState>>,
    caller: auth::Caller,
) -> Result<Response, ApiError> {
    caller.reader()?;
    state
        .metrics
        .set_live_tokens(state.tokens.verifier.token_count());
    for s in state.sync.board.snapshot() {
        state
            .metrics
            .set_source(&s.source, s.connected, s.lag_ms, s.changes_applied);
        state.metrics.set_sync_progress(
            &s.source,
            s.running.as_ref().map(|r| (r.entries_read, r.applied)),
        );
    }
    for p in state.signin.oidc.status() {
        let age = |a: Option<u64>| a.map_or(-1, |s| s as i64);
        let values = [
            age(p.discovered_secs_ago),
            age(p.key_set_secs_ago),
            p.refreshed as i64,
            p.ended_at_refresh as i64,
            p.refresh_failed as i64,
            p.logouts as i64,
        ];
        state.metrics.set_provider(&p.source, values);
    }
    state.metrics.set_storage(
        state.store.write_health().failing().is_none(),
        state.offboarding.owed.len(),
    );
    let now = crate::domain::time::now_millis();
    if let Ok(head) = crate::audit::head(&state.store).await {
        state.metrics.set_replica(
            (head - state.presence.applied_seq()).max(0),
            now - state.presence.freshness.last_ok(),
        );
    }
    if state.mail.is_some()
        && let Ok(depth) = crate::mail::outbox(&state.store).await
    {
        state.metrics.set_outbox(depth.waiting);
    }
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response())
}

/// `/broker/{channel}/{rest}`: the raw path is used as sent, never decoded.
async fn broker(State(state): State<Arc<AppState>>, req: Request<Body>) -> Response {
    let raw = req
        .uri()
        .path()
        .strip_prefix("/broker/")
        .unwrap_or("")
        .to_owned();
    let (channel, rest) = raw.split_once('/').unwrap_or((raw.as_str(), ""));
    match state.broker.forward(channel, rest, req).await {
        Ok(response) => response,
        Err(e) => {
            state.broker.denied(channel, &e);
            let err = ApiError::from(e);
            // Looked up only on refusal: the accepted path reads the registry once.
            let telegram = state
                .registry
                .get_str(channel)
                .is_some_and(|c| c.spec.kind == crate::domain::channel::ChannelKind::Telegram);
            if telegram {
                // Telegram bot libraries read `ok`, `error_code` and `description`.
                let body = serde_json::json!({
                    "ok": false, "error_code": err.status.as_u16(),
                    "description": format!("{}: {}", err.code, err.message),
                    "error": { "code": err.code, "message": err.message },
                });
                (err.status, axum::Json(body)).into_response()
            } else {
                err.into_response()
            }
        }
    }
}
